// Applies one file's hunks to its text in memory, as `git apply` (without options) would: a
// hunk's old side must match exactly (no fuzz: git keeps all context unless told `-C`); it is
// tried where its header says, then at the nearest lines around it, alternately after and
// before, over the whole file. Like git, a hunk that starts at line 1 (or 0) must match at the
// top and a hunk without trailing context must match at the bottom. Hunks apply in order and
// may not overlap. The file is split into lines once and the result joined once, so the cost is
// linear in the file and the patch (plus the search when a hunk moved).
import type { FilePatch, Hunk, HunkLine } from './types';

export type ApplyResult =
  | {
      ok: true;
      /** The patched text; undefined when the patch deletes the file. */
      text: string | undefined;
      /** Per hunk: how many lines it moved from where its header puts it (git's "offset N lines"). */
      offsets: number[];
    }
  | {
      ok: false;
      /** 0-based index of the hunk that failed; -1 when the file as a whole is refused. */
      hunk: number;
      reason: string;
    };

const NO_EOL = 0;
const LF = 1;
const CRLF = 2;
const EOL_TEXT = ['', '\n', '\r\n'];

/**
 * The file as lines, without a string per line: where each line starts and where its text ends
 * (before its line end), and the kind of its line end.
 */
interface Lines {
  source: string;
  count: number;
  /** count + 1 entries: the last is the end of the text. */
  start: Int32Array;
  textEnd: Int32Array;
  eol: Uint8Array;
  /** The line end added lines get: the one most of the file's lines use. */
  defaultEol: number;
}

function splitLines(source: string): Lines {
  let count = 0;
  for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) count++;
  if (source.length > 0 && !source.endsWith('\n')) count++;
  const start = new Int32Array(count + 1);
  const textEnd = new Int32Array(count);
  const eol = new Uint8Array(count);
  let crlf = 0;
  let pos = 0;
  for (let line = 0; line < count; line++) {
    start[line] = pos;
    const nl = source.indexOf('\n', pos);
    if (nl < 0) {
      textEnd[line] = source.length;
      eol[line] = NO_EOL;
      pos = source.length;
    } else if (nl > pos && source.charCodeAt(nl - 1) === 13) {
      textEnd[line] = nl - 1;
      eol[line] = CRLF;
      crlf++;
      pos = nl + 1;
    } else {
      textEnd[line] = nl;
      eol[line] = LF;
      pos = nl + 1;
    }
  }
  start[count] = source.length;
  const lf = count - crlf - (count > 0 && eol[count - 1] === NO_EOL ? 1 : 0);
  return { source, count, start, textEnd, eol, defaultEol: crlf > lf ? CRLF : LF };
}

function lineText(file: Lines, line: number): string {
  return file.source.slice(file.start[line], file.textEnd[line]);
}

/** One hunk reduced to what matching needs: its old side, and its lines for building the new one. */
interface PreparedHunk {
  old: HunkLine[];
  lines: HunkLine[];
  /** Where git starts looking: the header's new start, 0-based. */
  start: number;
  matchBeginning: boolean;
  matchEnd: boolean;
}

function describe(h: Hunk): string {
  return `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`;
}

/** Checks a hunk against its own header; returns the reason it is unusable, or the prepared hunk. */
function prepare(h: Hunk, index: number): PreparedHunk | string {
  const name = `hunk #${index + 1} (${describe(h)})`;
  const old: HunkLine[] = [];
  let newCount = 0;
  let changes = 0;
  let leading = 0;
  let trailing = 0;
  for (let i = 0; i < h.lines.length; i++) {
    const l = h.lines[i];
    if (l.kind === ' ') {
      old.push(l);
      newCount++;
      if (changes === 0) leading++;
      else trailing++;
    } else if (l.kind === '-' || l.kind === '+') {
      if (l.kind === '-') old.push(l);
      else newCount++;
      changes++;
      trailing = 0;
    } else {
      return `${name}: line ${i + 1} is neither context, '+' nor '-'`;
    }
  }
  if (old.length !== h.oldLines || newCount !== h.newLines) {
    return `${name}: its header counts ${h.oldLines} old and ${h.newLines} new lines, but it has ${old.length} and ${newCount}`;
  }
  if (changes === 0) return `${name} changes nothing`;
  // `\ No newline at end of file` can only follow the last line of a side.
  for (let i = 0; i < h.lines.length; i++) {
    const l = h.lines[i];
    if (!l.noNewline) continue;
    const laterOnSameSide = h.lines.slice(i + 1).some((m) =>
      l.kind === ' ' ? true : m.kind === ' ' || m.kind === l.kind);
    if (laterOnSameSide) return `${name}: '\\ No newline at end of file' after line ${i + 1}, which is not the last of its side`;
  }
  return {
    old,
    lines: h.lines,
    start: h.newStart > 0 ? h.newStart - 1 : 0,
    matchBeginning: h.oldStart <= 1,
    matchEnd: trailing === 0,
  };
}

function matchesAt(file: Lines, old: HunkLine[], at: number): boolean {
  for (let j = 0; j < old.length; j++) {
    const l = old[j];
    const line = at + j;
    const from = file.start[line];
    if (file.textEnd[line] - from !== l.text.length || !file.source.startsWith(l.text, from)) return false;
    if ((file.eol[line] === NO_EOL) !== (l.noNewline === true)) return false;
  }
  return true;
}

/**
 * git's search order: the start line, then one after, one before, two after, ... over the
 * positions this hunk may take (from `lowest`, the end of the previous hunk, to the end).
 */
function findPosition(file: Lines, h: PreparedHunk, lowest: number, start: number): number {
  const n = file.count;
  const highest = n - h.old.length;
  if (highest < lowest) return -1;
  if (h.matchBeginning || h.matchEnd) {
    const only = h.matchBeginning ? 0 : highest;
    if (h.matchBeginning && h.matchEnd && h.old.length !== n) return -1;
    return only >= lowest && matchesAt(file, h.old, only) ? only : -1;
  }
  const from = Math.min(Math.max(start, lowest), highest);
  if (matchesAt(file, h.old, from)) return from;
  for (let d = 1; from + d <= highest || from - d >= lowest; d++) {
    if (from + d <= highest && matchesAt(file, h.old, from + d)) return from + d;
    if (from - d >= lowest && matchesAt(file, h.old, from - d)) return from - d;
  }
  return -1;
}

/** Why the old side does not match at the header's position: the first line that differs. */
function mismatchAt(file: Lines, h: PreparedHunk, at: number): string {
  for (let j = 0; j < h.old.length; j++) {
    const line = at + j;
    if (line >= file.count) return `the file ends at line ${file.count}, before the hunk's old side`;
    const l = h.old[j];
    const text = lineText(file, line);
    if (text !== l.text) return `line ${line + 1} is ${JSON.stringify(text)}, the hunk expects ${JSON.stringify(l.text)}`;
    if ((file.eol[line] === NO_EOL) !== (l.noNewline === true)) {
      return `line ${line + 1} ${l.noNewline ? 'ends with a newline, the hunk says it has none' : 'has no newline, the hunk expects one'}`;
    }
  }
  if (h.matchBeginning) return 'it starts at line 1, so it must apply at the top of the file';
  if (h.matchEnd) return 'it has no trailing context, so it must apply at the end of the file';
  return 'its old side is there, but inside the previous hunk';
}

/** Applies `file`'s hunks to `oldText` (undefined: the file does not exist). */
export function applyFilePatch(oldText: string | undefined, file: FilePatch): ApplyResult {
  if (file.binary) return { ok: false, hunk: -1, reason: 'binary patch: not applied' };
  const adding = file.status === 'added';
  const deleting = file.status === 'deleted';
  if (adding && oldText !== undefined) return { ok: false, hunk: -1, reason: `${file.newPath ?? 'the file'} already exists` };
  if (!adding && oldText === undefined) return { ok: false, hunk: -1, reason: `${file.oldPath ?? 'the file'} does not exist` };

  const source = oldText ?? '';
  const lines = splitLines(source);
  const n = lines.count;
  const pieces: string[] = [];
  const offsets: number[] = [];
  // Old lines [pendingFrom, oldIndex) go to the result unchanged; they are copied as one slice
  // when a '-' or '+' line interrupts them.
  let pendingFrom = 0;
  const flush = (to: number) => {
    if (to > pendingFrom) pieces.push(source.slice(lines.start[pendingFrom], lines.start[to]));
    pendingFrom = to;
  };
  let lastHunkEnd = 0; // the next hunk may not start before this line
  let delta = 0; // lines added minus removed by the hunks applied so far
  let previousOldEnd = 0;
  const addedEol = EOL_TEXT[lines.defaultEol];

  for (let k = 0; k < file.hunks.length; k++) {
    const hunk = file.hunks[k];
    const prepared = prepare(hunk, k);
    if (typeof prepared === 'string') return { ok: false, hunk: k, reason: prepared };
    const oldFrom = hunk.oldLines === 0 ? hunk.oldStart : hunk.oldStart - 1;
    if (k > 0 && oldFrom < previousOldEnd) {
      return {
        ok: false,
        hunk: k,
        reason: `hunk #${k + 1} (${describe(hunk)}) starts at old line ${hunk.oldStart}, before the end of hunk #${k} (line ${previousOldEnd}): hunks must be in order and must not overlap`,
      };
    }
    previousOldEnd = oldFrom + hunk.oldLines;

    // git starts at the header's new line in the file patched so far; in old-file lines that is
    // the same line less what the previous hunks added.
    const start = prepared.start - delta;
    const at = findPosition(lines, prepared, lastHunkEnd, start);
    if (at < 0) {
      const probe = prepared.matchBeginning ? 0 : prepared.matchEnd ? n - prepared.old.length : start;
      const reason = mismatchAt(lines, prepared, Math.min(Math.max(probe, 0), n));
      const where = prepared.matchBeginning || prepared.matchEnd ? '' : 'its old side is nowhere after the previous hunk; where its header puts it, ';
      return { ok: false, hunk: k, reason: `hunk #${k + 1} (${describe(hunk)}) does not apply: ${where}${reason}` };
    }
    offsets.push(at - start);

    let oldIndex = at;
    for (const l of prepared.lines) {
      if (l.kind === ' ') {
        oldIndex++; // the file's own line, with its own line end
      } else if (l.kind === '-') {
        flush(oldIndex);
        oldIndex++;
        pendingFrom = oldIndex;
      } else {
        flush(oldIndex);
        pieces.push(l.noNewline ? l.text : l.text + addedEol);
      }
    }
    lastHunkEnd = oldIndex;
    delta += hunk.newLines - hunk.oldLines;
  }
  flush(n);
  const text = pieces.join('');

  if (deleting) {
    if (text !== '') return { ok: false, hunk: -1, reason: `deleting ${file.oldPath ?? 'the file'} would leave ${text.length} characters in it` };
    return { ok: true, text: undefined, offsets };
  }
  return { ok: true, text, offsets };
}
