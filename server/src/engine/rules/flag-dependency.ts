// A flag documented as meaningful only together with another ("available only when X is set")
// set or tested in a function that never looks at that other flag.
import { kernelFlagIndex } from '../analyses/flags/kernel';
import type { Rule } from './rule';

export const flagDependency: Rule = {
  id: 'flag-dependency',
  defaultSeverity: 'warning',
  summary: 'A flag set or tested without the flag it depends on.',
  scope: 'kernel',
  run(ctx, report) {
    const index = kernelFlagIndex(ctx);
    if (!index.dependencies.length) return;
    for (const fn of ctx.source.tree.rootNode.descendantsOfType('function_definition')) {
      // Walking a function's identifiers is the cost: only where a dependent flag is written at all.
      if (!fn || !index.dependencies.some((d) => fn.text.includes(d.flag))) continue;
      const ids = fn.descendantsOfType('identifier').filter((n) => !!n);
      const names = new Set(ids.map((n) => n!.text));
      for (const dep of index.dependencies) {
        if (!names.has(dep.flag) || names.has(dep.requires)) continue;
        // Clearing the flag (`&= ~F`) never needs the other one.
        const use = ids.find((n) => n!.text === dep.flag && n!.parent?.type !== 'unary_expression');
        if (!use) continue;
        report({
          range: { start: { line: use.startPosition.row, character: use.startPosition.column }, end: { line: use.endPosition.row, character: use.endPosition.column } },
          message: `${dep.flag} is only meaningful when ${dep.requires} is set, but this function never sets or tests ${dep.requires}.`,
          related: [{ file: dep.evidence.file, range: { start: { line: dep.evidence.line, character: 0 }, end: { line: dep.evidence.line, character: 0 } }, message: `the dependency is stated here (${dep.evidence.source})` }],
        });
      }
    }
  },
};
