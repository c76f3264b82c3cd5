// Padding the compiler inserts is not zeroed by userspace and not checked by the kernel: it can
// leak kernel memory on copy_to_user and cannot be given a meaning later. uapi structs spell
// every byte out (`__u32 reserved;`, `__u8 pad[4];`).
import type { Fix } from '../types';
import { groupByValue, lineRange, listAbis, type Rule } from './rule';

/** An explicit member for `size` bytes of padding at `offset`, in the kernel's usual spelling. */
function paddingMember(size: number, offset: number): string {
  if (size === 4) return `__u32\t__reserved${offset};`;
  if (size === 2) return `__u16\t__reserved${offset};`;
  if (size === 8) return `__u64\t__reserved${offset};`;
  return `__u8\t__reserved${offset}[${size}];`;
}

/** Inserts a line before `line`, indented like the member it precedes (or one tab deeper than `}`). */
function insertBefore(text: string, line: number, decl: string): Fix | undefined {
  const current = text.split('\n')[line];
  if (current === undefined) return undefined;
  const indent = /^\s*/.exec(current)![0];
  const inner = current.trimStart().startsWith('}') ? indent + '\t' : indent;
  return {
    title: `Add explicit padding: ${decl.replace(/\t/g, ' ')}`,
    edits: [{ range: { start: { line, character: 0 }, end: { line, character: 0 } }, newText: `${inner}${decl}\n` }],
    preferred: true,
  };
}

export const uapiImplicitPadding: Rule = {
  id: 'uapi-implicit-padding',
  defaultSeverity: 'warning',
  summary: 'Holes or tail padding in a uapi struct that are not spelled out as members.',
  scope: 'uapi',
  run(ctx, report) {
    const seen = new Set<string>();
    for (const arch of ctx.arches) {
      for (const type of ctx.layouts.get(arch) ?? []) {
        for (const hole of type.holes) {
          const key = `${type.name}\0${hole.tail ? 'tail' : hole.after ?? ''}`;
          if (seen.has(key)) continue;
          seen.add(key);
          // The same hole (by position in the member list) on every ABI that has it.
          const has = groupByValue(ctx.arches, (a) => {
            const t = ctx.layouts.get(a)?.find((x) => x.name === type.name);
            const h = t?.holes.find((x) => (hole.tail ? x.tail : !x.tail && x.after === hole.after));
            return h ? `${h.size} byte${h.size === 1 ? '' : 's'} at offset ${h.offset}` : '';
          }).filter(([v]) => v !== '');
          const where = has.length === 1 && has[0][1].length === ctx.arches.length && ctx.arches.length > 1
            ? `${has[0][0]} on every ABI`
            : has.map(([v, abis]) => `${v} on ${listAbis(abis)}`).join(', ');
          const next = hole.tail ? undefined : nextMember(type.members, hole.after);
          // A padding member is a certain fix only where the hole is the same on every ABI;
          // elsewhere it would move members on the ABIs without the hole.
          const everywhere = has.length === 1 && has[0][1].length === ctx.arches.length;
          const decl = paddingMember(hole.size, hole.offset);
          if (hole.tail) {
            const last = type.members.filter((m) => !m.path.includes('.')).pop();
            const line = type.endLine;
            const fix = everywhere && !type.members.some((m) => m.flexible) ? insertBefore(ctx.source.text, line, decl) : undefined;
            report({
              range: last ? lineRange(line, 0, 1) : lineRange(type.line, type.character),
              message: `${type.name}: ${where} of implicit tail padding after '${hole.after ?? 'the last member'}'; add an explicit member (e.g. __u32 __reserved;) so every byte is defined.`,
              fixes: fix ? [fix] : undefined,
            });
          } else {
            const at = next ?? type.members[0];
            // Only when the member starts its own line (not `__u8 a, b;`).
            const ownLine = !!at && !type.members.some((m) => m !== at && m.line === at.line);
            const fix = everywhere && at && ownLine ? insertBefore(ctx.source.text, at.line, decl) : undefined;
            report({
              range: at ? lineRange(at.line, at.character, at.path.split('.').pop()!.length) : lineRange(type.line, type.character),
              message: `${type.name}: ${where} of implicit padding ${hole.after ? `between '${hole.after}' and '${at?.path}'` : `before '${at?.path}'`}; add an explicit padding member or reorder.`,
              fixes: fix ? [fix] : undefined,
            });
          }
        }
      }
    }
  },
};

function nextMember<T extends { path: string; offset: number | null }>(members: T[], after: string | undefined): T | undefined {
  const i = members.findIndex((m) => m.path === after);
  // Skip members nested in the one the hole follows (`hdr.a` after `hdr`).
  for (let j = i + 1; j < members.length; j++) if (!after || !members[j].path.startsWith(after + '.')) return members[j];
  return undefined;
}
