// Struct and union layout as gcc computes it for a System V-style ABI: natural alignment,
// `packed` and `aligned(n)` attributes, bit-fields that may not straddle a unit of their type,
// flexible array members, tail padding. Where a size cannot be known the reason is kept and
// carried to every later offset, never guessed.
import type { AggregateDecl, EnumDecl, FieldDecl, LayoutAttrs, TypeExpr } from '../model/decls';
import type { Scope } from '../model/scope';
import { parseTypeText } from '../model/scope';
import { evaluate, EvalError, type TypeInfo, type Value } from '../preprocess/expr';
import type { Hole, MemberLayout, TypeLayout } from '../types';
import type { Abi, ScalarSpec } from './abi';

export interface SizeInfo {
  size: number | null;
  align: number | null;
  signed?: boolean;
  unknown?: string;
}

export interface LaidField {
  field: FieldDecl;
  path: string;
  offsetBits: number | null;
  size: number | null;
  align: number | null;
  bitSize?: number;
  flexible?: boolean;
  unknown?: string;
  /** Layout of an inline aggregate (named or anonymous member). */
  sub?: LaidAggregate;
}

export interface LaidAggregate {
  decl: AggregateDecl;
  size: number | null;
  align: number | null;
  fields: LaidField[];
  unknown: string[];
}

const roundUp = (v: number, a: number) => Math.ceil(v / a) * a;

export class LayoutEngine {
  private aggCache = new Map<AggregateDecl, LaidAggregate>();
  private inProgress = new Set<AggregateDecl>();
  private enumCache = new Map<EnumDecl, Map<string, Value>>();

  constructor(readonly abi: Abi, readonly scope: Scope) {}

  private scalar(name: string): ScalarSpec & { signed: boolean } {
    const a = this.abi;
    switch (name) {
      case 'char': return { size: 1, align: 1, signed: a.charSigned };
      case 'signed char': return { size: 1, align: 1, signed: true };
      case 'unsigned char': return { size: 1, align: 1, signed: false };
      case '_Bool': return { size: 1, align: 1, signed: false };
      case 'short': return { ...a.short, signed: true };
      case 'unsigned short': return { ...a.short, signed: false };
      case 'int': return { ...a.int, signed: true };
      case 'unsigned int': return { ...a.int, signed: false };
      case 'long': return { ...a.long, signed: true };
      case 'unsigned long': return { ...a.long, signed: false };
      case 'long long': return { ...a.longLong, signed: true };
      case 'unsigned long long': return { ...a.longLong, signed: false };
      case 'float': return { ...a.float, signed: true };
      case 'double': return { ...a.double, signed: true };
      case 'long double': return { ...a.longDouble, signed: true };
      case '__int128': return { ...(a.int128 ?? { size: 16, align: 16 }), signed: true };
      case 'unsigned __int128': return { ...(a.int128 ?? { size: 16, align: 16 }), signed: false };
      case 'void': return { size: 1, align: 1, signed: false };
    }
    throw new Error(`unknown primitive ${name}`);
  }

  /** Evaluates a constant expression of the unit to a 64-bit value (macros, flags, ioctl numbers). */
  evaluateValue(text: string): Value {
    return evaluate(text, {
      macros: this.scope.macros,
      preprocessor: false,
      typeInfo: (t) => this.typeInfoOfText(t),
      identifier: (name) => this.scope.identifierValue(name, (d) => this.enumValues(d)),
    });
  }

  /** Evaluates a constant expression of the unit (array lengths, aligned(n), bit widths). */
  evaluate(text: string): number {
    const v = evaluate(text, {
      macros: this.scope.macros,
      preprocessor: false,
      typeInfo: (t) => this.typeInfoOfText(t),
      identifier: (name) => this.scope.identifierValue(name, (d) => this.enumValues(d)),
    });
    if (v.v > BigInt(Number.MAX_SAFE_INTEGER) || v.v < -BigInt(Number.MAX_SAFE_INTEGER)) throw new EvalError(`value out of range: ${v.v}`);
    return Number(v.v);
  }

  private typeInfoOfText(text: string): TypeInfo | undefined {
    const parsed = parseTypeText(text);
    if (!parsed) return undefined;
    if (parsed.type.k === 'name' && !this.scope.resolveName(parsed.type.name)) return undefined;
    const info = this.sizeOf(parsed.type, parsed.attrs);
    if (info.size === null || info.align === null) return undefined;
    return { size: info.size, align: info.align, signed: info.signed ?? true };
  }

  enumValues(decl: EnumDecl): Map<string, Value> {
    let values = this.enumCache.get(decl);
    if (values) return values;
    values = new Map();
    this.enumCache.set(decl, values);
    let next: Value = { v: 0n, unsigned: false };
    for (const e of decl.enumerators) {
      let v = next;
      if (e.value !== undefined) {
        try {
          v = evaluate(e.value, {
            macros: this.scope.macros, preprocessor: false,
            typeInfo: (t) => this.typeInfoOfText(t),
            identifier: (name) => values!.get(name) ?? this.scope.identifierValue(name, (d) => this.enumValues(d)),
          });
        } catch {
          break; // later enumerators depend on this one: leave them unknown
        }
      }
      values.set(e.name, v);
      next = { v: v.v + 1n, unsigned: v.unsigned };
    }
    return values;
  }

  private enumSize(decl: EnumDecl | undefined): SizeInfo {
    if (!decl) return { size: 4, align: 4, signed: false };
    const values = [...this.enumValues(decl).values()];
    const fitsInt = values.every((v) => v.v >= -(1n << 31n) && v.v <= 0xffffffffn);
    const size = decl.attrs.packed ? this.packedEnumSize(values) : fitsInt ? 4 : 8;
    const spec = size === 8 ? this.abi.longLong : size === 4 ? this.abi.int : size === 2 ? this.abi.short : { size: 1, align: 1 };
    return { size: spec.size, align: spec.align, signed: values.some((v) => v.v < 0n) };
  }

  private packedEnumSize(values: Value[]): number {
    const max = values.reduce((m, v) => (v.v > m ? v.v : m), 0n);
    const min = values.reduce((m, v) => (v.v < m ? v.v : m), 0n);
    for (const size of [1, 2, 4]) {
      const bits = BigInt(size * 8);
      if (min < 0n ? min >= -(1n << (bits - 1n)) && max < 1n << (bits - 1n) : max < 1n << bits) return size;
    }
    return 8;
  }

  /** A type with typedef names and type macros resolved: `__aligned_u64` -> `unsigned long long`. */
  canonical(t: TypeExpr, depth = 0): string {
    if (depth > 32) return '?';
    switch (t.k) {
      case 'prim': return t.name;
      case 'ptr': return `${this.canonical(t.to, depth + 1)} *`;
      case 'array': return `${this.canonical(t.of, depth + 1)}[${t.len ?? ''}]`;
      case 'tag': return `${t.tag} ${t.name ?? '{...}'}`;
      case 'name': {
        const r = this.scope.resolveName(t.name);
        return r ? this.canonical(r.type, depth + 1) : t.name;
      }
      default: return '?';
    }
  }

  /** Size and alignment of a type (attributes of a typedef or member applied by the caller). */
  sizeOf(t: TypeExpr, attrs?: LayoutAttrs, depth = 0): SizeInfo {
    const base = this.sizeOfBare(t, depth);
    return attrs ? this.applyAlignAttrs(base, attrs, false) : base;
  }

  private sizeOfBare(t: TypeExpr, depth: number): SizeInfo {
    if (depth > 64) return { size: null, align: null, unknown: 'type nesting too deep (a typedef cycle?)' };
    switch (t.k) {
      case 'prim': {
        const s = this.scalar(t.name);
        return { size: s.size, align: s.align, signed: s.signed };
      }
      case 'ptr':
        return { ...this.abi.pointer, signed: false };
      case 'func':
        return { size: null, align: null, unknown: 'a function type has no size' };
      case 'unknown':
        return { size: null, align: null, unknown: `cannot read type '${t.text}'` };
      case 'name': {
        const r = this.scope.resolveName(t.name);
        if (!r) return { size: null, align: null, unknown: `unknown type ${t.name}` };
        const inner = this.sizeOfBare(r.type, depth + 1);
        // On a typedef, aligned(n) sets the alignment, even lower than the natural one.
        return this.applyAlignAttrs(inner, r.attrs, r.origin === 'typedef');
      }
      case 'tag': {
        if (t.tag === 'enum') {
          const decl = (t.decl as EnumDecl | undefined) ?? (t.name ? (this.scope.tag('enum', t.name) as EnumDecl | undefined) : undefined);
          return this.enumSize(decl);
        }
        const decl = (t.decl as AggregateDecl | undefined) ?? (t.name ? (this.scope.tag(t.tag, t.name) as AggregateDecl | undefined) : undefined);
        if (!decl || !decl.complete) return { size: null, align: null, unknown: `${t.tag} ${t.name ?? ''} is not defined in the included files`.replace('  ', ' ') };
        const laid = this.layout(decl);
        if (laid.size === null) return { size: null, align: null, unknown: laid.unknown[0] ?? `layout of ${t.tag} ${t.name ?? ''} unknown` };
        return { size: laid.size, align: laid.align };
      }
      case 'array': {
        const el = this.sizeOfBare(t.of, depth + 1);
        if (t.len === null) return { size: 0, align: el.align, unknown: el.unknown };
        if (el.size === null) return el;
        let n: number;
        try {
          n = this.evaluate(t.len);
        } catch (e) {
          return { size: null, align: el.align, unknown: `cannot evaluate array length '${t.len}': ${(e as Error).message}` };
        }
        if (n < 0) return { size: null, align: el.align, unknown: `negative array length ${n}` };
        return { size: el.size * n, align: el.align, signed: el.signed };
      }
    }
  }

  private applyAlignAttrs(info: SizeInfo, attrs: LayoutAttrs, typedef: boolean): SizeInfo {
    if (attrs.alignedUnknown) return { ...info, align: null, unknown: info.unknown ?? attrs.alignedUnknown };
    if (!attrs.aligned || info.align === null) return info;
    let align = typedef ? 0 : info.align;
    for (const a of attrs.aligned) {
      let n: number;
      if (a === '') n = this.abi.maxAlign;
      else {
        try {
          n = this.evaluate(a);
        } catch (e) {
          return { ...info, align: null, unknown: `cannot evaluate aligned(${a}): ${(e as Error).message}` };
        }
      }
      align = Math.max(align, n);
    }
    return { ...info, align: align || info.align };
  }

  layout(decl: AggregateDecl): LaidAggregate {
    const cached = this.aggCache.get(decl);
    if (cached) return cached;
    if (this.inProgress.has(decl)) {
      return { decl, size: null, align: null, fields: [], unknown: [`${decl.kind} ${decl.tag ?? ''} contains itself`] };
    }
    this.inProgress.add(decl);
    const result = decl.kind === 'struct' ? this.layoutStruct(decl) : this.layoutUnion(decl);
    this.inProgress.delete(decl);
    this.aggCache.set(decl, result);
    return result;
  }

  private fieldInfo(f: FieldDecl, packed: boolean, pack?: number): SizeInfo & { flexible?: boolean } {
    const info = this.sizeOf(f.type);
    const flexible = f.type.k === 'array' && f.type.len === null;
    let align = info.align;
    if (align !== null && (packed || f.attrs.packed)) align = 1;
    // `__aligned_u64` is a macro: its aligned(8) is written in the member's declaration, so it
    // is a member attribute and survives `packed` (a typedef's alignment does not).
    const aligned = [...(f.attrs.aligned ?? []), ...this.macroAlignment(f.type)];
    const withAttrs = this.applyAlignAttrs({ ...info, align }, { aligned: aligned.length ? aligned : undefined, alignedUnknown: f.attrs.alignedUnknown }, false);
    if (pack && withAttrs.align !== null) withAttrs.align = Math.min(withAttrs.align, pack);
    return { ...withAttrs, flexible };
  }

  private macroAlignment(t: TypeExpr): string[] {
    if (t.k !== 'name') return [];
    const r = this.scope.resolveName(t.name);
    return r && r.origin !== 'typedef' ? r.attrs.aligned ?? [] : [];
  }

  private subLayout(f: FieldDecl): LaidAggregate | undefined {
    if (f.type.k === 'tag' && f.type.decl && f.type.decl.kind !== 'enum') return this.layout(f.type.decl as AggregateDecl);
    return undefined;
  }

  private bitWidth(f: FieldDecl): number | { unknown: string } {
    try {
      return this.evaluate(f.bits!);
    } catch (e) {
      return { unknown: `cannot evaluate bit-field width '${f.bits}': ${(e as Error).message}` };
    }
  }

  private layoutStruct(decl: AggregateDecl): LaidAggregate {
    const packed = !!decl.attrs.packed;
    let bits: number | null = 0;
    let maxAlign = 1;
    const fields: LaidField[] = [];
    const unknown: string[] = [];
    for (const f of decl.fields) {
      const path = f.name ?? '';
      const info = this.fieldInfo(f, packed, decl.attrs.pack);
      if (f.bits !== undefined) {
        const w = this.bitWidth(f);
        if (typeof w !== 'number' || info.size === null || info.align === null) {
          const why = typeof w !== 'number' ? w.unknown : info.unknown ?? 'unknown bit-field type';
          unknown.push(`${path || 'bit-field'}: ${why}`);
          fields.push({ field: f, path, offsetBits: bits, size: null, align: null, unknown: why });
          bits = null;
          continue;
        }
        const naturalAlign = this.sizeOf(f.type).align ?? info.align;
        if (bits !== null) {
          if (w === 0) {
            bits = roundUp(bits, naturalAlign * 8);
          } else if (!(packed || f.attrs.packed)) {
            // A bit-field may not straddle an aligned unit of its own type.
            const unitStart = Math.floor(bits / (naturalAlign * 8)) * naturalAlign * 8;
            if (bits + w > unitStart + info.size * 8) bits = roundUp(bits, naturalAlign * 8);
          }
          if (f.attrs.aligned) bits = roundUp(bits, info.align * 8);
        }
        fields.push({ field: f, path, offsetBits: bits, size: info.size, align: info.align, bitSize: w });
        if (bits !== null) bits += w;
        // Unnamed bit-fields do not affect the struct's alignment on System V ABIs; on AAPCS
        // (arm, arm64) they do.
        if (f.name || this.abi.unnamedBitfieldsAlign) maxAlign = Math.max(maxAlign, packed || f.attrs.packed ? (f.attrs.aligned ? info.align : 1) : info.align);
        continue;
      }
      const sub = this.subLayout(f);
      if (info.size === null || info.align === null) {
        const why = info.unknown ?? 'unknown size';
        unknown.push(`${path || `anonymous ${f.type.k === 'tag' ? f.type.tag : 'member'}`}: ${why}`);
        const offsetBits = bits !== null && info.align !== null ? roundUp(bits, info.align * 8) : null;
        fields.push({ field: f, path, offsetBits, size: null, align: info.align, unknown: why, sub });
        bits = null;
        continue;
      }
      if (bits !== null) bits = roundUp(bits, info.align * 8);
      fields.push({ field: f, path, offsetBits: bits, size: info.size, align: info.align, flexible: info.flexible, sub });
      if (bits !== null) bits += info.size * 8;
      maxAlign = Math.max(maxAlign, info.align);
    }
    const structAlign = this.applyAlignAttrs({ size: 0, align: maxAlign }, decl.attrs, false);
    if (structAlign.unknown) unknown.push(structAlign.unknown);
    const align = structAlign.align;
    const size = bits === null || align === null ? null : roundUp(Math.ceil(bits / 8), align);
    return { decl, size, align, fields, unknown };
  }

  private layoutUnion(decl: AggregateDecl): LaidAggregate {
    const packed = !!decl.attrs.packed;
    let maxSize: number | null = 0;
    let maxAlign = 1;
    const fields: LaidField[] = [];
    const unknown: string[] = [];
    for (const f of decl.fields) {
      const path = f.name ?? '';
      const info = this.fieldInfo(f, packed, decl.attrs.pack);
      const sub = f.bits === undefined ? this.subLayout(f) : undefined;
      if (info.size === null || info.align === null) {
        const why = info.unknown ?? 'unknown size';
        unknown.push(`${path || 'anonymous member'}: ${why}`);
        fields.push({ field: f, path, offsetBits: 0, size: null, align: info.align, unknown: why, sub });
        maxSize = null;
        continue;
      }
      let bitSize: number | undefined;
      let bytes = info.size;
      if (f.bits !== undefined) {
        const w = this.bitWidth(f);
        if (typeof w !== 'number') {
          unknown.push(`${path}: ${w.unknown}`);
          fields.push({ field: f, path, offsetBits: 0, size: null, align: null, unknown: w.unknown });
          maxSize = null;
          continue;
        }
        bitSize = w;
        bytes = Math.ceil(w / 8);
      }
      fields.push({ field: f, path, offsetBits: 0, size: info.size, align: info.align, bitSize, flexible: info.flexible, sub });
      if (maxSize !== null) maxSize = Math.max(maxSize, bytes);
      if (f.bits === undefined || f.name) maxAlign = Math.max(maxAlign, info.align);
    }
    const unionAlign = this.applyAlignAttrs({ size: 0, align: maxAlign }, decl.attrs, false);
    if (unionAlign.unknown) unknown.push(unionAlign.unknown);
    const align = unionAlign.align;
    const size = maxSize === null || align === null ? null : roundUp(maxSize, align);
    return { decl, size, align, fields, unknown };
  }
}

/** Flattens a laid-out aggregate into the public TypeLayout: members with paths, holes, tail padding. */
export function toTypeLayout(name: string, laid: LaidAggregate, file: string): TypeLayout {
  const members: MemberLayout[] = [];
  const holes: Hole[] = [];
  flatten(laid, 0, '', 0, members, holes);
  if (laid.size !== null && laid.decl.kind === 'struct') {
    const end = structEnd(laid, 0);
    if (end !== null && end < laid.size) holes.push({ offset: end, size: laid.size - end, after: lastPath(members), tail: true });
  }
  if (laid.size !== null && laid.decl.kind === 'union') {
    const widest = Math.max(0, ...laid.fields.map((f) => (f.bitSize !== undefined ? Math.ceil(f.bitSize / 8) : f.size ?? 0)));
    if (widest < laid.size) holes.push({ offset: widest, size: laid.size - widest, tail: true });
  }
  holes.sort((a, b) => a.offset - b.offset);
  return {
    name, kind: laid.decl.kind, file, line: laid.decl.pos.line, character: laid.decl.pos.character, endLine: laid.decl.end.line,
    size: laid.size, align: laid.align, packed: !!laid.decl.attrs.packed, members, holes, unknown: laid.unknown,
  };
}

function lastPath(members: MemberLayout[]): string | undefined {
  for (let i = members.length - 1; i >= 0; i--) if (members[i].depth === 0 || !members[i].path.includes('.')) return members[i].path;
  return members[members.length - 1]?.path;
}

/** End of the last member's bytes in a struct (relative to `base`), for tail padding. */
function structEnd(laid: LaidAggregate, base: number): number | null {
  let end = 0;
  for (const f of laid.fields) {
    if (f.offsetBits === null) return null;
    const e = f.bitSize !== undefined ? Math.ceil((f.offsetBits + f.bitSize) / 8) : f.offsetBits / 8 + (f.size ?? 0);
    end = Math.max(end, e);
  }
  return base + end;
}

function typeTextOf(f: LaidField): string {
  return f.field.typeText;
}

/**
 * Collects members and holes. Holes inside one alternative of a union are not holes of the type:
 * another alternative may use those bytes (`inUnion`).
 */
function flatten(laid: LaidAggregate, baseBits: number, prefix: string, depth: number, out: MemberLayout[], holes: Hole[], inUnion = false, anonymous?: 'union' | 'struct'): void {
  let prevEndBits: number | null = baseBits;
  let prevPath: string | undefined;
  for (const f of laid.fields) {
    const abs = f.offsetBits === null ? null : baseBits + f.offsetBits;
    const path = f.field.name ? prefix + f.field.name : prefix.replace(/\.$/, '');
    // Holes between struct members, in whole bytes.
    if (laid.decl.kind === 'struct' && abs !== null && prevEndBits !== null) {
      const holeStart = Math.ceil(prevEndBits / 8);
      const start = Math.floor(abs / 8);
      if (start > holeStart && (f.bitSize === undefined || f.bitSize > 0) && !inUnion) holes.push({ offset: holeStart, size: start - holeStart, after: prevPath });
    }
    // Named members get an entry; anonymous aggregates only contribute their members, and
    // unnamed bit-fields are padding.
    if (f.field.name) {
      const m: MemberLayout = {
        path, type: typeTextOf(f), offset: abs === null ? null : Math.floor(abs / 8), size: f.size, align: f.align,
        line: f.field.pos.line, character: f.field.pos.character, depth,
      };
      if (f.bitSize !== undefined && abs !== null) {
        m.bitOffset = abs;
        m.bitSize = f.bitSize;
      }
      if (f.flexible) m.flexible = true;
      if (f.unknown) m.unknown = f.unknown;
      if (anonymous) m.anonymous = anonymous;
      out.push(m);
    }
    // Members of inline aggregates: `outer.inner` for named ones, their own names for anonymous ones.
    if (f.sub && abs !== null && f.field.type.k === 'tag') {
      const subInUnion = inUnion || laid.decl.kind === 'union';
      flatten(f.sub, abs, f.field.name ? `${path}.` : prefix, f.field.name ? depth + 1 : depth, out, holes, subInUnion, f.field.name ? undefined : f.sub.decl.kind);
      // Padding inside a nested struct is a hole of the outer type too (unless a union holds it).
      if (f.sub.decl.kind === 'struct' && f.sub.size !== null && !subInUnion) {
        const end = structEnd(f.sub, 0);
        if (end !== null && end < f.sub.size) holes.push({ offset: abs / 8 + end, size: f.sub.size - end, after: lastSubPath(f, path) });
      }
    }
    if (abs !== null && f.size !== null) {
      const end = f.bitSize !== undefined ? abs + f.bitSize : abs + f.size * 8;
      if (laid.decl.kind === 'struct') prevEndBits = end;
    } else if (laid.decl.kind === 'struct') prevEndBits = null;
    if (f.field.name) prevPath = path;
    else if (f.sub) prevPath = lastSubPathName(f.sub) ?? prevPath;
  }
}

function lastSubPath(f: LaidField, path: string): string {
  const last = f.sub?.fields[f.sub.fields.length - 1];
  return last?.field.name ? (f.field.name ? `${path}.${last.field.name}` : last.field.name) : path;
}

function lastSubPathName(sub: LaidAggregate): string | undefined {
  const last = sub.fields[sub.fields.length - 1];
  return last?.field.name;
}
