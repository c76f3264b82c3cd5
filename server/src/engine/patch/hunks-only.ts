// When the tree is missing or a hunk does not apply, a file can still be reviewed from its hunks:
// each side is rebuilt with every hunk line at its own line number (the rest empty), and only the
// top-level constructs the hunks show whole are kept, so no check sees half a function or half a
// struct. Each run of consecutive lines (a hunk, or hunks that touch) is parsed on its own, so a
// construct cut at one run's end cannot swallow the next run's text. What a run starts with may be
// the end of something the hunk cut (the tail of a comment, of a macro, of a function or struct
// body): that is recognised first and blanked; then tree-sitter parses the rest, and top-level
// pieces that have parse errors, do not start in column 0 (kernel style: a statement or member
// of an enclosing body) or are dangling `#if`/`#endif` halves are blanked too. A conditional
// block the run holds whole is one construct; one it cuts loses its directive lines and keeps
// what is whole inside it. `#define`s (blanked in the text tree-sitter sees) are constructs of
// their own unless a kept or blanked construct holds them (a flag define in a struct body).
//
// Synchronous: the caller loads the parser first (`await loadParser()`; the Analyser does).
import { blankKernelC } from '../parse/blank';
import { parseText } from '../parse/parser';
import { scanDirectives, type Directive } from '../preprocess/directives';
import { neutraliseDirectives } from '../preprocess/neutralise';
import type { FilePatch } from './types';
import type { Node } from 'web-tree-sitter';

/** 1-based, inclusive line numbers. */
export interface LineSpan {
  start: number;
  end: number;
}

export interface HunksOnlyTexts {
  /** The old side: hunk lines at their old line numbers, only the complete constructs kept, other lines empty. */
  oldText: string;
  newText: string;
  /** The spans of the constructs kept on each side (one per construct; constructs sharing a line are one). */
  oldKept: LineSpan[];
  newKept: LineSpan[];
}

/** Side texts are rebuilt line by line; a header claiming lines beyond this is not followed there. */
const MAX_SIDE_LINES = 2_000_000;

/** Top-level node types that are whole constructs when they parse cleanly. */
const CONSTRUCTS = new Set([
  'function_definition', 'declaration', 'type_definition', 'struct_specifier', 'union_specifier',
  'enum_specifier', ';', 'comment', 'linkage_specification', 'expression_statement',
]);
const CONDITIONALS = new Set(['preproc_if', 'preproc_ifdef', 'preproc_else', 'preproc_elif', 'preproc_elifdef']);

export function hunksOnlyTexts(file: FilePatch): HunksOnlyTexts {
  const oldSide = sideLines(file, 'old');
  const newSide = sideLines(file, 'new');
  const oldKept = keepComplete(oldSide);
  const newKept = keepComplete(newSide);
  return { oldText: render(oldSide), newText: render(newSide), oldKept, newKept };
}

interface Side {
  /** Line texts by 0-based row; undefined where no hunk line is. */
  lines: (string | undefined)[];
  /** Rows two hunks give different texts (overlapping hunks that disagree): never kept. */
  conflicts: Set<number>;
  /** Rows that survive; everything else is rendered empty. */
  kept: Uint8Array;
}

function sideLines(file: FilePatch, side: 'old' | 'new'): Side {
  const lines: (string | undefined)[] = [];
  const conflicts = new Set<number>();
  for (const h of file.hunks) {
    // Fallback numbering from the header, for lines the reader did not number.
    let next = side === 'old' ? (h.oldLines === 0 ? h.oldStart + 1 : h.oldStart) : (h.newLines === 0 ? h.newStart + 1 : h.newStart);
    for (const l of h.lines) {
      if (l.kind === (side === 'old' ? '+' : '-')) continue;
      const number = (side === 'old' ? l.oldLine : l.newLine) ?? next;
      next = number + 1;
      if (!Number.isInteger(number) || number < 1 || number > MAX_SIDE_LINES) continue;
      const row = number - 1;
      while (lines.length < row) lines.push(undefined);
      const before = lines[row];
      if (before !== undefined && before !== l.text) conflicts.add(row);
      lines[row] = before ?? l.text;
    }
  }
  return { lines, conflicts, kept: new Uint8Array(lines.length) };
}

function render(side: Side): string {
  if (side.lines.length === 0) return '';
  const out = new Array<string>(side.lines.length);
  for (let r = 0; r < side.lines.length; r++) out[r] = side.kept[r] ? side.lines[r]! : '';
  return out.join('\n') + '\n';
}

/** Marks the rows of the complete constructs in `side.kept` and returns their spans. */
function keepComplete(side: Side): LineSpan[] {
  const spans: LineSpan[] = [];
  let r = 0;
  while (r < side.lines.length) {
    if (side.lines[r] === undefined) {
      r++;
      continue;
    }
    let end = r;
    while (end + 1 < side.lines.length && side.lines[end + 1] !== undefined) end++;
    for (const span of keepInRun(side.lines.slice(r, end + 1) as string[], r)) {
      let clean = true;
      for (let row = span.start; row <= span.end && clean; row++) if (side.conflicts.has(row)) clean = false;
      if (!clean) continue;
      for (let row = span.start; row <= span.end; row++) side.kept[row] = 1;
      spans.push({ start: span.start + 1, end: span.end + 1 });
    }
    r = end + 1;
  }
  return spans;
}

/** A top-level piece of one run, by run-relative 0-based rows. */
interface Piece {
  start: number;
  end: number;
  good: boolean;
  /** A comment not in column 0: kept only beside the construct it trails. */
  trailing?: boolean;
}

/** The complete constructs of one run of consecutive lines, as 0-based rows of the side. */
function keepInRun(run: string[], firstRow: number): { start: number; end: number }[] {
  const lines = run.slice();
  const cutHead = cutTail(lines);
  for (let i = 0; i < cutHead; i++) lines[i] = '';
  const text = lines.join('\n');
  const directives = scanDirectives(text);
  const parseLines = neutraliseDirectives(blankKernelC(text).text, directives).split('\n');
  const pieces: Piece[] = [];
  // Conditionals whose partner is outside the run are blanked before parsing.
  for (const line of unmatchedConditionals(directives)) {
    parseLines[line] = parseLines[line].replace(/[^\r]/g, ' ');
    pieces.push({ start: line, end: line, good: false });
  }
  const tree = parseText(parseLines.join('\n'));
  try {
    for (const child of tree.rootNode.children) if (child) collectPieces(child, pieces);
  } finally {
    tree.delete();
  }
  // `#define`s (blanked in the parse text) outside every parsed piece are pieces of their own.
  const covered = new Uint8Array(lines.length);
  for (const p of pieces) for (let r = p.start; r <= p.end; r++) covered[r] = 1;
  for (const d of directives) {
    if (d.kind !== 'define' && d.kind !== 'undef' && d.kind !== 'include' && d.kind !== 'other') continue;
    if (d.line < cutHead || covered[d.line]) continue;
    const unterminated = /\\\s*$/.test(lines[d.endLine]);
    pieces.push({ start: d.line, end: d.endLine, good: !unterminated });
  }
  return groupPieces(pieces).filter((g) => g.good).map((g) => ({ start: g.start + firstRow, end: g.end + firstRow }));
}

function collectPieces(node: Node, out: Piece[]): void {
  const start = node.startPosition.row;
  // A node that ends with its line's newline ends at column 0 of the next row.
  const end = node.endPosition.column === 0 && node.endPosition.row > start ? node.endPosition.row - 1 : node.endPosition.row;
  if (CONDITIONALS.has(node.type)) {
    if (!node.hasError && node.startPosition.column === 0 && node.type !== 'preproc_else' && node.type !== 'preproc_elif' && node.type !== 'preproc_elifdef') {
      out.push({ start, end, good: true });
      return;
    }
    // Keep what is whole inside, drop the directive lines (and their condition).
    for (const child of node.children) {
      if (!child) continue;
      if (child.type.startsWith('#') || child.type === '\n' || child === node.childForFieldName('condition') || child === node.childForFieldName('name')) {
        out.push({ start: child.startPosition.row, end: child.startPosition.row, good: false });
      } else collectPieces(child, out);
    }
    return;
  }
  const column0 = node.startPosition.column === 0;
  const good = CONSTRUCTS.has(node.type) && !node.hasError && !node.isMissing && (column0 || node.type === ';' || node.type === 'comment');
  out.push({ start, end, good, trailing: node.type === 'comment' && !column0 });
}

/** Pieces that share a line are one construct: kept only when all of them are good. */
function groupPieces(pieces: Piece[]): Piece[] {
  pieces.sort((a, b) => a.start - b.start || a.end - b.end);
  const groups: Piece[] = [];
  for (const p of pieces) {
    const last = groups[groups.length - 1];
    if (last && p.start <= last.end) {
      last.end = Math.max(last.end, p.end);
      last.good &&= p.good;
      last.trailing &&= p.trailing;
    } else groups.push({ ...p });
  }
  for (const g of groups) if (g.trailing) g.good = false;
  return groups;
}

/** Lines of `#if`…`#endif` directives whose opening or closing is not in the run. */
function unmatchedConditionals(directives: Directive[]): number[] {
  const unmatched: number[] = [];
  const open: number[][] = [];
  for (const d of directives) {
    if (d.kind === 'if' || d.kind === 'ifdef' || d.kind === 'ifndef') open.push([d.line]);
    else if (d.kind === 'elif' || d.kind === 'elifdef' || d.kind === 'elifndef' || d.kind === 'else') {
      if (open.length) open[open.length - 1].push(d.line);
      else unmatched.push(d.line);
    } else if (d.kind === 'endif') {
      if (open.length) open.pop();
      else unmatched.push(d.line);
    }
  }
  for (const group of open) unmatched.push(...group);
  return unmatched;
}

/**
 * How many leading lines of a run are the end of a construct that began before it: the rest of
 * a block comment, of a macro's continuation lines, or of a body whose `{` is not in the run.
 */
function cutTail(lines: string[]): number {
  let cut = 0;
  const commentEnd = commentTailEnd(lines);
  if (commentEnd >= 0) cut = commentEnd + 1;
  // Kernel style starts every top-level construct in column 0: indented lines before the first
  // such line are the inside of something that began before the run.
  while (cut < lines.length && /^(\s|$)/.test(lines[cut])) cut++;
  // Continuation lines of a `#define` that started before the run.
  if (cut < lines.length && /\\\s*$/.test(lines[cut]) && !/^\s*#/.test(lines[cut])) {
    while (cut < lines.length && /\\\s*$/.test(lines[cut])) cut++;
    if (cut < lines.length) cut++;
  }
  // The line where the brace depth first reaches its lowest point closes what the run started in.
  let depth = 0;
  let lowest = 0;
  let lowestLine = -1;
  let inComment = false;
  for (let i = cut; i < lines.length; i++) {
    const line = lines[i];
    if (!inComment && /^\s*#/.test(line)) {
      while (i < lines.length && /\\\s*$/.test(lines[i])) i++;
      continue;
    }
    for (let c = 0; c < line.length; c++) {
      const ch = line[c];
      if (inComment) {
        if (ch === '*' && line[c + 1] === '/') {
          inComment = false;
          c++;
        }
      } else if (ch === '/' && line[c + 1] === '*') {
        inComment = true;
        c++;
      } else if (ch === '/' && line[c + 1] === '/') {
        break;
      } else if (ch === '"' || ch === "'") {
        c = closingQuote(line, c);
      } else if (ch === '{') {
        depth++;
      } else if (ch === '}') {
        depth--;
        if (depth < lowest) {
          lowest = depth;
          lowestLine = i;
        }
      }
    }
  }
  if (lowestLine < 0) return cut;
  // What follows a closing brace that is not the outermost one's is still inside: indented.
  cut = lowestLine + 1;
  while (cut < lines.length && /^(\s|$)/.test(lines[cut])) cut++;
  return cut;
}

/** The line of a `*` + `/` that comes before any comment opening: the run starts inside a comment. */
function commentTailEnd(lines: string[]): number {
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    for (let c = 0; c < line.length; c++) {
      const ch = line[c];
      if (ch === '*' && line[c + 1] === '/') return i;
      if (ch === '/' && (line[c + 1] === '*' || line[c + 1] === '/')) return -1;
      if (ch === '"' || ch === "'") {
        // Inside a comment an apostrophe is prose: only a quote closed on the same line is a literal.
        const close = closingQuote(line, c);
        if (close >= line.length) continue;
        c = close;
      }
    }
  }
  return -1;
}

function closingQuote(line: string, open: number): number {
  const q = line[open];
  for (let c = open + 1; c < line.length; c++) {
    if (line[c] === '\\') c++;
    else if (line[c] === q) return c;
  }
  return line.length;
}
