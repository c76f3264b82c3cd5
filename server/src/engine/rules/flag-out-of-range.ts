// A flag or sentinel whose value the member cannot hold is silently converted: -1 in a __u32 is
// 0xffffffff, and whether a comparison with the macro still holds depends on the other operand's
// width and signedness (and on the language userspace is written in).
import { uapiFlagModel } from '../analyses/flags';
import { hex } from '../analyses/flags/model';
import { lineRange, type Rule } from './rule';

export const flagOutOfRange: Rule = {
  id: 'flag-out-of-range',
  defaultSeverity: 'warning',
  summary: 'A flag or sentinel value does not fit the type or sign of the member it belongs to.',
  scope: 'uapi',
  run(ctx, report) {
    const model = uapiFlagModel(ctx);
    if (!model) return;
    for (const m of model.macros.values()) {
      const f = m.field;
      if (m.file !== ctx.file || !f || !m.value || f.size === undefined || f.signed === undefined) continue;
      const bits = BigInt(f.size * 8);
      const v = m.value.unsigned ? m.value.v & ((1n << 64n) - 1n) : m.value.v;
      const min = f.signed ? -(1n << (bits - 1n)) : 0n;
      const max = f.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
      if (v >= min && v <= max) continue;
      const stored = f.signed ? BigInt.asIntN(Number(bits), v) : BigInt.asUintN(Number(bits), v);
      const where = `${f.owner}.${f.member} (${f.typeText})`;
      let how: string;
      if (v < 0n && !f.signed) {
        how = `stored in ${where} it becomes ${hex(stored)}. \`${f.member} == ${m.name}\` holds only while both sides are converted to a ${f.size * 8}-bit unsigned type: it is false once ${f.member} is copied to a wider or signed variable (a u64, an int64_t, a Rust i64), and \`${f.member} < 0\` is never true. Define it as ${hex(stored)}${f.size === 4 ? 'U' : ''} (or (${f.typeText})${m.body}) so the uapi says the value the member holds`;
      } else {
        how = `it does not fit in ${where}, which can hold ${min} to ${hex(max)}: stored, it becomes ${hex(stored)}${stored === 0n ? ', indistinguishable from no flag at all' : ''}`;
      }
      report({
        range: lineRange(m.line, m.character, m.name.length),
        message: `${m.name} is ${v < 0n ? v.toString() : hex(v)}, but ${how}.`,
        related: [{ file: f.file, range: lineRange(f.pos.line, f.pos.character, f.member.length), message: `${f.owner}.${f.member} is declared here as ${f.typeText}` }],
      });
    }
  },
};
