// A flag of one member tested or set on another: the bit means something else there (or nothing),
// and the test silently checks the wrong thing. Reported only when the struct type is known.
import type { Node } from 'web-tree-sitter';
import { endsExpression, fieldOwner, kernelFlagIndex } from '../analyses/flags/kernel';
import { fieldKey } from '../analyses/flags/model';
import type { Rule } from './rule';

/**
 * The member expressions a flag identifier is applied to: each enclosing `x.m & ...`, `x.m | ...`
 * (either side) or `x.m op= ...` (the flag on the right) along the way up from the identifier.
 */
function memberOperands(id: Node): Node[] {
  const out: Node[] = [];
  for (let c: Node = id, p = id.parent; p; c = p, p = p.parent) {
    let fe: Node | null = null;
    if (p.type === 'binary_expression' && /^[&|]$/.test(p.childForFieldName('operator')?.type ?? '')) {
      const l = p.childForFieldName('left');
      const r = p.childForFieldName('right');
      fe = l?.id === c.id ? r : r?.id === c.id ? l : null;
    } else if (p.type === 'assignment_expression' && p.childForFieldName('right')?.id === c.id) fe = p.childForFieldName('left');
    if (fe?.type === 'field_expression') out.push(fe);
    if (endsExpression(p)) break;
  }
  return out;
}

export const flagWrongField: Rule = {
  id: 'flag-wrong-field',
  defaultSeverity: 'error',
  summary: 'A flag of one uapi member is tested or set on another member or struct.',
  scope: 'kernel',
  run(ctx, report) {
    const index = kernelFlagIndex(ctx);
    if (!index.macros.size) return;
    const families = new Set<string>();
    for (const m of index.macros.values()) if (m.field?.kind === 'flags') families.add(fieldKey(m.field.owner, m.field.member));
    // From the flag identifiers up to the member they are used on: resolving the owner of every
    // member expression of the file is the cost this avoids.
    const uses: { fe: Node; id: Node }[] = [];
    for (const [name, m] of index.macros) {
      if (m.field?.kind !== 'flags') continue;
      for (const id of index.tokens(name)) if (id.type === 'identifier') for (const fe of memberOperands(id)) uses.push({ fe, id });
    }
    uses.sort((a, b) => a.fe.startIndex - b.fe.startIndex || a.id.startIndex - b.id.startIndex);
    for (const { fe, id } of uses) {
      const m = index.macros.get(id.text)!;
      const at = fieldOwner(fe);
      if (!at || !families.has(fieldKey(at.owner, at.member))) continue;
      if (m.field!.owner === at.owner && m.field!.member === at.member) continue;
      report({
        range: { start: { line: id.startPosition.row, character: id.startPosition.column }, end: { line: id.endPosition.row, character: id.endPosition.column } },
        message: `${m.name} is a flag of ${m.field!.owner}.${m.field!.member}, but it is used on ${at.base}${fe.text.includes('->') ? '->' : '.'}${at.member}, a ${at.owner}: that bit means something else there.`,
        related: [{ file: m.file, range: { start: { line: m.line, character: m.character }, end: { line: m.line, character: m.character + m.name.length } }, message: `${m.name} is defined for ${m.field!.owner}.${m.field!.member} here` }],
      });
    }
  },
};
