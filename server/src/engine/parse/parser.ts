// web-tree-sitter with the C grammar: loaded once per process (or worker), then parses blanked
// text. Keeps incremental state for documents so an edit reparses only what changed.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Edit, Language, Parser, Tree } from 'web-tree-sitter';

let ready: Promise<Parser> | undefined;
let parserInstance: Parser | undefined;
/** Trees made by parseText/reparseByDiff and not yet deleted: a leak shows as a count that grows. */
let liveTrees = 0;

export function liveTreeCount(): number {
  return liveTrees;
}

/** Counts deletions once per process (every tree of the engine is deleted through this method). */
function countDeletions(): void {
  const proto = Tree.prototype as unknown as { delete(): void; vfioReviewCounted?: boolean };
  if (proto.vfioReviewCounted) return;
  const original = proto.delete;
  proto.delete = function (this: Tree) {
    liveTrees--;
    original.call(this);
  };
  proto.vfioReviewCounted = true;
}

/** Directories searched for the wasm files: beside the bundle (dist/), then the source tree. */
function wasmPath(file: string): string {
  const here = typeof __dirname === 'string' ? __dirname : process.cwd();
  const candidates = [
    path.join(here, file),
    path.join(here, '..', 'grammars', file),
    path.join(here, '..', '..', '..', '..', 'grammars', file),
    path.join(here, '..', 'node_modules', 'web-tree-sitter', file),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`vfio-review: cannot find ${file} (looked in ${candidates.join(', ')})`);
  return found;
}

export function loadParser(): Promise<Parser> {
  ready ??= (async () => {
    await Parser.init({ locateFile: (name: string) => wasmPath(name) });
    const language = await Language.load(wasmPath('tree-sitter-c.wasm'));
    const parser = new Parser();
    parser.setLanguage(language);
    countDeletions();
    parserInstance = parser;
    return parser;
  })();
  return ready;
}

export function parser(): Parser {
  if (!parserInstance) throw new Error('vfio-review: parser used before loadParser() finished');
  return parserInstance;
}

/**
 * Comments in a row (only whitespace between them) that tree-sitter is given at most. Some
 * thousands of them inside nested constructs overflow its wasm stack, which corrupts the module
 * for the rest of the process; real code has a few in a row.
 */
export const MAX_COMMENT_RUN = 1024;

/**
 * `text` with the comments of a run beyond MAX_COMMENT_RUN blanked (newlines kept, so positions
 * do not move). Linear: each `/` is looked at once, and a block comment that never ends is
 * searched for once.
 */
export function boundCommentRuns(text: string, max = MAX_COMMENT_RUN): string {
  if (text.length < max * 4) return text;
  let noBlockEndFrom = Infinity;
  const commentEnd = (i: number): number => {
    const c = text.charCodeAt(i + 1);
    if (c === 42) {
      if (i >= noBlockEndFrom) return -1;
      const e = text.indexOf('*/', i + 2);
      if (e < 0) noBlockEndFrom = i;
      return e < 0 ? -1 : e + 2;
    }
    if (c === 47) {
      const e = text.indexOf('\n', i + 2);
      return e < 0 ? text.length : e;
    }
    return -1;
  };
  const parts: string[] = [];
  let copied = 0;
  for (let i = text.indexOf('/'); i >= 0; ) {
    let run = 0;
    let j = i;
    let end = i + 1;
    let blankFrom = -1;
    for (;;) {
      const e = commentEnd(j);
      if (e < 0) break;
      if (++run === max + 1) blankFrom = j;
      end = e;
      j = e;
      while (j < text.length && (text.charCodeAt(j) <= 32)) j++;
      if (text.charCodeAt(j) !== 47) break;
    }
    if (blankFrom >= 0) {
      parts.push(text.slice(copied, blankFrom), text.slice(blankFrom, end).replace(/[^\n]/g, ' '));
      copied = end;
    }
    i = text.indexOf('/', Math.max(end, i + 1));
  }
  return parts.length ? parts.join('') + text.slice(copied) : text;
}

/** Parses text from scratch (the tree is the caller's to delete). */
export function parseText(text: string): Tree {
  const tree = parser().parse(boundCommentRuns(text));
  if (!tree) throw new Error('vfio-review: tree-sitter returned no tree');
  liveTrees++;
  return tree;
}

function pointAt(text: string, index: number): { row: number; column: number } {
  let row = 0;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) {
    row++;
    lineStart = i + 1;
  }
  return { row, column: index - lineStart };
}

/**
 * Reparses `newText` reusing `old` (built from `oldText`): the changed span is found by common
 * prefix and suffix and given to tree.edit(), so tree-sitter reuses everything around it. Used for
 * preprocessor variants, whose edits are not known as ranges. The old tree is deleted.
 */
export function reparseByDiff(old: Tree, oldText: string, newText: string): Tree {
  if (oldText === newText) return old;
  // The tree was parsed from the bounded text: diff the texts tree-sitter actually saw.
  oldText = boundCommentRuns(oldText);
  newText = boundCommentRuns(newText);
  let start = 0;
  const max = Math.min(oldText.length, newText.length);
  while (start < max && oldText.charCodeAt(start) === newText.charCodeAt(start)) start++;
  let oldEnd = oldText.length;
  let newEnd = newText.length;
  while (oldEnd > start && newEnd > start && oldText.charCodeAt(oldEnd - 1) === newText.charCodeAt(newEnd - 1)) {
    oldEnd--;
    newEnd--;
  }
  old.edit(new Edit({
    startIndex: start,
    oldEndIndex: oldEnd,
    newEndIndex: newEnd,
    startPosition: pointAt(oldText, start),
    oldEndPosition: pointAt(oldText, oldEnd),
    newEndPosition: pointAt(newText, newEnd),
  }));
  const tree = parser().parse(newText, old);
  old.delete();
  if (!tree) throw new Error('vfio-review: tree-sitter returned no tree');
  liveTrees++;
  return tree;
}
