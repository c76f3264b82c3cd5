// `vfio-review layout` as text, in the manner of pahole: each member with its offset and size,
// holes where they fall, a summary per type, and a `differs:` note wherever the ABIs of the
// report disagree, which is what a uapi reviewer is looking for.
import type { AbiName, LayoutReport, MemberLayout, TypeLayout } from '../engine/types';
import { relativePath } from './json';

type ArchTypes = [AbiName, Map<string, TypeLayout>];

const show = (value: number | null) => (value === null ? '?' : String(value));

/**
 * `8`, or `8:3` for a bit-field whose first bit is bit 3 of byte 8. The engine gives bitOffset
 * in bits from the start of the type, and offset as the byte holding that first bit.
 */
function memberOffset(m: MemberLayout): string {
  if (m.offset === null) return '?';
  return m.bitSize !== undefined && m.bitOffset !== undefined ? `${m.offset}:${m.bitOffset - m.offset * 8}` : String(m.offset);
}

/** Groups the ABIs by value: `i386 offset 4, x86_64/arm64 offset 8`; null when all agree. */
function differs(values: [AbiName, string][], what: string): string | null {
  const groups = new Map<string, AbiName[]>();
  for (const [arch, value] of values) groups.set(value, [...(groups.get(value) ?? []), arch]);
  if (groups.size < 2) return null;
  return [...groups].map(([value, arches]) => `${arches.join('/')} ${what} ${value}`).join(', ');
}

function memberDiffers(path: string, others: ArchTypes[], typeName: string): string[] {
  const offsets: [AbiName, string][] = [];
  const sizes: [AbiName, string][] = [];
  for (const [arch, types] of others) {
    const m = types.get(typeName)?.members.find((candidate) => candidate.path === path);
    if (!m) continue;
    offsets.push([arch, memberOffset(m)]);
    sizes.push([arch, show(m.size)]);
  }
  return [differs(offsets, 'offset'), differs(sizes, 'size')].filter((line): line is string => line !== null);
}

function typeDiffers(typeName: string, others: ArchTypes[]): string[] {
  const sizes: [AbiName, string][] = [];
  const aligns: [AbiName, string][] = [];
  for (const [arch, types] of others) {
    const t = types.get(typeName);
    if (!t) continue;
    sizes.push([arch, show(t.size)]);
    aligns.push([arch, show(t.align)]);
  }
  return [differs(sizes, 'size'), differs(aligns, 'align')].filter((line): line is string => line !== null);
}

/**
 * `__u8 [2][3]` -> `__u8` and `[2][3]`: the `[...]` groups that end a one-line type, the type
 * before them without its trailing blanks. Scans once, where a regex with a lazy prefix before the
 * groups retries them from every `[` and blank.
 */
function splitArrayBounds(text: string): { type: string; bounds: string } | undefined {
  if (!text.endsWith(']')) return undefined;
  // The groups reach back to the last `]` that is not the end and not followed by another group.
  let groupsFrom = 0;
  for (let i = 0; i < text.length - 1; i++) if (text[i] === ']' && text[i + 1] !== '[') groupsFrom = i + 1;
  const open = text.indexOf('[', groupsFrom);
  if (open < 0) return undefined;
  const type = text.slice(0, open).trimEnd();
  return /[\n\r\u2028\u2029]/.test(type) ? undefined : { type, bounds: text.slice(open) };
}

/** `__u8[16]` + `data` -> `__u8`, `data[16]`: C puts array bounds after the name. */
function declaration(m: MemberLayout): { type: string; name: string } {
  const array = splitArrayBounds(m.type);
  const type = array ? array.type : m.type;
  const suffix = array ? array.bounds : '';
  const bits = m.bitSize !== undefined ? `:${m.bitSize}` : '';
  return { type, name: `${'  '.repeat(m.depth)}${m.path}${suffix}${bits};` };
}

function formatType(t: TypeLayout, rootDir: string, all: ArchTypes[]): string[] {
  const lines = [`/* ${relativePath(t.file, rootDir)}:${t.line + 1} */`, `${t.name} {`];
  const decls = t.members.map(declaration);
  const typeWidth = Math.max(24, ...decls.map((d) => d.type.length + 1));
  const nameWidth = Math.max(20, ...decls.map((d) => d.name.length + 1));
  const pad = ' '.repeat(typeWidth + nameWidth);
  const holes = t.holes.filter((h) => !h.tail).sort((a, b) => a.offset - b.offset);
  let nextHole = 0;
  const holeLine = (size: number) => `\t/* XXX ${size} byte${size === 1 ? '' : 's'} hole, try to pack */`;

  t.members.forEach((m, index) => {
    while (nextHole < holes.length && m.offset !== null && holes[nextHole].offset + holes[nextHole].size <= m.offset) {
      lines.push(holeLine(holes[nextHole++].size));
    }
    const notes = [m.flexible ? ' flexible array' : '', m.unknown ? ` unknown: ${m.unknown}` : ''].join('');
    const { type, name } = decls[index];
    lines.push(`\t${type.padEnd(typeWidth)}${name.padEnd(nameWidth)}/* ${memberOffset(m).padStart(5)} ${show(m.size).padStart(5)}${notes} */`);
    for (const note of memberDiffers(m.path, all, t.name)) lines.push(`\t${pad}/* differs: ${note} */`);
  });
  while (nextHole < holes.length) lines.push(holeLine(holes[nextHole++].size));

  const holeSum = holes.reduce((sum, h) => sum + h.size, 0);
  const padding = t.holes.filter((h) => h.tail).reduce((sum, h) => sum + h.size, 0);
  const unknown = t.unknown.length ? ` (${t.unknown.join('; ')})` : '';
  const size = t.size === null ? `unknown${unknown}` : String(t.size);
  const members = t.members.filter((m) => m.depth === 0).length;
  lines.push('');
  lines.push(`\t/* size: ${size}, align: ${show(t.align)}, members: ${members}, holes: ${holes.length}, sum holes: ${holeSum}, padding: ${padding} */`);
  if (t.size !== null && t.unknown.length) lines.push(`\t/* incomplete: ${t.unknown.join('; ')} */`);
  for (const note of typeDiffers(t.name, all)) lines.push(`\t/* differs: ${note} */`);
  lines.push('};');
  return lines;
}

export function formatLayoutText(report: LayoutReport, rootDir: string): string {
  const all: ArchTypes[] = (Object.entries(report.arches) as [AbiName, { types: TypeLayout[] }][]).map(
    ([arch, entry]) => [arch, new Map(entry.types.map((t) => [t.name, t]))],
  );
  const out: string[] = [];
  for (const [arch, entry] of Object.entries(report.arches) as [AbiName, { types: TypeLayout[] }][]) {
    if (out.length) out.push('');
    out.push(`/* arch: ${arch} */`);
    if (!entry.types.length) out.push('/* no struct or union types */');
    for (const t of entry.types) {
      out.push('');
      out.push(...formatType(t, rootDir, all));
    }
  }
  return out.join('\n') + '\n';
}
