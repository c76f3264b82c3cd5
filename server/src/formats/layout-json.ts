// `vfio-review layout --format json` (version 1): the engine's layout report reduced to the
// fields scripts need, with files relative to the kernel root and 1-based lines. Optional
// fields appear only when they carry information, so a plain member is {path,type,offset,size}.
import type { AbiName, Hole, LayoutReport, MemberLayout, TypeLayout } from '../engine/types';
import { relativePath } from './json';

export interface JsonMemberLayout {
  path: string;
  type: string;
  offset: number | null;
  size: number | null;
  /** Bits from the start of the type to the bit-field's first bit; `offset` is the byte holding it. */
  bitOffset?: number;
  bitSize?: number;
  flexible?: true;
  unknown?: string;
}

export interface JsonHole {
  offset: number;
  size: number;
  tail?: true;
}

export interface JsonTypeLayout {
  name: string;
  kind: 'struct' | 'union';
  file: string;
  line: number;
  size: number | null;
  align: number | null;
  members: JsonMemberLayout[];
  holes: JsonHole[];
  /** Why size or align is null; absent when the layout is complete. */
  unknown?: string[];
}

export interface JsonLayoutReport {
  version: 1;
  arches: Partial<Record<AbiName, { types: JsonTypeLayout[] }>>;
}

function member(m: MemberLayout): JsonMemberLayout {
  const out: JsonMemberLayout = { path: m.path, type: m.type, offset: m.offset, size: m.size };
  if (m.bitSize !== undefined) {
    out.bitOffset = m.bitOffset ?? 0;
    out.bitSize = m.bitSize;
  }
  if (m.flexible) out.flexible = true;
  if (m.unknown) out.unknown = m.unknown;
  return out;
}

function hole(h: Hole): JsonHole {
  return h.tail ? { offset: h.offset, size: h.size, tail: true } : { offset: h.offset, size: h.size };
}

function typeLayout(t: TypeLayout, rootDir: string): JsonTypeLayout {
  const out: JsonTypeLayout = {
    name: t.name,
    kind: t.kind,
    file: relativePath(t.file, rootDir),
    line: t.line + 1,
    size: t.size,
    align: t.align,
    members: t.members.map(member),
    holes: t.holes.map(hole),
  };
  if (t.unknown.length) out.unknown = [...t.unknown];
  return out;
}

export function toJsonLayoutReport(report: LayoutReport, rootDir: string): JsonLayoutReport {
  const arches: JsonLayoutReport['arches'] = {};
  for (const [arch, entry] of Object.entries(report.arches) as [AbiName, { types: TypeLayout[] }][]) {
    arches[arch] = { types: entry.types.map((t) => typeLayout(t, rootDir)) };
  }
  return { version: 1, arches };
}

export function formatLayoutJson(report: LayoutReport, rootDir: string): string {
  return JSON.stringify(toJsonLayoutReport(report, rootDir), null, 2) + '\n';
}
