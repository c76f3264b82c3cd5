// A union member written in the branch where its discriminant flag says the other member is the
// active one: userspace reads the member the flag selects and gets these bytes reinterpreted.
import { fieldOwner, kernelFlagIndex } from '../analyses/flags/kernel';
import { testedFlags, writtenMembers } from '../analyses/flags/discriminants';
import type { Rule } from './rule';

export const unionInactiveMember: Rule = {
  id: 'union-inactive-member',
  defaultSeverity: 'warning',
  summary: 'A union member written where its discriminant flag selects another member.',
  scope: 'kernel',
  run(ctx, report) {
    const index = kernelFlagIndex(ctx);
    if (!index.discriminants.length) return;
    const flags = new Set(index.discriminants.map((d) => d.flag));
    for (const ifs of ctx.source.tree.rootNode.descendantsOfType('if_statement')) {
      const cond = ifs?.childForFieldName('condition');
      if (!ifs || !cond || cond.text.includes('!') || cond.text.includes('||')) continue;
      const tests = testedFlags(cond, (n) => flags.has(n));
      if (tests.length !== 1) continue;
      const flag = tests[0].flag;
      const branches: ['set' | 'clear', ReturnType<typeof writtenMembers>][] = [['set', writtenMembers(ifs.childForFieldName('consequence'))], ['clear', writtenMembers(ifs.childForFieldName('alternative'))]];
      for (const [state, writes] of branches) {
        for (const w of writes) {
          const at = fieldOwner(w.node);
          if (!at) continue;
          const d = index.discriminants.find((x) => x.owner === at.owner && x.member === at.member && x.flag === flag);
          if (!d || d.when === state) continue;
          const ev = d.evidence[0];
          report({
            range: { start: { line: w.node.startPosition.row, character: w.node.startPosition.column }, end: { line: w.node.endPosition.row, character: w.node.endPosition.column } },
            message: `${at.owner}.${at.member} is the active member only when ${flag} is ${d.when}, but it is written where ${flag} is ${state}.`,
            related: [{ file: ev.file, range: { start: { line: ev.line, character: 0 }, end: { line: ev.line, character: 0 } }, message: `the discriminant is stated here (${ev.source})` }],
          });
        }
      }
    }
  },
};
