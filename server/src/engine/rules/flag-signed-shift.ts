// `1 << 31` shifts into the sign bit of int: the value is INT_MIN, and stored in a __u64 member it
// sign-extends to 0xffffffff80000000, setting 33 bits instead of one.
import { signedShiftIn, uapiFlagModel } from '../analyses/flags';
import { lineRange, type Rule } from './rule';

export const flagSignedShift: Rule = {
  id: 'flag-signed-shift',
  defaultSeverity: 'warning',
  summary: 'A flag value shifts a signed int into its sign bit (1 << 31): use 1U << 31 or _BITUL(31).',
  scope: 'uapi',
  run(ctx, report) {
    const model = uapiFlagModel(ctx);
    if (!model) return;
    for (const m of model.macros.values()) {
      if (m.file !== ctx.file || !m.field || !m.value) continue;
      const s = signedShiftIn(m.body);
      if (!s) continue;
      const f = m.field;
      const wide = f.size === 8 ? ` Stored in ${f.owner}.${f.member} (${f.typeText}) it becomes ${f.signed ? '-0x80000000' : '0xffffffff80000000'}, setting bits 31 to 63.` : '';
      const past = s.shift > 31 ? ` A shift by ${s.shift} is wider than int: the result is undefined.` : '';
      // The certain fix: make the shifted literal unsigned (`1U << 31`, `1ULL << 40`) in place.
      const line = ctx.source.text.split('\n')[m.line] ?? '';
      const lit = /(?<![\w.])(1|0x1)(\s*<<\s*\(?\s*)(\d+)/g;
      lit.lastIndex = m.character + m.name.length;
      const hit = [...line.matchAll(lit)].find((x) => x.index! >= m.character + m.name.length && Number(x[3]) === s.shift);
      const suffix = s.shift > 31 ? 'ULL' : 'U';
      const fixes = hit ? [{
        title: `Make the shifted 1 unsigned: ${hit[1]}${suffix} << ${s.shift}`,
        edits: [{ range: { start: { line: m.line, character: hit.index! + hit[1].length }, end: { line: m.line, character: hit.index! + hit[1].length } }, newText: suffix }],
        preferred: true,
      }] : undefined;
      report({
        fixes,
        range: lineRange(m.line, m.character, m.name.length),
        message: `${m.name} is '${m.body}': ${s.text.replace(/\s+/g, ' ')} shifts a signed int into its sign bit, so its value is negative (INT_MIN in gcc, undefined behaviour in ISO C).${past}${wide} Write ${s.shift > 31 ? `_BITULL(${s.shift})` : '1U << 31 or _BITUL(31)'}.`,
      });
    }
  },
};
