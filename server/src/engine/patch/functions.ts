// The functions a patch changes: their names find the other files whose findings may change
// (callers of a function whose lock contract changed, users of a callback).
import type { Node, Tree } from 'web-tree-sitter';
import { parseText } from '../parse/parser';

export interface ChangedFunction {
  name: string;
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
}

/** Top-level function definitions of `parseTextOfFile` (blanked, neutralised) that contain one of `lines` (1-based). */
export function functionsAt(parseTextOfFile: string, lines: Iterable<number>): ChangedFunction[] {
  const wanted = [...lines];
  if (wanted.length === 0) return [];
  const tree = parseText(parseTextOfFile);
  try {
    return functionsInTree(tree, wanted);
  } finally {
    tree.delete();
  }
}

/** The same on a tree already parsed from the file's parse text (the analyser's, when it has one). */
export function functionsInTree(tree: Tree, lines: Iterable<number>): ChangedFunction[] {
  const wanted = [...lines].sort((a, b) => a - b);
  if (wanted.length === 0) return [];
  const out: ChangedFunction[] = [];
  for (const top of tree.rootNode.namedChildren) {
    if (!top || top.type !== 'function_definition') continue;
    const start = top.startPosition.row + 1;
    const end = top.endPosition.row + 1;
    if (!wanted.some((l) => l >= start && l <= end)) continue;
    const name = functionName(top);
    if (name) out.push({ name, startLine: start, endLine: end });
  }
  return out;
}

function functionName(def: Node): string | undefined {
  let n: Node | null = def.childForFieldName('declarator');
  for (let i = 0; n && i < 20; i++) {
    if (n.type === 'function_declarator') {
      const d = n.childForFieldName('declarator');
      return d?.type === 'identifier' ? d.text : undefined;
    }
    n = n.childForFieldName('declarator');
  }
  return undefined;
}
