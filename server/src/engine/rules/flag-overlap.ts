// Two flags of one member that share a bit cannot both be tested: setting one sets part of the
// other, and userspace built against one reading cannot tell them apart.
import { uapiFlagModel } from '../analyses/flags';
import { bitsOf, hex, type FlagField, type FlagMacro } from '../analyses/flags/model';
import { lineRange, type Rule } from './rule';

export const flagOverlap: Rule = {
  id: 'flag-overlap',
  defaultSeverity: 'error',
  summary: 'Two flags of the same uapi member share bits (masks excepted).',
  scope: 'uapi',
  run(ctx, report) {
    const model = uapiFlagModel(ctx);
    if (!model) return;
    const byField = new Map<FlagField, FlagMacro[]>();
    for (const m of model.macros.values()) {
      if (m.file !== ctx.file || !m.field || m.field.kind !== 'flags' || !m.value || m.mask) continue;
      if (/(SHIFT|OFFSET|_BIT)$/.test(m.name) || bitsOf(m.value) === 0n) continue;
      byField.set(m.field, [...(byField.get(m.field) ?? []), m]);
    }
    // Values of a multi-bit sub-field (feature numbers under VFIO_DEVICE_FEATURE_MASK) are not
    // flags: they share bits by design.
    const masks = [...model.macros.values()].filter((m) => m.namedMask && m.value);
    const inSubField = (m: FlagMacro) => masks.some((k) => k.field === m.field && (bitsOf(m.value!) & ~bitsOf(k.value!)) === 0n);
    for (const [field, all] of byField) {
      const list = all.filter((m) => !inSubField(m));
      list.sort((a, b) => a.line - b.line);
      for (let i = 1; i < list.length; i++) {
        const m = list[i];
        const prev = list.slice(0, i).find((o) => (bitsOf(o.value!) & bitsOf(m.value!)) !== 0n);
        if (!prev) continue;
        const shared = bitsOf(prev.value!) & bitsOf(m.value!);
        report({
          range: lineRange(m.line, m.character, m.name.length),
          message: `${m.name} (${hex(bitsOf(m.value!))}) shares bit${(shared & (shared - 1n)) === 0n ? '' : 's'} ${hex(shared)} with ${prev.name} (${hex(bitsOf(prev.value!))}), both flags of ${field.owner}.${field.member}; give it a bit of its own, or name it *_MASK if it is meant to cover the others.`,
          related: [{ file: prev.file, range: lineRange(prev.line, prev.character, prev.name.length), message: `${prev.name} is defined here` }],
        });
      }
    }
  },
};
