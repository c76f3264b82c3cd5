// Position-preserving pre-pass: turns kernel C into C that tree-sitter parses, without moving a
// single character. Annotations (`__user`, `__must_hold(x)`) become spaces, statement macros
// (`list_for_each_entry(...) {`) become `while` / `if` padded to their length, and GNU spellings
// (`__signed__`) become their keyword. Everything changed is recorded, so the meaning of
// `__packed`, `__aligned(8)` or `__must_hold(&l)` still reaches the model.
import kernelC from '../../../../grammars/kernel-c.json';

export interface BlankedAnnotation {
  name: string;
  /** Raw argument texts, split on top-level commas. */
  args: string[];
  /** UTF-16 offsets in the text. */
  start: number;
  end: number;
}

export interface StatementMacro {
  name: string;
  kind: 'loop' | 'scope';
  args: string[];
  start: number;
  end: number;
}

export interface BlankResult {
  text: string;
  annotations: BlankedAnnotation[];
  statementMacros: StatementMacro[];
}

const bare = new Set<string>(kernelC.annotations.bare);
const withArgs = new Set<string>(kernelC.annotations.withArguments);
const rewrites = new Map<string, string>(
  Object.entries(kernelC.rewrites).filter(([k]) => !k.startsWith('$')) as [string, string][],
);
const loopPatterns = kernelC.statementMacros.loopPatterns.map((p) => new RegExp(p));
const loopNames = new Set<string>(kernelC.statementMacros.loopNames);
const scopeNames = new Set<string>(kernelC.statementMacros.scopeNames);
const typeArgumentMacros = new Set<string>(kernelC.typeArgumentMacros.names);

export function statementMacroKind(name: string): 'loop' | 'scope' | undefined {
  if (scopeNames.has(name)) return 'scope';
  if (loopNames.has(name) || loopPatterns.some((r) => r.test(name))) return 'loop';
  return undefined;
}

const identStart = /[A-Za-z_]/;
const identChar = /[A-Za-z0-9_]/;

/** Character classes by UTF-16 code (ASCII only, like the regexes above): 1 starts an identifier, 2 continues one. */
const IDENT = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  IDENT[c] = (identStart.test(ch) ? 1 : 0) | (identChar.test(ch) ? 2 : 0);
}
const isIdentStart = (c: number) => c < 128 && (IDENT[c] & 1) !== 0;
const isIdentChar = (c: number) => c < 128 && (IDENT[c] & 2) !== 0;

/** Finds the `)` matching the `(` at `open`, skipping strings, chars and comments. -1 if none. */
export function matchParen(text: string, open: number, limit = text.length): number {
  let depth = 0;
  for (let i = open; i < limit; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') {
      if (--depth === 0) return i;
    } else if (c === '"' || c === "'") {
      i = skipQuoted(text, i, limit);
    } else if (c === '/' && text[i + 1] === '*') {
      const e = text.indexOf('*/', i + 2);
      if (e < 0) return -1;
      i = e + 1;
    } else if (c === '/' && text[i + 1] === '/') {
      const e = text.indexOf('\n', i);
      if (e < 0) return -1;
      i = e;
    }
  }
  return -1;
}

function skipQuoted(text: string, i: number, limit: number): number {
  const q = text[i];
  for (let j = i + 1; j < limit; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === q || text[j] === '\n') return j;
  }
  return limit;
}

/** Splits an argument list's inner text on commas at depth 0. */
export function splitArgs(inner: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of inner) {
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim() !== '' || out.length > 0) out.push(cur.trim());
  return out;
}

/** Blanks [start, end) of `text` but its line ends. */
function blanked(text: string, start: number, end: number): string {
  const part = text.slice(start, end);
  return /[\r\n]/.test(part) ? part.replace(/[^\r\n]/g, ' ') : ' '.repeat(end - start);
}

/** `word` over the `length` characters of a name, padded with spaces. */
const padded = (word: string, length: number) => word + ' '.repeat(length - word.length);

/**
 * The changes of one blanking, each a same-length replacement: the result is spliced from the
 * unchanged stretches and the replacements (copying the text through a code array cost more than
 * the whole scan). Changes come mostly in order; ones inside a macro's arguments may not.
 */
class Replacements {
  private starts: number[] = [];
  private texts: string[] = [];

  set(start: number, text: string): void {
    this.starts.push(start);
    this.texts.push(text);
  }

  apply(text: string): string {
    if (!this.starts.length) return text;
    const order = this.starts.map((_, k) => k);
    if (this.starts.some((v, k) => k > 0 && v < this.starts[k - 1])) order.sort((a, b) => this.starts[a] - this.starts[b]);
    const parts: string[] = [];
    let at = 0;
    for (const k of order) {
      const start = this.starts[k];
      const end = start + this.texts[k].length;
      // Changes never overlap today; should one ever, the later one in the text wins from where it starts.
      if (start < at) parts.push(this.texts[k].slice(at - start));
      else parts.push(text.slice(at, start), this.texts[k]);
      at = Math.max(at, end);
    }
    parts.push(text.slice(at));
    return parts.join('');
  }
}

/** The last significant character before `i` (comments skipped), and the word it ends, if any. */
function prevWord(text: string, i: number): { char: string; word: string } {
  let j = i - 1;
  for (;;) {
    while (j >= 0 && /\s/.test(text[j])) j--;
    if (j >= 1 && text[j] === '/' && text[j - 1] === '*') {
      const open = text.lastIndexOf('/*', j - 2);
      if (open < 0) break;
      j = open - 1;
      continue;
    }
    break;
  }
  if (j < 0) return { char: '', word: '' };
  let k = j;
  while (k >= 0 && identChar.test(text[k])) k--;
  return { char: text[j], word: text.slice(k + 1, j + 1) };
}

function skipSpaceAndComments(text: string, i: number): number {
  for (;;) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (text.startsWith('/*', i)) {
      const e = text.indexOf('*/', i + 2);
      if (e < 0) return text.length;
      i = e + 2;
    } else if (text.startsWith('//', i)) {
      const e = text.indexOf('\n', i);
      if (e < 0) return text.length;
      i = e;
    } else return i;
  }
}

/**
 * Blanks kernel annotations and rewrites statement macros. Comments, strings and the names of
 * `#define`s are left alone: `#define __packed __attribute__((packed))` stays a definition.
 */
export function blankKernelC(text: string): BlankResult {
  return blankTracked(text).result;
}

/** A blanking with what an edit needs to redo only the line it touched (reblankLine). */
export interface TrackedBlank {
  result: BlankResult;
  /** Block comments as [start, end) pairs, flat, in order. */
  comments: number[];
}

/** reblankLine's answer: the new blanking, and the line it redid (its end in the old and the new text). */
export interface ReblankedLine extends TrackedBlank {
  line: { start: number; oldEnd: number; newEnd: number };
}

export function blankTracked(text: string): TrackedBlank {
  const found = scanWindow(text, 0, text.length, []);
  return { result: { text: found.out.apply(text), annotations: found.annotations, statementMacros: found.statementMacros }, comments: found.comments };
}

/**
 * Scans [from, to) of `text`, `from` at a line start outside comments, strings and directive
 * continuations; look-aheads and look-behinds read the whole text.
 */
function scanWindow(text: string, from: number, to: number, comments: number[]) {
  const annotations: BlankedAnnotation[] = [];
  const statementMacros: StatementMacro[] = [];
  const out = new Replacements();
  const n = text.length;
  let lineStartsDirective = false;
  let atLineStart = true;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 /* \n */) {
      atLineStart = true;
      // A directive continues over backslash-newline.
      if (!(i > 0 && text.charCodeAt(i - 1) === 92 /* \\ */)) lineStartsDirective = false;
      continue;
    }
    if (c === 47 /* / */ && text.charCodeAt(i + 1) === 42 /* * */) {
      const e = text.indexOf('*/', i + 2);
      comments.push(i, e < 0 ? n : e + 2);
      i = e < 0 ? n : e + 1;
      continue;
    }
    if (c === 47 /* / */ && text.charCodeAt(i + 1) === 47) {
      const e = text.indexOf('\n', i);
      i = e < 0 ? n : e - 1;
      continue;
    }
    if (c === 34 /* " */ || c === 39 /* ' */) {
      i = skipQuoted(text, i, n);
      continue;
    }
    if (atLineStart && c === 35 /* # */) {
      lineStartsDirective = true;
      atLineStart = false;
      // Leave the macro name of #define / #undef / #ifdef alone.
      const m = /^#\s*(define|undef|ifdef|ifndef)\s+[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i, i + 200));
      if (m) i += m[0].length - 1;
      continue;
    }
    if (c !== 32 && c !== 9 && c !== 13) atLineStart = false;
    // GNU case ranges `case 1 ... 3:` become `case 1  |  3:`: still a case label, same length.
    if (c === 46 /* . */ && text.startsWith('...', i) && /\bcase\b[^:;{}]*$/.test(text.slice(Math.max(0, text.lastIndexOf('\n', i) + 1), i))) {
      out.set(i, ' | ');
      i += 2;
      continue;
    }
    if (!isIdentStart(c) || (i > 0 && isIdentChar(text.charCodeAt(i - 1)))) continue;
    let j = i + 1;
    while (j < n && isIdentChar(text.charCodeAt(j))) j++;
    const word = text.slice(i, j);
    if ((word === '__attribute__' || word === '__attribute') && /\b(struct|union|enum)\s*$/.test(text.slice(Math.max(0, i - 40), i))) {
      // `enum __attribute__((packed)) e {` is not in tree-sitter's C grammar: blank it and
      // record it, like `__packed`.
      const open = skipSpaceAndComments(text, j);
      const close = text[open] === '(' ? matchParen(text, open) : -1;
      if (close > 0) {
        out.set(i, blanked(text, i, close + 1));
        annotations.push({ name: '__attribute__', args: splitArgs(text.slice(open + 1, close).replace(/^\(|\)$/g, '')), start: i, end: close + 1 });
        i = close;
        continue;
      }
    }
    if (typeArgumentMacros.has(word)) {
      const open = skipSpaceAndComments(text, j);
      const close = text[open] === '(' ? matchParen(text, open) : -1;
      if (close > 0) {
        // Blank the tag keyword of type arguments: `container_of(p, struct foo, m)`.
        const re = /([(,]\s*)(struct|union|enum)(\s+[A-Za-z_]\w*\s*[,)])/g;
        const inner = text.slice(open, close + 1);
        for (let m = re.exec(inner); m; m = re.exec(inner)) {
          out.set(open + m.index + m[1].length, ' '.repeat(m[2].length));
          re.lastIndex = m.index + m[1].length + m[2].length;
        }
      }
      i = j - 1;
      continue;
    }
    if (word.charCodeAt(0) !== 95 /* _ */ && !word.includes('for_each') && !word.includes('foreach') &&
        !scopeNames.has(word) && !bare.has(word)) {
      i = j - 1;
      continue;
    }
    if (bare.has(word)) {
      out.set(i, ' '.repeat(j - i));
      annotations.push({ name: word, args: [], start: i, end: j });
      i = j - 1;
      continue;
    }
    const rewrite = rewrites.get(word);
    if (rewrite !== undefined) {
      out.set(i, padded(rewrite.slice(0, j - i), j - i));
      i = j - 1;
      continue;
    }
    if (withArgs.has(word)) {
      const open = skipSpaceAndComments(text, j);
      if (text[open] === '(') {
        const close = matchParen(text, open);
        if (close > 0) {
          out.set(i, blanked(text, i, close + 1));
          annotations.push({ name: word, args: splitArgs(text.slice(open + 1, close)), start: i, end: close + 1 });
          i = close;
          continue;
        }
      }
      i = j - 1;
      continue;
    }
    // A statement head follows `;`, `{`, `}`, `)`, `:` or `else`; after a type it is the name of
    // a function being declared or defined (`static int vfio_pci_for_each_slot_or_bus(...)`).
    const before = prevWord(text, i);
    if (!lineStartsDirective && (before.char === '' || ';{})::'.includes(before.char) || before.word === 'else' || before.word === 'do')) {
      const kind = statementMacroKind(word);
      if (kind) {
        const open = skipSpaceAndComments(text, j);
        if (text[open] === '(') {
          const close = matchParen(text, open);
          if (close > 0) {
            const after = skipSpaceAndComments(text, close + 1);
            // A statement follows (a block or an identifier), not `;` or an operator: it is used
            // as a statement head, so make it one.
            if (after < n && (text[after] === '{' || identStart.test(text[after]))) {
              const keyword = kind === 'loop' ? 'while' : 'if';
              if (keyword.length <= j - i) {
                out.set(i, padded(keyword, j - i));
                statementMacros.push({ name: word, kind, args: splitArgs(text.slice(open + 1, close)), start: i, end: close + 1 });
              }
            }
          }
        }
      }
    }
    i = j - 1;
  }
  return { out, annotations, statementMacros, comments };
}

/** Characters that can start or end something spanning lines: comments, strings, directives, continuations. */
const SPANNING = /[/*"'#\\\r]/;
const firstSignificant = (line: string) => /\S/.exec(line)?.[0];
/** The last significant character with the word it ends, as a look-behind from a later line reads it. */
function lastSignificant(line: string): string {
  const t = line.trimEnd();
  let k = t.length - 1;
  while (k > 0 && isIdentChar(t.charCodeAt(k - 1))) k--;
  return t.slice(k);
}
const parens = (line: string) => line.replace(/[^()]/g, '');

/**
 * The blanking of `newText`, made from the blanking of `oldText` when one edit changed a single
 * line in a way nothing outside that line can notice: undefined when that cannot be shown, and the
 * caller blanks the whole text. `edit` is [start, end) of oldText replaced by `inserted`.
 * (A tested equivalence: test/engine/blank-incremental.test.mjs compares it with blankKernelC.)
 */
export function reblankLine(oldText: string, old: TrackedBlank, newText: string, edit: { start: number; end: number; inserted: string }): ReblankedLine | undefined {
  const { start, end, inserted } = edit;
  if (/[\r\n]/.test(inserted) || /[\r\n]/.test(oldText.slice(start, end))) return undefined;
  const lineStart = oldText.lastIndexOf('\n', start - 1) + 1;
  const oldEndNl = oldText.indexOf('\n', end);
  const oldLineEnd = oldEndNl < 0 ? oldText.length : oldEndNl;
  const delta = inserted.length - (end - start);
  const newLineEnd = oldLineEnd + delta;
  const oldLine = oldText.slice(lineStart, oldLineEnd);
  const newLine = newText.slice(lineStart, newLineEnd);
  // Nothing in the line opens or closes a comment, a string or a directive, and its first and last
  // significant characters (what look-aheads and look-behinds from other lines read) stay.
  if (SPANNING.test(oldLine) || SPANNING.test(newLine)) return undefined;
  const first = firstSignificant(oldLine);
  if (first === undefined || first !== firstSignificant(newLine) || lastSignificant(oldLine) !== lastSignificant(newLine)) return undefined;
  if (parens(oldLine) !== parens(newLine)) return undefined;
  // The line before is no directive (whose name may be read across a line end) nor continued.
  const prevStart = lineStart > 0 ? oldText.lastIndexOf('\n', lineStart - 2) + 1 : -1;
  if (prevStart >= 0 && (/^\s*#/.test(oldText.slice(prevStart, lineStart)) || oldText.slice(prevStart, lineStart - 1).endsWith('\\'))) return undefined;
  // `__attribute__` looks 40 characters back for a tag keyword; type-argument macros blank words
  // inside their arguments, which may run over several lines.
  if (newText.slice(newLineEnd, newLineEnd + 41).includes('__attribute')) return undefined;
  for (const line of [oldLine, newLine]) for (const w of line.match(/[A-Za-z_]\w*/g) ?? []) if (typeArgumentMacros.has(w)) return undefined;
  // Not inside a block comment.
  for (let k = 0; k < old.comments.length; k += 2) if (old.comments[k] < lineStart && old.comments[k + 1] > lineStart) return undefined;
  // What was blanked in the line lies wholly in it, and nothing else changed it.
  const inLine = (a: { start: number; end: number }) => a.start >= lineStart && a.end <= oldLineEnd;
  const outside = (a: { start: number; end: number }) => a.end <= lineStart || a.start >= oldLineEnd;
  const marks = [...old.result.annotations, ...old.result.statementMacros];
  if (!marks.every((a) => inLine(a) || outside(a))) return undefined;
  const blankedOld = old.result.text.slice(lineStart, oldLineEnd);
  for (let k = 0; k < oldLine.length; k++) {
    if (blankedOld[k] !== oldLine[k] && !marks.some((a) => inLine(a) && a.start <= lineStart + k && lineStart + k < a.end)) return undefined;
  }
  // The line again, alone; what it blanks must end in it too.
  const redone = scanWindow(newText, lineStart, newLineEnd, []);
  if ([...redone.annotations, ...redone.statementMacros].some((a) => a.end > newLineEnd)) return undefined;
  const lineText = redone.out.apply(newText.slice(0, newLineEnd)).slice(lineStart);
  if (lineText.length !== newLine.length) return undefined;
  const shift = <T extends { start: number; end: number }>(a: T): T => ({ ...a, start: a.start + delta, end: a.end + delta });
  const before = <T extends { start: number; end: number }>(list: T[]) => list.filter((a) => a.end <= lineStart);
  const after = <T extends { start: number; end: number }>(list: T[]) => list.filter((a) => a.start >= oldLineEnd).map(shift);
  return {
    result: {
      text: old.result.text.slice(0, lineStart) + lineText + old.result.text.slice(oldLineEnd),
      annotations: [...before(old.result.annotations), ...redone.annotations, ...after(old.result.annotations)],
      statementMacros: [...before(old.result.statementMacros), ...redone.statementMacros, ...after(old.result.statementMacros)],
    },
    comments: old.comments.map((p) => (p >= oldLineEnd ? p + delta : p)),
    line: { start: lineStart, oldEnd: oldLineEnd, newEnd: newLineEnd },
  };
}
