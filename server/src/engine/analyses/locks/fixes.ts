// A quick fix for a lock contract that a function only inherits: it calls a function that needs
// a lock reached through its own parameters, without holding it or saying so. Adding
// lockdep_assert_held() at its start states the contract where a reader looks (and lockdep then
// checks every caller at run time); the analysis already treats it as a requirement.
import type { Node, Tree } from 'web-tree-sitter';
import type { Analyser } from '../../analyser';
import type { Fix, Range } from '../../types';
import { lockAnalysisOf } from './index';

export function inheritedLockFixes(a: Analyser, file: string, range: Range): Fix[] {
  const root = a.rootFor(file);
  const src = a.store.read(file);
  if (!src) return [];
  const { result } = lockAnalysisOf({ store: a.store, root, file, lockIndex: a.settings.lockIndex });
  const fixes: Fix[] = [];
  for (const [fn, summary] of result.summaries) {
    if (fn.file !== file || range.start.line < fn.at.line || range.start.line > fn.at.endLine) continue;
    const inherited = [...summary.requires.values()].filter((r) => r.chain.length > 0 && r.path.root.kind === 'param' && r.path.display);
    if (inherited.length === 0) continue;
    const at = a.withTree(file, (tree) => insertionPoint(tree, fn.at.line));
    if (!at) continue;
    for (const req of inherited) {
      const lock = req.path.display!.replace(/^&/, '');
      fixes.push({
        title: `Add lockdep_assert_held(&${lock}) to ${fn.name}() (it calls ${req.chain[0].fn}(), which needs the lock)`,
        edits: [{ range: { start: at, end: at }, newText: `\tlockdep_assert_held(&${lock});\n\n` }],
      });
    }
  }
  return fixes;
}

/** The start of the first statement of the function defined at `line`, after its declarations. */
function insertionPoint(tree: Tree, line: number): { line: number; character: number } | undefined {
  const def = tree.rootNode.namedChildren.find((n): n is Node => !!n && n.type === 'function_definition' && n.startPosition.row <= line && line <= n.endPosition.row);
  const body = def?.childForFieldName('body');
  if (!body) return undefined;
  const statements = body.namedChildren.filter((n): n is Node => !!n && n.type !== 'comment');
  const first = statements.find((n) => n.type !== 'declaration');
  if (!first) return undefined;
  return { line: first.startPosition.row, character: 0 };
}
