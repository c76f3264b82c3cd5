// Unified diffs (git and plain) read from decoded text lines, each line keeping its input
// position. Hunks are read by their header's counts, as `git apply` does: that is what keeps the
// `-- ` signature of format-patch output out of the last hunk, and a short hunk from swallowing
// the next file's header. Paths that could leave the tree are refused.
import type { FilePatch, FileStatus, Hunk, HunkLine, PatchProblem } from './types';
import type { TextLine } from './mime';

export interface ParsedDiff {
  files: FilePatch[];
  problems: PatchProblem[];
}

// Anchored, and no two adjacent quantified parts can match the same characters: linear.
const HUNK_HEADER = /^@@ -(\d{1,9})(?:,(\d{1,9}))? \+(\d{1,9})(?:,(\d{1,9}))? @@(.*)$/;
const GIT_EXTENDED = /^(old mode|new mode|deleted file mode|new file mode|copy from|copy to|rename from|rename to|rename old|rename new|similarity index|dissimilarity index|index) ?(.*)$/;

interface PendingFile {
  oldPath?: string;
  newPath?: string;
  /** Path as written (for messages), before the prefix is taken off. */
  shownPaths: string[];
  status: FileStatus;
  binary: boolean;
  hunks: Hunk[];
  headerLine: number;
}

/** Reads every file patch in `lines`; text between and around them (commit message, diffstat) is skipped. */
export function parseDiff(lines: TextLine[]): ParsedDiff {
  const files: FilePatch[] = [];
  const problems: PatchProblem[] = [];
  let i = 0;
  while (i < lines.length) {
    const text = lines[i].text;
    if (text.startsWith('diff --git ')) {
      i = readGitFile(lines, i, files, problems);
    } else if (isPlainFileHeader(lines, i)) {
      i = readPlainFile(lines, i, files, problems);
    } else {
      i++;
    }
  }
  return { files, problems };
}

/** `--- x` directly followed by `+++ y`. */
function isPlainFileHeader(lines: TextLine[], i: number): boolean {
  return lines[i].text.startsWith('--- ') && i + 1 < lines.length && lines[i + 1].text.startsWith('+++ ');
}

function readGitFile(lines: TextLine[], start: number, files: FilePatch[], problems: PatchProblem[]): number {
  const headerLine = lines[start].docLine;
  const names = splitGitHeaderPaths(lines[start].text.slice('diff --git '.length));
  const hasPrefix = names ? hasOneLetterPrefixes(names[0], names[1]) : true;
  const file: PendingFile = {
    oldPath: names ? stripPrefix(names[0], hasPrefix) : undefined,
    newPath: names ? stripPrefix(names[1], hasPrefix) : undefined,
    shownPaths: names ? [...names] : [],
    status: 'modified',
    binary: false,
    hunks: [],
    headerLine,
  };
  let i = start + 1;
  for (; i < lines.length; i++) {
    const text = lines[i].text;
    const match = GIT_EXTENDED.exec(text);
    if (match) {
      applyExtendedHeader(file, match[1], match[2]);
      continue;
    }
    if (text.startsWith('Binary files ') && text.endsWith(' differ')) {
      file.binary = true;
      continue;
    }
    if (text === 'GIT binary patch') {
      file.binary = true;
      // The base85 data runs until the next file; its lines start with a length letter, never `diff`.
      i++;
      while (i < lines.length && !lines[i].text.startsWith('diff --git ')) i++;
      break;
    }
    break;
  }
  if (!file.binary && i < lines.length && lines[i].text.startsWith('--- ')) {
    if (i + 1 < lines.length && lines[i + 1].text.startsWith('+++ ')) {
      const oldName = parsePathField(lines[i].text.slice(4), true);
      const newName = parsePathField(lines[i + 1].text.slice(4), true);
      file.shownPaths.push(oldName, newName);
      if (oldName === '/dev/null') {
        file.oldPath = undefined;
        if (file.status === 'modified') file.status = 'added';
      } else if (file.status !== 'renamed' && file.status !== 'copied') file.oldPath = stripPrefix(oldName, hasPrefix);
      if (newName === '/dev/null') {
        file.newPath = undefined;
        if (file.status === 'modified') file.status = 'deleted';
      } else if (file.status !== 'renamed' && file.status !== 'copied') file.newPath = stripPrefix(newName, hasPrefix);
      i += 2;
    } else {
      problems.push({ line: lines[i].docLine, severity: 'error', message: 'file header cut short: "---" line without the "+++" line after it' });
      i++;
    }
  }
  i = readHunks(lines, i, file, problems);
  finishFile(file, files, problems);
  return i;
}

function applyExtendedHeader(file: PendingFile, key: string, value: string): void {
  switch (key) {
    case 'new file mode':
      file.status = 'added';
      file.oldPath = undefined;
      break;
    case 'deleted file mode':
      file.status = 'deleted';
      file.newPath = undefined;
      break;
    case 'rename from':
    case 'rename old':
      file.status = 'renamed';
      file.oldPath = parsePathField(value, false);
      file.shownPaths.push(file.oldPath);
      break;
    case 'rename to':
    case 'rename new':
      file.status = 'renamed';
      file.newPath = parsePathField(value, false);
      file.shownPaths.push(file.newPath);
      break;
    case 'copy from':
      file.status = 'copied';
      file.oldPath = parsePathField(value, false);
      file.shownPaths.push(file.oldPath);
      break;
    case 'copy to':
      file.status = 'copied';
      file.newPath = parsePathField(value, false);
      file.shownPaths.push(file.newPath);
      break;
    default:
      // Modes, similarity and index lines change nothing the reader keeps.
      break;
  }
}

function readPlainFile(lines: TextLine[], start: number, files: FilePatch[], problems: PatchProblem[]): number {
  const oldName = parsePathField(lines[start].text.slice(4), true);
  const newName = parsePathField(lines[start + 1].text.slice(4), true);
  const strip = plainPrefixIsStripped(oldName, newName);
  const file: PendingFile = {
    oldPath: oldName === '/dev/null' ? undefined : stripPrefix(oldName, strip),
    newPath: newName === '/dev/null' ? undefined : stripPrefix(newName, strip),
    shownPaths: [oldName, newName],
    status: oldName === '/dev/null' ? 'added' : newName === '/dev/null' ? 'deleted' : 'modified',
    binary: false,
    hunks: [],
    headerLine: lines[start].docLine,
  };
  const i = readHunks(lines, start + 2, file, problems);
  finishFile(file, files, problems);
  return i;
}

function readHunks(lines: TextLine[], start: number, file: PendingFile, problems: PatchProblem[]): number {
  let i = start;
  while (i < lines.length && lines[i].text.startsWith('@@')) {
    const match = HUNK_HEADER.exec(lines[i].text);
    if (!match) {
      problems.push({ line: lines[i].docLine, severity: 'error', message: `malformed hunk header "${clip(lines[i].text)}"` });
      i++;
      // Skip the hunk's lines: without counts they cannot be placed.
      while (i < lines.length && /^[ +\-\\]/.test(lines[i].text) && !isPlainFileHeader(lines, i)) i++;
      continue;
    }
    i = readHunk(lines, i, match, file, problems);
  }
  return i;
}

function readHunk(lines: TextLine[], headerIndex: number, match: RegExpExecArray, file: PendingFile, problems: PatchProblem[]): number {
  const hunk: Hunk = {
    oldStart: Number(match[1]),
    oldLines: match[2] === undefined ? 1 : Number(match[2]),
    newStart: Number(match[3]),
    newLines: match[4] === undefined ? 1 : Number(match[4]),
    section: match[5].trim(),
    headerLine: lines[headerIndex].docLine,
    lines: [],
  };
  file.hunks.push(hunk);
  let oldLeft = hunk.oldLines;
  let newLeft = hunk.newLines;
  let oldLine = hunk.oldStart;
  let newLine = hunk.newStart;
  let i = headerIndex + 1;
  let last: HunkLine | undefined;
  while (i < lines.length && (oldLeft > 0 || newLeft > 0)) {
    const { text, docLine } = lines[i];
    // A mailer may strip the single space of an empty context line.
    const kind = text.length === 0 ? ' ' : text[0];
    if (kind === '\\') {
      if (last) last.noNewline = true;
      i++;
      continue;
    }
    if (kind === ' ' && oldLeft > 0 && newLeft > 0) {
      last = { kind: ' ', text: text.slice(1), docLine, oldLine: oldLine++, newLine: newLine++ };
      oldLeft--;
      newLeft--;
    } else if (kind === '-' && oldLeft > 0 && !startsNextFile(lines, i)) {
      last = { kind: '-', text: text.slice(1), docLine, oldLine: oldLine++ };
      oldLeft--;
    } else if (kind === '+' && newLeft > 0) {
      last = { kind: '+', text: text.slice(1), docLine, newLine: newLine++ };
      newLeft--;
    } else {
      break;
    }
    hunk.lines.push(last);
    i++;
  }
  if (i < lines.length && lines[i].text.startsWith('\\')) {
    if (last) last.noNewline = true;
    i++;
  }
  const header = `@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`;
  if (oldLeft > 0 || newLeft > 0) {
    const where = i < lines.length ? `input line ${lines[i].docLine + 1}` : 'the end of the input';
    problems.push({
      line: hunk.headerLine,
      severity: 'error',
      message: `hunk cut short: ${header} promises ${hunk.oldLines} old and ${hunk.newLines} new lines, ${hunk.oldLines - oldLeft} and ${hunk.newLines - newLeft} found before ${where}`,
    });
    return i;
  }
  if (i < lines.length && isExtraHunkLine(lines, i)) {
    problems.push({
      line: lines[i].docLine,
      severity: 'warning',
      message: `more lines than the hunk header ${header} counts: this line and the ones after it are not read as part of the hunk`,
    });
    while (i < lines.length && isExtraHunkLine(lines, i)) i++;
  }
  return i;
}

/** A `---`/`+++` pair followed by a hunk header: the next file, even where a `-` line could fit. */
function startsNextFile(lines: TextLine[], i: number): boolean {
  return isPlainFileHeader(lines, i) && i + 2 < lines.length && lines[i + 2].text.startsWith('@@ ');
}

/** A diff line right after a complete hunk (not the `-- ` signature, not a file header). */
function isExtraHunkLine(lines: TextLine[], i: number): boolean {
  const text = lines[i].text;
  if (text.length === 0 || !'+- '.includes(text[0])) return false;
  if (text === '-- ' || text === '--') return false;
  return !isPlainFileHeader(lines, i);
}

function finishFile(file: PendingFile, files: FilePatch[], problems: PatchProblem[]): void {
  for (const path of [file.oldPath, file.newPath, ...file.shownPaths]) {
    if (path === undefined) continue;
    const reason = unsafePathReason(path);
    if (reason) {
      problems.push({ line: file.headerLine, severity: 'error', message: `file patch refused: path "${showPath(path)}" ${reason}` });
      return;
    }
  }
  if (file.oldPath === undefined && file.newPath === undefined) {
    problems.push({ line: file.headerLine, severity: 'error', message: 'file patch refused: no path could be read from its header' });
    return;
  }
  if (file.binary) {
    problems.push({ line: file.headerLine, severity: 'info', message: `binary patch skipped: ${showPath(file.newPath ?? file.oldPath ?? '')}` });
  }
  const patch: FilePatch = { status: file.status, binary: file.binary, hunks: file.binary ? [] : file.hunks, headerLine: file.headerLine };
  if (file.oldPath !== undefined) patch.oldPath = file.oldPath;
  if (file.newPath !== undefined) patch.newPath = file.newPath;
  files.push(patch);
}

/** Why a path may not be applied to a tree, or undefined when it is fine. */
export function unsafePathReason(path: string): string | undefined {
  if (path === '/dev/null') return undefined;
  if (path.includes('\0')) return 'contains a NUL byte';
  if (path.length === 0) return 'is empty';
  if (path.startsWith('/')) return 'is absolute';
  if (/^[A-Za-z]:[\\/]/.test(path) || path.startsWith('\\')) return 'is absolute';
  if (path.includes('..') && path.split(/[\\/]/).includes('..')) return "has a '..' component";
  return undefined;
}

function showPath(path: string): string {
  return clip(path.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

function clip(text: string): string {
  return text.length > 200 ? text.slice(0, 200) + '…' : text;
}

/**
 * The two paths of `diff --git a/x b/x`. Quoted paths are unquoted; unquoted ones are split
 * where both halves name the same file (a space in the name is ambiguous otherwise).
 */
function splitGitHeaderPaths(rest: string): [string, string] | undefined {
  if (rest.startsWith('"')) {
    const first = unquoteC(rest);
    if (!first) return undefined;
    const second = rest.slice(first.length).trimStart();
    return [first.value, second.startsWith('"') ? unquoteC(second)?.value ?? second : second];
  }
  if (rest.endsWith('"')) {
    const open = rest.lastIndexOf(' "');
    if (open > 0) return [rest.slice(0, open), unquoteC(rest.slice(open + 1))?.value ?? rest.slice(open + 1)];
  }
  // Same name on both sides: the halves have equal length apart from the prefixes.
  if ((rest.length - 1) % 2 === 0) {
    const half = (rest.length - 1) / 2;
    const a = rest.slice(0, half);
    const b = rest.slice(half + 1);
    if (rest[half] === ' ' && withoutPrefix(a) === withoutPrefix(b)) return [a, b];
  }
  const space = rest.indexOf(' b/') >= 0 ? rest.indexOf(' b/') : rest.indexOf(' ');
  if (space < 0) return undefined;
  return [rest.slice(0, space), rest.slice(space + 1)];
}

function withoutPrefix(path: string): string {
  return /^[a-z]\//.test(path) ? path.slice(2) : path;
}

/** git's prefixes: `a/` `b/` by default, `i/` `w/` `c/` `o/` with diff.mnemonicPrefix. */
function hasOneLetterPrefixes(a: string, b: string): boolean {
  return /^[a-z]\//.test(a) && /^[a-z]\//.test(b);
}

function stripPrefix(path: string, strip: boolean): string {
  if (!strip) return path;
  const slash = path.indexOf('/');
  return slash >= 0 ? path.slice(slash + 1) : path;
}

/**
 * Plain diffs: the first component is a prefix (patch -p1) when the two sides differ there
 * (`a/` `b/`, `linux.orig/` `linux/`); when they agree (`drivers/` on both sides) it is the path.
 */
function plainPrefixIsStripped(oldName: string, newName: string): boolean {
  const first = (path: string) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : undefined);
  if (oldName === '/dev/null') return /^[ab]\//.test(newName);
  if (newName === '/dev/null') return /^[ab]\//.test(oldName);
  const oldFirst = first(oldName);
  const newFirst = first(newName);
  return oldFirst !== undefined && newFirst !== undefined && oldFirst !== newFirst;
}

/** The path of a `---`/`+++`/`rename from` line: unquoted, and for ---/+++ without a tab-separated timestamp. */
function parsePathField(field: string, cutTimestamp: boolean): string {
  if (field.startsWith('"')) return unquoteC(field)?.value ?? field;
  if (cutTimestamp) {
    const tab = field.indexOf('\t');
    if (tab >= 0) return field.slice(0, tab);
    return field.trimEnd();
  }
  return field;
}

/** A C-quoted string as git writes unusual paths (`"a/t\303\251st"`): its value and its length in the input. */
function unquoteC(text: string): { value: string; length: number } | undefined {
  const bytes: number[] = [];
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (c === '"') return { value: Buffer.from(bytes).toString('utf8'), length: i + 1 };
    if (c !== '\\') {
      const code = c.charCodeAt(0);
      if (code < 0x80) bytes.push(code);
      else bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const next = text[++i];
    if (next === undefined) return undefined;
    const simple: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };
    if (next in simple) bytes.push(simple[next]);
    else if (/[0-7]/.test(next)) {
      const octal = /^[0-7]{1,3}/.exec(text.slice(i, i + 3))![0];
      bytes.push(parseInt(octal, 8) & 0xff);
      i += octal.length - 1;
    } else bytes.push(next.charCodeAt(0) & 0xff);
  }
  return undefined;
}
