// Mail structure with line positions: headers (folding, RFC 2047 words), MIME parts and their
// transfer encodings, decoded to text lines that each remember the raw input line they came from.
// The decoding primitives are libraries (postal-mime's decodeWords, libqp, Buffer's base64,
// TextDecoder for charsets); none of the mail parsers keep input positions, so the walk over
// lines is ours.
//
// Raw lines are "byte strings": one char per input byte (latin1), so that a charset can be
// applied per part after the transfer encoding is undone.
import { decodeWords } from 'postal-mime';
import { decode as decodeQuotedPrintable } from 'libqp';
import { TextDecoder } from 'node:util';
import type { PatchProblem } from './types';

/** A line of decoded text and the 0-based input line it starts on. */
export interface TextLine {
  text: string;
  docLine: number;
}

export interface MailHeader {
  /** Lower-case field name. */
  name: string;
  /** Unfolded value, RFC 2047 words decoded. */
  value: string;
  line: number;
}

export interface HeaderBlock {
  headers: MailHeader[];
  /** Index of the first body line (after the blank line), or `end` when there is none. */
  bodyStart: number;
  /** False when the input ended before the blank line that closes the headers. */
  complete: boolean;
}

/** A text part of a mail that may carry a diff or the message. */
export interface TextPart {
  mediaType: string;
  isAttachment: boolean;
  lines: TextLine[];
}

/** How text bytes become characters for one mail. */
export interface DecodeContext {
  /** The input was a string (already decoded by the editor): 8bit parts are its UTF-8 re-encoding. */
  fromString: boolean;
  problems: PatchProblem[];
  /** Set once a part had bytes its charset could not decode (one warning per mail). */
  badBytesReported?: boolean;
}

const HEADER_NAME = /^[!-9;-~]+:/;
const MAX_PART_DEPTH = 8;

export function looksLikeHeader(line: string): boolean {
  return HEADER_NAME.test(line);
}

/** Reads the header block that starts at `start`, unfolding continuation lines. */
export function readHeaders(lines: string[], start: number, end: number): HeaderBlock {
  const headers: MailHeader[] = [];
  let current: { name: string; raw: string; line: number } | undefined;
  const flush = () => {
    if (current) headers.push({ name: current.name, value: decodeHeaderValue(current.raw), line: current.line });
    current = undefined;
  };
  for (let i = start; i < end; i++) {
    const line = lines[i];
    if (line.trim().length === 0) {
      flush();
      return { headers, bodyStart: i + 1, complete: true };
    }
    if ((line[0] === ' ' || line[0] === '\t') && current) {
      // Unfolding: the line break goes, one space stands for the folding whitespace.
      current.raw = current.raw.trimEnd() + ' ' + line.trimStart();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0 || !HEADER_NAME.test(line)) {
      // Not a header: the body started without a blank line (seen in hand-made mails).
      flush();
      return { headers, bodyStart: i, complete: true };
    }
    flush();
    current = { name: line.slice(0, colon).trim().toLowerCase(), raw: line.slice(colon + 1).trim(), line: i };
  }
  flush();
  return { headers, bodyStart: end, complete: false };
}

export function headerValue(headers: MailHeader[], name: string): string | undefined {
  return headers.find((header) => header.name === name)?.value;
}

/** Header bytes are meant to be ASCII; raw UTF-8 is common, anything else is taken as latin1. */
function decodeHeaderValue(raw: string): string {
  const text = isAscii(raw) ? raw : decodeBytes(raw, 'utf-8', true) ?? raw;
  return text.includes('=?') ? decodeWords(text) : text;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

export interface ContentType {
  mediaType: string;
  params: Map<string, string>;
}

/** `type/subtype; name=value; name="quoted"` (RFC 2045). Missing or broken: text/plain. */
export function parseContentType(value: string | undefined): ContentType {
  const { head, params } = parseParameterized(value ?? '');
  const mediaType = head.toLowerCase();
  return { mediaType: mediaType.includes('/') ? mediaType : 'text/plain', params };
}

/** A header value with `; name=value` parameters (Content-Type, Content-Disposition). */
export function parseParameterized(value: string): { head: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  const [head, ...rest] = splitParams(value);
  for (const item of rest) {
    const eq = item.indexOf('=');
    if (eq <= 0) continue;
    let name = item.slice(0, eq).trim().toLowerCase();
    let paramValue = item.slice(eq + 1).trim();
    if (paramValue.startsWith('"') && paramValue.endsWith('"') && paramValue.length >= 2) paramValue = paramValue.slice(1, -1).replace(/\\(.)/g, '$1');
    // RFC 2231 `filename*=utf-8''x.patch`: the name is what matters here, not its charset.
    if (name.endsWith('*')) {
      name = name.slice(0, -1);
      const quote = paramValue.indexOf("''");
      if (quote >= 0) paramValue = safeDecodeURIComponent(paramValue.slice(quote + 2));
    }
    if (!params.has(name)) params.set(name, paramValue);
  }
  return { head: head.trim(), params };
}

function safeDecodeURIComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Splits on `;` outside double quotes. */
function splitParams(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ';' && !quoted) {
      out.push(value.slice(start, i));
      start = i + 1;
    }
  }
  out.push(value.slice(start));
  return out;
}

const PATCH_MEDIA_TYPES = new Set(['text/x-patch', 'text/x-diff', 'text/x-patch-file', 'text/patch', 'text/diff', 'application/x-patch', 'application/x-diff']);

function isPatchFileName(name: string | undefined): boolean {
  return !!name && /\.(patch|diff)$/i.test(name);
}

/**
 * The text parts of the entity whose headers are `headers` and whose body is lines[bodyStart, end):
 * text/plain, and patch attachments (text/x-patch, text/x-diff, or any part named *.patch / *.diff).
 * Multipart entities are walked in order; HTML and other parts are skipped.
 */
export function textPartsOf(lines: string[], headers: MailHeader[], bodyStart: number, end: number, context: DecodeContext, depth = 0): TextPart[] {
  const contentType = parseContentType(headerValue(headers, 'content-type'));
  const disposition = parseParameterized(headerValue(headers, 'content-disposition') ?? '');
  const isAttachment = disposition.head.toLowerCase() === 'attachment';
  const fileName = disposition.params.get('filename') ?? contentType.params.get('name');
  const { mediaType } = contentType;
  // Problems of the part point at its Content-Type line.
  const headerLine = (headers.find((header) => header.name === 'content-type') ?? headers[0])?.line ?? bodyStart;

  if (mediaType.startsWith('multipart/')) {
    const boundary = contentType.params.get('boundary');
    if (!boundary) {
      context.problems.push({ line: headerLine, severity: 'warning', message: `${mediaType} part without a boundary: read as plain text` });
      return [{ mediaType: 'text/plain', isAttachment: false, lines: decodeBody(lines, bodyStart, end, '', contentType, context) }];
    }
    if (depth >= MAX_PART_DEPTH) {
      context.problems.push({ line: headerLine, severity: 'warning', message: `MIME parts nested more than ${MAX_PART_DEPTH} deep are not read` });
      return [];
    }
    const parts: TextPart[] = [];
    const alternatives = mediaType === 'multipart/alternative';
    for (const range of multipartRanges(lines, bodyStart, end, boundary, headerLine, context)) {
      const block = readHeaders(lines, range.start, range.end);
      const found = textPartsOf(lines, block.headers, block.complete ? block.bodyStart : range.start, range.end, context, depth + 1);
      parts.push(...found);
      // Of alternatives, the first plain text one is the message.
      if (alternatives && found.length) break;
    }
    return parts;
  }

  const isText = mediaType === 'text/plain' || PATCH_MEDIA_TYPES.has(mediaType) || isPatchFileName(fileName);
  if (!isText) return [];
  const encoding = (headerValue(headers, 'content-transfer-encoding') ?? '').trim().toLowerCase();
  return [{ mediaType, isAttachment: isAttachment || PATCH_MEDIA_TYPES.has(mediaType), lines: decodeBody(lines, bodyStart, end, encoding, contentType, context) }];
}

/** The line ranges between `--boundary` lines (RFC 2046), preamble and epilogue left out. */
function multipartRanges(lines: string[], start: number, end: number, boundary: string, headerLine: number, context: DecodeContext): { start: number; end: number }[] {
  const open = '--' + boundary;
  const close = open + '--';
  const ranges: { start: number; end: number }[] = [];
  let partStart = -1;
  for (let i = start; i < end; i++) {
    const line = lines[i];
    if (!line.startsWith(open)) continue;
    const trimmed = line.trimEnd();
    if (trimmed === close) {
      if (partStart >= 0) ranges.push({ start: partStart, end: i });
      return ranges;
    }
    if (trimmed === open) {
      if (partStart >= 0) ranges.push({ start: partStart, end: i });
      partStart = i + 1;
    }
  }
  if (partStart >= 0) ranges.push({ start: partStart, end });
  context.problems.push({ line: headerLine, severity: 'warning', message: `multipart body is not closed by "${close}": the mail may be cut short` });
  return ranges;
}

/** Undoes the transfer encoding and the charset of lines[start, end). */
export function decodeBody(lines: string[], start: number, end: number, encoding: string, contentType: ContentType, context: DecodeContext): TextLine[] {
  const declared = contentType.params.get('charset')?.trim().toLowerCase() || 'us-ascii';
  const charset = charsetOrReport(declared, start, context);
  if (encoding === 'quoted-printable') return decodeQuotedPrintableLines(lines, start, end, charset, context);
  if (encoding === 'base64') return decodeBase64Lines(lines, start, end, charset, context);
  if (encoding && !['7bit', '8bit', 'binary'].includes(encoding)) {
    context.problems.push({ line: Math.max(0, start - 1), severity: 'warning', message: `unknown Content-Transfer-Encoding "${encoding}": read as 8bit` });
  }
  // A string input was decoded by the editor already; we only re-encoded it as UTF-8.
  const rawCharset = context.fromString ? 'utf-8' : charset;
  const out: TextLine[] = new Array(Math.max(0, end - start));
  for (let i = start; i < end; i++) out[i - start] = { text: decodeLine(lines[i], rawCharset, i, context), docLine: i };
  return out;
}

/** Soft line breaks (`=` at the end) join raw lines; the logical line starts on the first of them. */
function decodeQuotedPrintableLines(lines: string[], start: number, end: number, charset: string, context: DecodeContext): TextLine[] {
  const out: TextLine[] = [];
  let i = start;
  while (i < end) {
    const first = i;
    let logical = '';
    for (;;) {
      const line = lines[i].trimEnd();
      i++;
      if (line.endsWith('=') && i < end) {
        logical += line.slice(0, -1);
        continue;
      }
      logical += line.endsWith('=') ? line.slice(0, -1) : line;
      break;
    }
    const bytes = decodeQuotedPrintable(logical);
    pushByteLines(bytes, charset, first, () => first, out, context);
  }
  return out;
}

/** Base64 is decoded whole; a decoded line is placed on the raw line holding its first byte. */
function decodeBase64Lines(lines: string[], start: number, end: number, charset: string, context: DecodeContext): TextLine[] {
  const cleaned: string[] = [];
  // charsBefore[k]: base64 characters in the lines before start + k.
  const charsBefore = new Array<number>(end - start + 1);
  let total = 0;
  for (let i = start; i < end; i++) {
    const clean = lines[i].replace(/[^A-Za-z0-9+/=]+/g, '');
    charsBefore[i - start] = total;
    cleaned.push(clean);
    total += clean.length;
  }
  charsBefore[end - start] = total;
  const bytes = Buffer.from(cleaned.join(''), 'base64');
  let k = 0;
  const lineOfByte = (offset: number) => {
    const charIndex = Math.floor((offset * 4) / 3);
    while (k + 1 < end - start && charsBefore[k + 1] <= charIndex) k++;
    return start + k;
  };
  const out: TextLine[] = [];
  pushByteLines(bytes, charset, start, lineOfByte, out, context);
  return out;
}

/** Splits decoded bytes on LF, CRLF or CR and decodes each line in `charset`. */
function pushByteLines(bytes: Uint8Array, charset: string, fallbackLine: number, lineOfByte: (offset: number) => number, out: TextLine[], context: DecodeContext): void {
  let lineStart = 0;
  const n = bytes.length;
  const emit = (from: number, to: number) => {
    const docLine = lineOfByte(from);
    out.push({ text: decodeByteRange(bytes.subarray(from, to), charset, docLine, context), docLine });
  };
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b !== 0x0a && b !== 0x0d) continue;
    emit(lineStart, i);
    if (b === 0x0d && bytes[i + 1] === 0x0a) i++;
    lineStart = i + 1;
  }
  // Text after the last line break; a trailing break ends the last line and adds none.
  if (lineStart < n || n === 0) {
    if (n === 0) out.push({ text: '', docLine: fallbackLine });
    else emit(lineStart, n);
  }
}

const decoders = new Map<string, TextDecoder | undefined>();

function decoderFor(charset: string, fatal: boolean): TextDecoder | undefined {
  const key = `${fatal ? 'f' : 'r'}:${charset}`;
  if (!decoders.has(key)) {
    let decoder: TextDecoder | undefined;
    try {
      decoder = new TextDecoder(charset, { fatal });
    } catch {
      decoder = undefined;
    }
    decoders.set(key, decoder);
  }
  return decoders.get(key);
}

/** The charset if TextDecoder knows it; otherwise UTF-8, with a warning. */
function charsetOrReport(charset: string, line: number, context: DecodeContext): string {
  const known = charset === 'us-ascii' || charset === 'ascii' ? 'utf-8' : charset;
  if (decoderFor(known, false)) return known;
  context.problems.push({ line: Math.max(0, line - 1), severity: 'warning', message: `unknown charset "${charset}": read as UTF-8` });
  return 'utf-8';
}

/** Decodes a byte string; undefined when `strict` and the bytes are not valid in the charset. */
function decodeBytes(raw: string, charset: string, strict: boolean): string | undefined {
  const bytes = Buffer.from(raw, 'latin1');
  try {
    return decoderFor(charset, true)!.decode(bytes);
  } catch {
    return strict ? undefined : decoderFor(charset, false)!.decode(bytes);
  }
}

function decodeLine(raw: string, charset: string, line: number, context: DecodeContext): string {
  if (isAscii(raw)) return raw;
  return decodeByteRange(Buffer.from(raw, 'latin1'), charset, line, context);
}

function decodeByteRange(bytes: Uint8Array, charset: string, line: number, context: DecodeContext): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] > 0x7f) { ascii = false; break; }
  if (ascii) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  try {
    return decoderFor(charset, true)!.decode(bytes);
  } catch {
    if (!context.badBytesReported) {
      context.badBytesReported = true;
      context.problems.push({ line, severity: 'warning', message: `bytes that are not valid ${charset} were replaced with U+FFFD (first on this line)` });
    }
    return decoderFor(charset, false)!.decode(bytes);
  }
}

/** Decodes a raw byte-string line as UTF-8 (input that is not a mail: a bare diff). */
export function decodeUtf8Line(raw: string, line: number, context: DecodeContext): string {
  return decodeLine(raw, 'utf-8', line, context);
}
