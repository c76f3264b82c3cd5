// A flag documented as meaningful only together with another ("available only when X is set")
// set or tested in a function that never looks at that other flag.
import type { Node } from 'web-tree-sitter';
import { kernelFlagIndex } from '../analyses/flags/kernel';
import type { FlagDependency } from '../analyses/flags/model';
import type { Rule } from './rule';

export const flagDependency: Rule = {
  id: 'flag-dependency',
  defaultSeverity: 'warning',
  summary: 'A flag set or tested without the flag it depends on.',
  scope: 'kernel',
  run(ctx, report) {
    const index = kernelFlagIndex(ctx);
    if (!index.dependencies.length) return;
    // From each use of a dependent flag to the functions around it: walking the identifiers of
    // every function is the cost this avoids.
    const uses: { fn: Node; dep: FlagDependency; use: Node }[] = [];
    const within = (n: Node, fn: Node) => n.startIndex >= fn.startIndex && n.endIndex <= fn.endIndex;
    index.dependencies.forEach((dep) => {
      const flags = index.tokens(dep.flag).filter((n) => n.type === 'identifier');
      const required = index.tokens(dep.requires).filter((n) => n.type === 'identifier');
      const seen = new Set<number>();
      for (const id of flags) {
        for (let fn = id.parent; fn; fn = fn.parent) {
          if (fn.type !== 'function_definition' || seen.has(fn.id)) continue;
          seen.add(fn.id);
          if (required.some((r) => within(r, fn!))) continue;
          // Clearing the flag (`&= ~F`) never needs the other one.
          const use = flags.find((n) => within(n, fn!) && n.parent?.type !== 'unary_expression');
          if (use) uses.push({ fn, dep, use });
        }
      }
    });
    // In the order of the functions, then of the dependencies.
    const order = new Map(index.dependencies.map((d, i) => [d, i]));
    uses.sort((a, b) => a.fn.startIndex - b.fn.startIndex || order.get(a.dep)! - order.get(b.dep)!);
    for (const { dep, use } of uses) {
      report({
        range: { start: { line: use.startPosition.row, character: use.startPosition.column }, end: { line: use.endPosition.row, character: use.endPosition.column } },
        message: `${dep.flag} is only meaningful when ${dep.requires} is set, but this function never sets or tests ${dep.requires}.`,
        related: [{ file: dep.evidence.file, range: { start: { line: dep.evidence.line, character: 0 }, end: { line: dep.evidence.line, character: 0 } }, message: `the dependency is stated here (${dep.evidence.source})` }],
      });
    }
  },
};
