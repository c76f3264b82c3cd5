// Functions whose statements nest deeper than the control-flow analysis takes (MAX_CFG_DEPTH):
// the lock, flag and union analyses leave them out, and the file says so rather than report
// nothing about them. Found cheaply: a scan of the parse text's braces picks the candidates, and
// only those are built into a CFG to be sure.
import type { Node, Tree } from 'web-tree-sitter';
import { declaratorName } from '../analyses/locks/extract';
import { buildCfg, CfgTooDeep, MAX_CFG_DEPTH } from './build';

/** A block is two levels of the builder (the statement and its braces); below this brace depth no body is too deep. */
const CANDIDATE_BRACE_DEPTH = Math.floor(MAX_CFG_DEPTH / 2) - 10;

export interface TooDeepFunction {
  name: string;
  /** What nests too deep: its statements (the CFG) or an expression (the lock extraction's walk). */
  what: 'statements' | 'expressions';
  /** The function's first line (0-based). */
  line: number;
}

/**
 * Offsets in `text` where the brace depth, or the parenthesis depth (expressions nested too deep
 * for the lock extraction), first exceeds the candidate depth, one per run of depth.
 */
function deepOffsets(text: string): number[] {
  const out: number[] = [];
  let braces = 0;
  let parens = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 123 /* { */) {
      if (++braces === CANDIDATE_BRACE_DEPTH + 1) out.push(i);
    } else if (c === 125 /* } */ && braces > 0) braces--;
    else if (c === 40 /* ( */) {
      if (++parens === CANDIDATE_BRACE_DEPTH + 1) out.push(i);
    } else if (c === 41 /* ) */ && parens > 0) parens--;
  }
  return out;
}

export function tooDeepFunctions(tree: Tree, parseText: string): TooDeepFunction[] {
  const offsets = deepOffsets(parseText);
  if (!offsets.length) return [];
  const out: TooDeepFunction[] = [];
  const seen = new Set<number>();
  // Top-level nodes only: walking up `.parent` from a node thousands of levels deep is quadratic.
  for (const top of tree.rootNode.namedChildren) {
    // A body that does not parse is parse-incomplete's to report.
    if (!top || top.type !== 'function_definition' || top.hasError || !offsets.some((o) => o >= top.startIndex && o < top.endIndex) || seen.has(top.id)) continue;
    seen.add(top.id);
    const body = top.childForFieldName('body');
    const what = body ? tooDeep(body) : undefined;
    if (!what) continue;
    out.push({ name: declaratorName(top.childForFieldName('declarator')) ?? '(unnamed)', what, line: top.startPosition.row });
  }
  return out;
}

function tooDeep(body: Node): TooDeepFunction['what'] | undefined {
  try {
    buildCfg(body, { events: () => [] });
  } catch (e) {
    if (e instanceof CfgTooDeep) return 'statements';
    // Any other failure is the analyses' to report.
    return undefined;
  }
  return expressionDepth(body) > MAX_CFG_DEPTH ? 'expressions' : undefined;
}

/**
 * The longest chain of nested nodes below `body` with no statement between them: what the lock
 * extraction's expression walk recurses through. A cursor walk, so no recursion of our own.
 */
function expressionDepth(body: Node): number {
  const cursor = body.walk();
  // chain[i]: the run of non-statement nodes ending at the cursor's ancestor of depth i.
  const chain: number[] = [0];
  let deepest = 0;
  const enter = (): void => {
    const run = cursor.nodeType.endsWith('_statement') ? 0 : chain[chain.length - 1] + 1;
    chain.push(run);
    if (run > deepest) deepest = run;
  };
  try {
    for (;;) {
      if (cursor.gotoFirstChild()) {
        enter();
        continue;
      }
      for (;;) {
        if (chain.length === 1) return deepest;
        chain.pop();
        if (cursor.gotoNextSibling()) {
          enter();
          break;
        }
        cursor.gotoParent();
      }
    }
  } finally {
    cursor.delete();
  }
}
