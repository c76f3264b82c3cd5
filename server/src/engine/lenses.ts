// CodeLens titles and inlay hints for uapi headers: the facts of a layout where the eye already
// is. Built from the same layouts as the rules and hovers.
import type { AbiName, Range, TypeLayout } from './types';

export interface Lens {
  range: Range;
  title: string;
  /** The type the lens describes, for a "show layout" command. */
  typeName: string;
}

export interface InlayHint {
  position: { line: number; character: number };
  label: string;
}

function differences(layouts: Map<AbiName, TypeLayout[]>, name: string, first: AbiName, field: (t: TypeLayout) => number | null): string {
  const base = layouts.get(first)!.find((t) => t.name === name)!;
  const others: string[] = [];
  for (const [abi, types] of layouts) {
    const t = types.find((x) => x.name === name);
    if (abi !== first && t && field(t) !== field(base)) others.push(`${abi}: ${field(t) ?? '?'}`);
  }
  return others.length ? ` (${others.join(', ')})` : '';
}

export function layoutLenses(layouts: Map<AbiName, TypeLayout[]>): Lens[] {
  const [first] = layouts.keys();
  if (!first) return [];
  const lenses: Lens[] = [];
  for (const t of layouts.get(first)!) {
    if (t.size === null) {
      lenses.push({ range: lineOf(t), typeName: t.name, title: `layout unknown: ${t.unknown[0] ?? 'unknown member'}` });
      continue;
    }
    const holeBytes = t.holes.reduce((n, h) => n + h.size, 0);
    const moved = new Set<AbiName>();
    for (const [abi, types] of layouts) {
      const o = types.find((x) => x.name === t.name);
      if (!o || o.size !== t.size || o.members.some((m) => t.members.find((x) => x.path === m.path)?.offset !== m.offset)) moved.add(abi);
    }
    const parts = [
      `size ${t.size}${differences(layouts, t.name, first, (x) => x.size)}`,
      `align ${t.align}${differences(layouts, t.name, first, (x) => x.align)}`,
      t.holes.length ? `${t.holes.length} hole${t.holes.length > 1 ? 's' : ''} (${holeBytes} bytes)` : 'no holes',
      moved.size ? `differs on ${[...moved].join(', ')}` : layouts.size > 1 ? 'same on all ABIs' : `${first} only`,
    ];
    lenses.push({ range: lineOf(t), typeName: t.name, title: parts.join(' · ') });
  }
  return lenses;
}

function lineOf(t: TypeLayout): Range {
  return { start: { line: t.line, character: 0 }, end: { line: t.line, character: 0 } };
}

/** pahole-style `/* offset size *\/` after each member, for the first ABI; `endOfLine(line)` gives the column. */
export function memberHints(types: TypeLayout[], range: Range, endOfLine: (line: number) => number): InlayHint[] {
  const out: InlayHint[] = [];
  const seen = new Set<number>();
  for (const t of types) {
    for (const m of t.members) {
      if (m.line < range.start.line || m.line > range.end.line || seen.has(m.line)) continue;
      seen.add(m.line);
      const where = m.bitSize !== undefined ? `${m.offset}:${(m.bitOffset ?? 0) % 8}` : `${m.offset ?? '?'}`;
      out.push({ position: { line: m.line, character: endOfLine(m.line) }, label: ` /* ${where} ${m.bitSize !== undefined ? `${m.bitSize}b` : m.size ?? '?'} */` });
    }
  }
  return out;
}
