// A flag of one member tested or set on another: the bit means something else there (or nothing),
// and the test silently checks the wrong thing. Reported only when the struct type is known.
import { fieldOwner, kernelFlagIndex } from '../analyses/flags/kernel';
import { fieldKey } from '../analyses/flags/model';
import type { Rule } from './rule';

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
    for (const fe of ctx.source.tree.rootNode.descendantsOfType('field_expression')) {
      if (!fe) continue;
      const p = fe.parent;
      if (!p) continue;
      let other = null;
      if (p.type === 'binary_expression' && /^[&|]$/.test(p.childForFieldName('operator')?.type ?? '')) other = p.childForFieldName('left')?.id === fe.id ? p.childForFieldName('right') : p.childForFieldName('left');
      else if (p.type === 'assignment_expression' && p.childForFieldName('left')?.id === fe.id) other = p.childForFieldName('right');
      if (!other) continue;
      const at = fieldOwner(fe);
      if (!at || !families.has(fieldKey(at.owner, at.member))) continue;
      const ids = other.type === 'identifier' ? [other] : other.descendantsOfType('identifier');
      for (const id of ids) {
        const m = id && index.macros.get(id.text);
        if (!id || !m?.field || m.field.kind !== 'flags') continue;
        if (m.field.owner === at.owner && m.field.member === at.member) continue;
        report({
          range: { start: { line: id.startPosition.row, character: id.startPosition.column }, end: { line: id.endPosition.row, character: id.endPosition.column } },
          message: `${m.name} is a flag of ${m.field.owner}.${m.field.member}, but it is used on ${at.base}${fe.text.includes('->') ? '->' : '.'}${at.member}, a ${at.owner}: that bit means something else there.`,
          related: [{ file: m.file, range: { start: { line: m.line, character: m.character }, end: { line: m.line, character: m.character + m.name.length } }, message: `${m.name} is defined for ${m.field.owner}.${m.field.member} here` }],
        });
      }
    }
  },
};
