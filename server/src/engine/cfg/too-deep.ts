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
  /** The function's first line (0-based). */
  line: number;
}

/** Offsets in `text` where the brace depth first exceeds the candidate depth, one per run of depth. */
function deepOffsets(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 123 /* { */) {
      if (++depth === CANDIDATE_BRACE_DEPTH + 1) out.push(i);
    } else if (c === 125 /* } */ && depth > 0) depth--;
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
    if (!body || !isTooDeep(body)) continue;
    out.push({ name: declaratorName(top.childForFieldName('declarator')) ?? '(unnamed)', line: top.startPosition.row });
  }
  return out;
}

function isTooDeep(body: Node): boolean {
  try {
    buildCfg(body, { events: () => [] });
    return false;
  } catch (e) {
    if (e instanceof CfgTooDeep) return true;
    // Any other failure is the analyses' to report.
    return false;
  }
}
