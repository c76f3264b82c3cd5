// A uapi struct must look the same to a 32-bit process on a 64-bit kernel (compat) and on every
// architecture: any size or offset that differs between ABIs is a bug in the interface.
import { groupByValue, lineRange, listAbis, type Rule } from './rule';

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
