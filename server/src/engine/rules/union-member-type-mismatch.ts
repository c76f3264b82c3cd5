// A constant assigned to a union member that its type cannot hold: -1 in a __u32 member becomes
// 0xffffffff, and every reader of the other members of the union sees that pattern too.
import type { Node } from 'web-tree-sitter';
import { fieldOwner, kernelFlagIndex } from '../analyses/flags/kernel';
import { fieldKey, hex } from '../analyses/flags/model';
import type { Rule } from './rule';

export const unionMemberTypeMismatch: Rule = {
  id: 'union-member-type-mismatch',
  defaultSeverity: 'warning',
  summary: 'A constant assigned to a uapi union member does not fit its type (a negative value in a __u32).',
  scope: 'kernel',
  run(ctx, report) {
    const index = kernelFlagIndex(ctx);
    if (!index.fields.size) return;
    // From the names of union members to the assignments whose left side is one: resolving the
    // owner of every assignment of the file is the cost this avoids.
    const assignments = new Map<number, Node>();
    for (const f of index.fields.values()) {
      if (!f.unionSiblings) continue;
      for (const name of index.tokens(f.member)) {
        const fe = name.type === 'field_identifier' ? name.parent : null;
        const a = fe?.type === 'field_expression' && fe.childForFieldName('field')?.id === name.id ? fe.parent : null;
        if (a?.type === 'assignment_expression' && a.childForFieldName('left')?.id === fe!.id) assignments.set(a.id, a);
      }
    }
    for (const a of [...assignments.values()].sort((x, y) => x.startIndex - y.startIndex)) {
      if (a.childForFieldName('operator')?.type !== '=') continue;
      const l = a.childForFieldName('left');
      const r = a.childForFieldName('right');
      if (l?.type !== 'field_expression' || !r) continue;
      const at = fieldOwner(l);
      const f = at && index.fields.get(fieldKey(at.owner, at.member));
      if (!at || !f?.unionSiblings || f.size === undefined || f.signed === undefined) continue;
      const v = index.evaluate(at.owner, r.text);
      if (!v) continue;
      const bits = BigInt(f.size * 8);
      const x = v.unsigned ? v.v & ((1n << 64n) - 1n) : v.v;
      const min = f.signed ? -(1n << (bits - 1n)) : 0n;
      const max = f.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
      if (x >= min && x <= max) continue;
      const stored = f.signed ? BigInt.asIntN(Number(bits), x) : BigInt.asUintN(Number(bits), x);
      report({
        range: { start: { line: r.startPosition.row, character: r.startPosition.column }, end: { line: r.endPosition.row, character: r.endPosition.column } },
        message: `${r.text} is ${x < 0n ? x : hex(x)}, but ${at.owner}.${at.member} is ${f.typeText}: it stores ${hex(stored)}${f.unionSiblings.length ? `, which ${f.unionSiblings.join(', ')} (sharing its bytes) also read` : ''}. Userspace comparing it with a signed or wider ${x < 0n ? x : hex(x)} will not match.`,
      });
    }
  },
};
