// A union member read or written on a path where its discriminant flag says another member is the
// active one: userspace reads the member the flag selects and gets these bytes reinterpreted, or
// the kernel reads bytes userspace wrote as the other member.
import { kernelFlagIndex } from '../analyses/flags/kernel';
import { inactiveUnionUses } from '../analyses/flags/paths';
import type { Rule } from './rule';

export const unionInactiveMember: Rule = {
  id: 'union-inactive-member',
  defaultSeverity: 'warning',
  summary: 'A union member read or written on a path where its discriminant flag selects another member.',
  scope: 'kernel',
  run(ctx, report) {
    const index = kernelFlagIndex(ctx);
    if (!index.discriminants.length) return;
    for (const u of inactiveUnionUses(index.discriminants, index.tokens)) {
      const d = u.discriminant;
      const ev = d.evidence[0];
      const how = u.known.how === 'tested' ? 'tested' : u.known.how === 'set' ? 'set' : 'cleared';
      report({
        range: u.range,
        message: `${u.owner}.${u.member} is the active member only when ${d.flag} is ${d.when}, but it is ${u.access === 'write' ? 'written' : 'read'} where ${d.flag} is ${u.known.state}.`,
        related: [
          { file: ev.file, range: { start: { line: ev.line, character: 0 }, end: { line: ev.line, character: 0 } }, message: `the discriminant is stated here (${ev.source})` },
          { file: ctx.file, range: { start: { line: u.known.line, character: u.known.character }, end: { line: u.known.line, character: u.known.character } }, message: `${d.flag} is ${u.known.state} on this path: ${how} here` },
        ],
      });
    }
  },
};
