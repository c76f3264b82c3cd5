// A uapi struct must look the same to a 32-bit process on a 64-bit kernel (compat) and on every
// architecture: any size or offset that differs between ABIs is a bug in the interface.
import type { Fix } from '../types';
import { groupByValue, lineRange, listAbis, type Rule } from './rule';

const ALIGNED: Record<string, string> = { __u64: '__aligned_u64', __s64: '__aligned_s64', __le64: '__aligned_le64', __be64: '__aligned_be64' };

/** `__u64 x;` -> `__aligned_u64 x;`: 8-byte alignment on every ABI, the kernel's own remedy. */
function alignedTypeFix(text: string, m: { type: string; line: number; character: number }): Fix[] | undefined {
  const replacement = ALIGNED[m.type];
  const line = text.split('\n')[m.line];
  if (!replacement || line === undefined) return undefined;
  const at = line.lastIndexOf(m.type, m.character);
  if (at < 0 || line.indexOf(m.type, at + 1) >= 0 && line.indexOf(m.type, at + 1) < m.character) return undefined;
  return [{
    title: `Use ${replacement} (same layout on every ABI)`,
    edits: [{ range: { start: { line: m.line, character: at }, end: { line: m.line, character: at + m.type.length } }, newText: replacement }],
    preferred: true,
  }];
}

const describe = (groups: [number | null, string[]][]) =>
  groups.map(([v, abis]) => `${v === null ? 'unknown' : v} on ${listAbis(abis)}`).join(', ');

export const uapiArchDependentLayout: Rule = {
  id: 'uapi-arch-dependent-layout',
  defaultSeverity: 'error',
  summary: 'A uapi struct or union whose size or member offsets differ between ABIs.',
  scope: 'uapi',
  run(ctx, report) {
    const [first, ...others] = ctx.arches;
    if (!first || others.length === 0) return;
    for (const type of ctx.layouts.get(first) ?? []) {
      const per = new Map(ctx.arches.map((a) => [a, ctx.layouts.get(a)?.find((t) => t.name === type.name)]));
      if ([...per.values()].some((t) => !t || t.size === null)) continue; // unknown layouts are reported by hover, not guessed here
      // The first member whose offset differs explains the rest; report it and the size.
      let reported = false;
      for (const m of type.members) {
        const offsets = groupByValue(ctx.arches, (a) => per.get(a)!.members.find((x) => x.path === m.path)?.offset ?? null);
        if (offsets.length < 2) continue;
        const aligns = groupByValue(ctx.arches, (a) => per.get(a)!.members.find((x) => x.path === m.path)?.align ?? null);
        report({
          fixes: alignedTypeFix(ctx.source.text, m),
          range: lineRange(m.line, m.character, m.path.split('.').pop()!.length),
          message: `${type.name}: member '${m.path}' is at offset ${describe(offsets)}${aligns.length > 1 ? `; alignment of ${m.type}: ${describe(aligns)}` : ''}. Userspace built for one ABI disagrees with the kernel of another; use __aligned_u64 or explicit padding.`,
        });
        reported = true;
        break;
      }
      const sizes = groupByValue(ctx.arches, (a) => per.get(a)!.size);
      if (sizes.length > 1) {
        report({
          range: lineRange(type.line, type.character, type.name.replace(/^(struct|union) /, '').length),
          message: `${type.name}: size is ${describe(sizes)}${reported ? '' : ' (tail padding differs)'}; an ioctl argument or array element of this type has a different size per ABI.`,
        });
      }
    }
  },
};
