// The identifier tokens of a checked file's text, for the flag index (kernel.ts): which names the
// file spells (namedIn) and where (tokenFinder). A scan of the whole text with a regex on every
// edit was the largest JavaScript cost of an edit in vfio_pci_core.c (both scans: 16% of the
// CPU between didChange and publishDiagnostics). The last scan of each file is kept and brought
// up to date from the part of the text that changed; the answer is the one a new scan gives
// (test/flags-token-scan.test.mjs compares them over random edits).

/** An identifier as the flag index reads them: a C identifier, or the tail of a number after its digits (`0x1f` gives `x1f`). */
export const TOKEN_RE = /[A-Za-z_][A-Za-z0-9_]*/g;

export interface TokenScan {
  readonly text: string;
  /** Each token's text and start offset, in text order. */
  readonly names: string[];
  readonly starts: number[];
  /** How many times each token occurs. */
  readonly counts: Map<string, number>;
}

/** Scans kept per file: one each, the last text asked for. */
const kept = new Map<string, TokenScan>();
const KEPT_FILES = 16;

/** The tokens of `text`, the text `file` has now: derived from the file's last scan when there is one. */
export function tokenScanOf(file: string, text: string): TokenScan {
  const last = kept.get(file);
  const scan = last?.text === text ? last : last ? rescan(last, text) : fullScan(text);
  kept.delete(file);
  if (kept.size >= KEPT_FILES) kept.delete(kept.keys().next().value!);
  kept.set(file, scan);
  return scan;
}

/** Every token of `text` by the regex: the reference the incremental scan must equal. */
export function fullScan(text: string): TokenScan {
  const names: string[] = [];
  const starts: number[] = [];
  scanInto(text, 0, text.length, names, starts);
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return { text, names, starts, counts };
}

function scanInto(text: string, from: number, to: number, names: string[], starts: number[], detach = false): void {
  // TOKEN_RE's lastIndex is this loop's state; nothing it calls uses the regex.
  const re = TOKEN_RE;
  re.lastIndex = 0;
  const part = from === 0 && to === text.length ? text : text.slice(from, to);
  for (let m = re.exec(part); m; m = re.exec(part)) {
    names.push(detach ? detached(m[0]) : m[0]);
    starts.push(from + m.index);
  }
}

/**
 * A copy of a token that does not hold on to the text it was found in. V8 makes a substring of 13
 * characters or more a view of its whole string: a token of one edit's text kept in a later scan
 * kept that whole text alive (2,000 edits of vfio_pci_core.c held 146 MB). Tokens are ASCII.
 */
function detached(token: string): string {
  return token.length < 13 ? token : Buffer.from(token, 'latin1').toString('latin1');
}

const isWordChar = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

/**
 * `last` brought to `text`: the tokens of the common prefix and suffix are kept (the suffix's
 * shifted), the middle is scanned again. The regex's tokens never cross a boundary between a
 * word character and another one, so the middle is widened to such boundaries on both sides;
 * inside it, the regex gives the same tokens as over the whole text.
 */
function rescan(last: TokenScan, text: string): TokenScan {
  const old = last.text;
  const prefix = commonPrefix(old, text);
  const suffix = commonSuffix(old, text, Math.min(old.length, text.length) - prefix);
  let from = prefix;
  while (from > 0 && isWordChar(text.charCodeAt(from - 1))) from--;
  let to = text.length - suffix;
  while (to < text.length && isWordChar(text.charCodeAt(to))) to++;
  const delta = text.length - old.length;
  const oldTo = to - delta;
  // The old tokens [first, end) are those of the middle: dropped.
  const first = lowerBound(last.starts, from);
  const end = lowerBound(last.starts, oldTo);
  const names = last.names.slice(0, first);
  const starts = last.starts.slice(0, first);
  // The text's older tokens are views of the first text scanned (which the scan keeps as long as
  // any of them lives); these would each keep one more version alive.
  scanInto(text, from, to, names, starts, true);
  const counts = new Map(last.counts);
  for (let i = first; i < end; i++) {
    const n = counts.get(last.names[i])! - 1;
    if (n) counts.set(last.names[i], n);
    else counts.delete(last.names[i]);
  }
  for (let i = first; i < names.length; i++) counts.set(names[i], (counts.get(names[i]) ?? 0) + 1);
  for (let i = end; i < last.names.length; i++) {
    names.push(last.names[i]);
    starts.push(last.starts[i] + delta);
  }
  return { text, names, starts, counts };
}

/** The first index whose value is at least `at` (values ascending). */
function lowerBound(values: number[], at: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid] < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Compared a block at a time: V8 compares equal-length strings with memcmp, and a slice of a
// flat string is not copied.
const BLOCK = 1024;

function commonPrefix(a: string, b: string): number {
  const max = Math.min(a.length, b.length);
  let i = 0;
  while (i + BLOCK <= max && a.slice(i, i + BLOCK) === b.slice(i, i + BLOCK)) i += BLOCK;
  while (i < max && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** The length of the common suffix, at most `max` (so that it does not overlap the common prefix). */
function commonSuffix(a: string, b: string, max: number): number {
  let n = 0;
  while (n + BLOCK <= max && a.slice(a.length - n - BLOCK, a.length - n) === b.slice(b.length - n - BLOCK, b.length - n)) n += BLOCK;
  while (n < max && a.charCodeAt(a.length - 1 - n) === b.charCodeAt(b.length - 1 - n)) n++;
  return n;
}
