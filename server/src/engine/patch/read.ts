// The patch reader: input bytes (an mbox, one mail, or a bare diff) to PatchInput, every line
// keeping its 0-based position in the input document. It never throws and its work is linear in
// the input: a line is looked at a bounded number of times, and no regex can backtrack.
import type { PatchInput, PatchMail, PatchProblem, SubjectTag } from './types';
import { parseDiff } from './diff';
import { type DecodeContext, type MailHeader, type TextLine, decodeUtf8Line, headerValue, looksLikeHeader, readHeaders, textPartsOf } from './mime';

export interface ReadPatchOptions {
  /** Inputs larger than this many bytes are refused with a problem (default 64 MiB). */
  maxBytes?: number;
}

export const DEFAULT_MAX_PATCH_BYTES = 64 * 1024 * 1024;

/**
 * An mbox separator: `From <sender> <asctime date>` (format-patch writes
 * `From <sha> Mon Sep 17 00:00:00 2001`, b4 `From git@z Thu Jan  1 00:00:00 1970`). The date is
 * required so a commit message line starting with "From " does not split a mail.
 */
const MBOX_SEPARATOR = /^From \S+ +[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{1,2}:\d\d/;
const MAIL_HEADERS = new Set(['from', 'subject', 'date', 'message-id', 'to', 'received', 'return-path', 'mime-version', 'content-type', 'in-reply-to', 'references']);

export function readPatchInput(input: Uint8Array | string, options: ReadPatchOptions = {}): PatchInput {
  try {
    return read(input, options);
  } catch (error) {
    // A bug of ours must not take the editor down with it.
    return { kind: 'diff', mails: [], problems: [{ line: 0, severity: 'error', message: `the patch could not be read: ${(error as Error)?.message ?? error}` }] };
  }
}

function read(input: Uint8Array | string, options: ReadPatchOptions): PatchInput {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_PATCH_BYTES;
  const fromString = typeof input === 'string';
  // A string's UTF-8 size is at least its length: refuse before encoding a huge one.
  if (fromString && input.length > maxBytes) return refused(input.length, maxBytes);
  const bytes = fromString ? Buffer.from(input, 'utf8') : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length > maxBytes) return refused(bytes.length, maxBytes);
  if (isBlank(bytes)) return { kind: 'diff', mails: [], problems: [{ line: 0, severity: 'error', message: 'the input is empty' }] };
  if (looksBinary(bytes)) {
    return { kind: 'diff', mails: [], problems: [{ line: 0, severity: 'error', message: 'the input is a binary file (it has NUL bytes), not a patch or a mail' }] };
  }
  const lines = splitLines(bytes.toString('latin1'));
  const firstLine = lines.findIndex((line) => line.trim().length > 0);
  if (MBOX_SEPARATOR.test(lines[firstLine])) return readMbox(lines, firstLine, fromString);
  if (isMailStart(lines, firstLine)) {
    return { kind: 'mail', mails: [readMail(lines, firstLine, lines.length, 0, false, fromString)], problems: [] };
  }
  return { kind: 'diff', mails: [readBareDiff(lines, fromString)], problems: [] };
}

function refused(size: number, maxBytes: number): PatchInput {
  const show = (n: number) => (n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : `${n} bytes`);
  return { kind: 'diff', mails: [], problems: [{ line: 0, severity: 'error', message: `the input is ${show(size)}, more than the ${show(maxBytes)} this reader accepts (maxBytes): not read` }] };
}

function isBlank(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
  }
  return true;
}

/**
 * NUL bytes in the first 64 KiB, more than the few a hostile path can carry (a NUL in a path is
 * a refused file patch, reported on its line): more than 8, or at least a tenth of the sample.
 */
function looksBinary(bytes: Uint8Array): boolean {
  const sample = Math.min(bytes.length, 64 * 1024);
  let nuls = 0;
  for (let i = 0; i < sample; i++) if (bytes[i] === 0) nuls++;
  return nuls > 8 || (nuls > 0 && nuls * 10 >= sample);
}

/** Lines ended by LF, CRLF or a lone CR (as editors count them); no empty line after a final break. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** A header block whose fields include at least one that mails have. */
function isMailStart(lines: string[], start: number): boolean {
  if (!looksLikeHeader(lines[start])) return false;
  for (let i = start; i < lines.length && i < start + 200; i++) {
    const line = lines[i];
    if (line.trim().length === 0) return false;
    if (line[0] === ' ' || line[0] === '\t') continue;
    if (!looksLikeHeader(line)) return false;
    if (MAIL_HEADERS.has(line.slice(0, line.indexOf(':')).toLowerCase())) return true;
  }
  return false;
}

function readMbox(lines: string[], first: number, fromString: boolean): PatchInput {
  const starts: number[] = [];
  for (let i = first; i < lines.length; i++) if (lines[i].startsWith('From ') && MBOX_SEPARATOR.test(lines[i])) starts.push(i);
  const mails: PatchMail[] = [];
  for (let k = 0; k < starts.length; k++) {
    mails.push(readMail(lines, starts[k], k + 1 < starts.length ? starts[k + 1] : lines.length, k, true, fromString));
  }
  markCovers(mails);
  return { kind: 'mbox', mails, problems: [] };
}

/** A series' mails without a diff before its first patch are its cover letter(s). */
function markCovers(mails: PatchMail[]): void {
  const firstPatch = mails.findIndex((mail) => mail.files.length > 0);
  for (const mail of mails) {
    if (mail.isCover) continue;
    if (firstPatch > 0 && mail.index < firstPatch && mail.files.length === 0 && !isReply(mail.subject)) mail.isCover = true;
  }
}

function isReply(subject: string): boolean {
  return /^\s*re\s*:/i.test(subject);
}

/** One mail in lines[start, end): its `From ` line if any, headers, then the MIME body. */
function readMail(lines: string[], start: number, end: number, index: number, inMbox: boolean, fromString: boolean): PatchMail {
  const problems: PatchProblem[] = [];
  const context: DecodeContext = { fromString, problems };
  const headerStart = inMbox ? start + 1 : start;
  // Trailing blank lines belong to the separator, not to the mail.
  let last = end;
  while (last > headerStart && lines[last - 1].trim().length === 0) last--;
  const block = readHeaders(lines, headerStart, last);
  if (inMbox) unescapeMboxrd(lines, block.bodyStart, last);
  const { headers } = block;
  if (!block.complete) {
    problems.push({ line: Math.max(headerStart, last - 1), severity: 'warning', message: 'the mail ends inside its headers: it has no body' });
  } else if (headers.length === 0) {
    problems.push({ line: headerStart, severity: 'warning', message: 'the mail has no headers' });
  }
  const parts = block.complete ? textPartsOf(lines, headers, block.bodyStart, last, context) : [];
  const files = [];
  for (const part of parts) {
    const diff = parseDiff(part.lines);
    files.push(...diff.files);
    problems.push(...diff.problems);
  }
  const inline = parts.filter((part) => !part.isAttachment);
  const bodyParts = inline.length ? inline : parts;
  const body: TextLine[] = bodyParts.length === 1 ? bodyParts[0].lines : bodyParts.flatMap((part) => part.lines);
  const subject = headerValue(headers, 'subject') ?? '';
  const { title, tag } = parseSubject(subject);
  const mail: PatchMail = { index, subject, title, references: messageIds(headerValue(headers, 'references') ?? ''), isCover: tag?.number === 0, startLine: start, endLine: end, body, files, problems };
  if (tag) mail.tag = tag;
  const from = headerValue(headers, 'from');
  if (from !== undefined) mail.from = from;
  const date = headerValue(headers, 'date');
  if (date !== undefined) mail.date = date;
  const messageId = firstMessageId(headers, 'message-id');
  if (messageId !== undefined) mail.messageId = messageId;
  const inReplyTo = firstMessageId(headers, 'in-reply-to');
  if (inReplyTo !== undefined) mail.inReplyTo = inReplyTo;
  return mail;
}

/** mboxrd: a body line `>From ` (any number of `>`) was escaped by adding one `>`. */
function unescapeMboxrd(lines: string[], start: number, end: number): void {
  for (let i = start; i < end; i++) {
    const line = lines[i];
    if (line[0] !== '>') continue;
    let k = 0;
    while (line[k] === '>') k++;
    if (line.startsWith('From ', k)) lines[i] = line.slice(1);
  }
}

/** The whole input as one mail without headers. */
function readBareDiff(lines: string[], fromString: boolean): PatchMail {
  const problems: PatchProblem[] = [];
  const context: DecodeContext = { fromString, problems };
  const body = lines.map((line, i) => ({ text: decodeUtf8Line(line, i, context), docLine: i }));
  const diff = parseDiff(body);
  problems.push(...diff.problems);
  if (diff.files.length === 0 && diff.problems.length === 0) {
    problems.push({ line: 0, severity: 'warning', message: 'no diff found in the input (no "diff --git" or "---"/"+++" file header)' });
  }
  return { index: 0, subject: '', title: '', references: [], isCover: false, startLine: 0, endLine: lines.length, body, files: diff.files, problems };
}

function messageIds(value: string): string[] {
  const ids: string[] = [];
  for (const match of value.matchAll(/<([^<>\s]+)>/g)) ids.push(match[1]);
  return ids;
}

function firstMessageId(headers: MailHeader[], name: string): string | undefined {
  const value = headerValue(headers, name);
  if (value === undefined) return undefined;
  return messageIds(value)[0] ?? (value.trim() || undefined);
}

/**
 * `Re: [PATCH net-next v2 1/2] title` -> title and tag. The tag is the first bracket group
 * that names PATCH or RFC, else the first group; every leading group and `Re:` is left out of the title.
 */
export function parseSubject(subject: string): { title: string; tag?: SubjectTag } {
  let rest = subject;
  const groups: string[] = [];
  for (;;) {
    const trimmed = rest.trimStart();
    const reply = /^(re|fwd?|aw|sv)\s*:/i.exec(trimmed);
    if (reply) {
      rest = trimmed.slice(reply[0].length);
      continue;
    }
    if (trimmed.startsWith('[')) {
      const close = trimmed.indexOf(']');
      if (close > 0) {
        groups.push(trimmed.slice(1, close).trim());
        rest = trimmed.slice(close + 1);
        continue;
      }
    }
    rest = trimmed;
    break;
  }
  const raw = groups.find((group) => /\b(PATCH|RFC)\b/i.test(group)) ?? groups[0];
  if (raw === undefined) return { title: rest.trim() };
  const tag: SubjectTag = { raw };
  const version = /(?:^|\s)v(\d{1,4})(?=\s|$)/i.exec(raw);
  if (version) tag.version = Number(version[1]);
  const position = /(?:^|\s)(\d{1,5})\/(\d{1,5})(?=\s|$)/.exec(raw);
  if (position) {
    tag.number = Number(position[1]);
    tag.total = Number(position[2]);
  }
  return { title: rest.trim(), tag };
}
