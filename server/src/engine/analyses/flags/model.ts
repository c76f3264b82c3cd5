// The flag model of a uapi header: every object-like #define attached to the struct member whose
// values it names (kernel convention: the defines follow the member inside the struct's braces),
// its value as the compiler computes it, and the dependencies between flags that the header's
// comments state. Plain data, built from the file's model and its unit's layout engine.
import type { AggregateDecl, FieldDecl, SourcePos, TypeExpr } from '../../model/decls';
import type { LayoutEngine } from '../../layout/compute';
import { macroGlobMatches } from '../../macro-glob';
import { parseTypeText } from '../../model/scope';
import { evaluate, type MacroDef, type MacroTable, type Value } from '../../preprocess/expr';
import type { Directive } from '../../preprocess/directives';

export interface Evidence {
  file: string;
  /** 0-based. */
  line: number;
  source: 'struct body' | 'name prefix' | 'comment' | 'configuration' | 'code';
}

/** An integer member of a uapi struct or union that flags or sentinel values are written to. */
export interface FlagField {
  /** `struct vfio_pci_hot_reset_info`. */
  owner: string;
  /** Member path as laid out: `flags`, `devid` (anonymous union members under their own name). */
  member: string;
  typeText: string;
  /** Bytes and signedness on the first ABI; undefined when not an integer type. */
  size?: number;
  signed?: boolean;
  file: string;
  pos: SourcePos;
  /** `flags` for a bit-set member (its name says flag), `values` for ids, counts and sentinels. */
  kind: 'flags' | 'values';
  /** Set for members of a union: the union's other members (names). */
  unionSiblings?: string[];
}

export interface FlagMacro {
  name: string;
  body: string;
  file: string;
  line: number;
  character: number;
  /** Undefined when the value cannot be evaluated: such a macro never produces a finding. */
  value?: Value;
  field?: FlagField;
  binding?: Evidence;
  /** A mask of other flags (name ends in MASK/ALL, or it is the OR of flags of the field). */
  mask: boolean;
  /** Named as a mask (`*_MASK`) with several bits: values inside it are a sub-field's values. */
  namedMask?: boolean;
}

export interface FlagDependency {
  flag: string;
  requires: string;
  evidence: Evidence;
}

export interface FlagModel {
  file: string;
  macros: Map<string, FlagMacro>;
  /** Every integer member of the file's structs and unions, `owner\0member`. */
  fields: Map<string, FlagField>;
  dependencies: FlagDependency[];
  /** The header's text (comments hold dependencies and discriminants). */
  text?: string;
}

export const fieldKey = (owner: string, member: string) => `${owner}\0${member}`;

/** Kernel helpers flag values are written with; used only when the unit does not define them. */
const FALLBACK_MACROS: MacroDef[] = [
  { name: '__AC', params: ['X', 'Y'], body: '(X##Y)' },
  { name: '_AC', params: ['X', 'Y'], body: '__AC(X,Y)' },
  { name: '_UL', params: ['x'], body: '(_AC(x, UL))' },
  { name: '_ULL', params: ['x'], body: '(_AC(x, ULL))' },
  { name: '_BITUL', params: ['x'], body: '(_UL(1) << (x))' },
  { name: '_BITULL', params: ['x'], body: '(_ULL(1) << (x))' },
  { name: 'BIT', params: ['nr'], body: '(1UL << (nr))' },
  { name: 'BIT_ULL', params: ['nr'], body: '(1ULL << (nr))' },
  { name: 'GENMASK', params: ['h', 'l'], body: '(((~0UL) - (1UL << (l)) + 1) & (~0UL >> (63 - (h))))' },
  { name: 'GENMASK_ULL', params: ['h', 'l'], body: '(((~0ULL) - (1ULL << (l)) + 1) & (~0ULL >> (63 - (h))))' },
];

/** The unit's macros with the fallbacks underneath. */
export function withFallbacks(macros: MacroTable): MacroTable {
  const out: MacroTable = new Map();
  for (const m of FALLBACK_MACROS) out.set(m.name, m);
  for (const [k, v] of macros) out.set(k, v);
  return out;
}

/** A value evaluator for flag bodies: the unit's macros, enumerators and types, plus the fallbacks. */
export function flagEvaluator(engine: LayoutEngine): (text: string) => Value | undefined {
  const macros = withFallbacks(engine.scope.macros);
  return (text) => {
    try {
      return evaluate(text, {
        macros,
        preprocessor: false,
        identifier: (name) => engine.scope.identifierValue(name, (d) => engine.enumValues(d)),
        typeInfo: (t) => {
          const parsed = parseTypeText(t);
          if (!parsed) return undefined;
          if (parsed.type.k === 'name' && !engine.scope.resolveName(parsed.type.name)) return undefined;
          const info = engine.sizeOf(parsed.type, parsed.attrs);
          return info.size === null || info.align === null ? undefined : { size: info.size, align: info.align, signed: info.signed ?? true };
        },
      });
    } catch {
      return undefined;
    }
  };
}

export interface FlagModelInput {
  file: string;
  text: string;
  directives: Directive[];
  aggregates: AggregateDecl[];
  named: Map<AggregateDecl, string>;
  engine: LayoutEngine;
  /** Configured bindings and dependencies (see config-file.ts). */
  config?: FlagConfigFacts;
}

/** What `.vfio-review.json` may declare about flags. */
export interface FlagConfigFacts {
  file: string;
  /** macro name or glob (`VFIO_X_*`) → `struct x.member`. */
  bindings: { macro: string; field: string }[];
  dependencies: { flag: string; requires: string }[];
  discriminants: { union: string; member: string; flag: string; field: string; when: 'set' | 'clear' }[];
}

function isIntegerType(t: TypeExpr): boolean {
  return t.k === 'prim' || t.k === 'name';
}

interface Scoped {
  decl: AggregateDecl;
  owner: string;
  /** Path prefix of members of this aggregate inside the owner. */
  prefix: string;
}

export function buildFlagModel(input: FlagModelInput): FlagModel {
  const { file, engine } = input;
  const model: FlagModel = { file, macros: new Map(), fields: new Map(), dependencies: [], text: input.text };
  const evalValue = flagEvaluator(engine);
  // Every aggregate body of the file (nested ones too), with the owner its members belong to.
  const scopes: Scoped[] = [];
  const fieldOf = new Map<FieldDecl, FlagField>();
  const visit = (decl: AggregateDecl, owner: string, prefix: string, depth: number) => {
    if (depth > 16) return;
    scopes.push({ decl, owner, prefix });
    const names = decl.fields.map((f) => f.name).filter((n): n is string => !!n);
    for (const f of decl.fields) {
      if (f.type.k === 'tag' && f.type.decl && f.type.decl.kind !== 'enum') {
        const inner = f.type.decl as AggregateDecl;
        // Only bodies written here (anonymous or inline), not references to other structs.
        if (inner.nested || (inner.pos.line >= decl.pos.line && inner.end.line <= decl.end.line)) {
          visit(inner, owner, f.name ? `${prefix}${f.name}.` : prefix, depth + 1);
        }
        continue;
      }
      if (!f.name || !isIntegerType(f.type)) continue;
      const info = engine.sizeOf(f.type);
      const ff: FlagField = {
        owner, member: prefix + f.name, typeText: f.typeText, file,
        size: info.size ?? undefined, signed: info.size === null ? undefined : !!info.signed,
        pos: f.pos, kind: /flag/i.test(f.name) ? 'flags' : 'values',
      };
      if (decl.kind === 'union') ff.unionSiblings = names.filter((n) => n !== f.name);
      fieldOf.set(f, ff);
      model.fields.set(fieldKey(owner, ff.member), ff);
    }
  };
  for (const agg of input.aggregates) {
    if (agg.nested) continue;
    const owner = input.named.get(agg);
    if (owner) visit(agg, owner, '', 0);
  }

  const defines = input.directives.filter((d) => d.kind === 'define' && !d.params && d.name && d.body !== undefined && d.body.trim() !== '');
  // 1. A define inside a struct body documents the member declared just before it.
  for (const d of defines) {
    const m: FlagMacro = { name: d.name!, body: d.body!.trim(), file, line: d.line, character: d.character, mask: false };
    m.value = evalValue(m.body);
    let inner: Scoped | undefined;
    for (const s of scopes) {
      if (s.decl.pos.line <= d.line && d.line <= s.decl.end.line && (!inner || s.decl.pos.line >= inner.decl.pos.line)) inner = s;
    }
    if (inner) {
      let before: FieldDecl | undefined;
      for (const f of inner.decl.fields) if (f.end.line < d.line || (f.end.line === d.line && f.end.character <= d.character)) before = f;
      const ff = before && fieldOf.get(before);
      if (ff) {
        m.field = ff;
        m.binding = { file, line: d.line, source: 'struct body' };
      }
    }
    model.macros.set(m.name, m);
  }
  // 2. Outside struct bodies, a define whose name extends a member's flag family joins it.
  const families = new Map<string, FlagField>();
  const byField = new Map<FlagField, string[]>();
  for (const m of model.macros.values()) if (m.field) byField.set(m.field, [...(byField.get(m.field) ?? []), m.name]);
  for (const [ff, names] of byField) {
    if (ff.kind !== 'flags') continue;
    const prefix = commonPrefix(names);
    // A family is at least PREFIX_WORD_ (two words); `VFIO_` alone says nothing.
    if (prefix.split('_').filter(Boolean).length >= 2 && prefix.endsWith('_')) {
      if (families.has(prefix) && families.get(prefix) !== ff) families.delete(prefix);
      else families.set(prefix, ff);
    }
  }
  for (const m of model.macros.values()) {
    if (m.field) continue;
    let best: string | undefined;
    for (const p of families.keys()) if (m.name.startsWith(p) && (!best || p.length > best.length)) best = p;
    if (best) {
      m.field = families.get(best);
      m.binding = { file, line: m.line, source: 'name prefix' };
    }
  }
  // 3. Configuration overrides both.
  for (const b of input.config?.bindings ?? []) {
    const [owner, member] = splitFieldRef(b.field);
    const ff = model.fields.get(fieldKey(owner, member));
    if (!ff) continue;
    for (const m of model.macros.values()) {
      if (macroGlobMatches(b.macro, m.name)) {
        m.field = ff;
        m.binding = { file: input.config!.file, line: 0, source: 'configuration' };
      }
    }
  }
  markMasks(model);
  model.dependencies = commentDependencies(input.text, file, model);
  model.dependencies.push(...configDependencies(input.config, (n) => model.macros.has(n)));
  return model;
}

/**
 * The configured dependencies that concern a set of macros (the flag or the flag it requires is
 * one of them). Every header model built with the same configuration returns the same facts:
 * whoever merges models must keep one of each (see sameDependency).
 */
export function configDependencies(config: FlagConfigFacts | undefined, defines: (name: string) => boolean): FlagDependency[] {
  if (!config) return [];
  return config.dependencies
    .filter((d) => defines(d.flag) || defines(d.requires))
    .map((d) => ({ flag: d.flag, requires: d.requires, evidence: { file: config.file, line: 0, source: 'configuration' } }));
}

/** One statement of a dependency: the same pair stated at the same place. */
export function dependencyKey(d: FlagDependency): string {
  return [d.flag, d.requires, d.evidence.source, d.evidence.file, d.evidence.line].join('\0');
}

/** `struct vfio_x.flags` → ['struct vfio_x', 'flags']. */
export function splitFieldRef(ref: string): [string, string] {
  const m = /^\s*((?:struct|union)\s+[A-Za-z_]\w*|[A-Za-z_]\w*)\s*\.\s*([\w.]+)\s*$/.exec(ref);
  if (!m) return ['', ''];
  return [m[1].replace(/\s+/g, ' '), m[2]];
}

function commonPrefix(names: string[]): string {
  if (!names.length) return '';
  let p = names[0];
  for (const n of names) while (!n.startsWith(p)) p = p.slice(0, -1);
  // Cut back to a word boundary.
  return p.slice(0, p.lastIndexOf('_') + 1);
}

/** Bits of a flag as an unsigned 64-bit pattern. */
export function bitsOf(v: Value): bigint {
  return v.v & ((1n << 64n) - 1n);
}

function markMasks(model: FlagModel): void {
  const byField = new Map<FlagField, FlagMacro[]>();
  for (const m of model.macros.values()) if (m.field && m.value) byField.set(m.field, [...(byField.get(m.field) ?? []), m]);
  for (const list of byField.values()) {
    for (const m of list) {
      const bits = bitsOf(m.value!);
      // Single-bit values are flags whatever their name (VFIO_IRQ_SET_ACTION_MASK masks an IRQ).
      if ((bits & (bits - 1n)) === 0n) continue;
      if (/(MASK|_ALL|_ANY|_BITS)$/.test(m.name)) { m.mask = true; m.namedMask = /MASK$/.test(m.name); continue; }
      // A multi-bit value that is exactly the OR of other flags of the field is a mask of them.
      let covered = 0n;
      for (const o of list) {
        if (o === m) continue;
        const ob = bitsOf(o.value!);
        if (ob !== 0n && (ob & bits) === ob) covered |= ob;
      }
      if (covered === bits) m.mask = true;
    }
  }
}

export interface CommentSentence {
  text: string;
  line: number;
  /** The define on the line the comment starts on, for trailing comments. */
  comment: number;
}

// The dependencies and the discriminants of a header read its sentences: split once per text.
let lastSentences: { text: string; sentences: readonly CommentSentence[] } | undefined;

/** Comments of a file, split into sentences (`*` margins removed), each with its first line. */
export function commentSentences(text: string): readonly CommentSentence[] {
  if (lastSentences?.text !== text) lastSentences = { text, sentences: splitSentences(text) };
  return lastSentences.sentences;
}

function splitSentences(text: string): CommentSentence[] {
  const out: CommentSentence[] = [];
  const re = /\/\*[\s\S]*?\*\/|\/\/[^\n]*/g;
  let m: RegExpExecArray | null;
  let index = 0;
  // Lines counted on from the previous comment, not from the top for each (fs.h has hundreds).
  let counted = 0;
  let line = 0;
  while ((m = re.exec(text))) {
    for (let i = text.indexOf('\n', counted); i >= 0 && i < m.index; i = text.indexOf('\n', i + 1)) line++;
    counted = m.index;
    const startLine = line;
    // Comment markers off; `(?<!\*)` tries the closing `*/` only from the first star of a run.
    const lines = m[0].replace(/^\/\*+|(?<!\*)\*+\/$|^\/\//g, '').split('\n').map((l) => l.replace(/^\s*\*\s?/, ''));
    let cur = '';
    let curLine = startLine;
    lines.forEach((l, i) => {
      const parts = l.split(/(?<=[.;:])\s+(?=[A-Z@-])/);
      parts.forEach((p, j) => {
        if (!cur.trim()) curLine = startLine + i;
        cur += ' ' + p;
        if (j < parts.length - 1 || /[.;:]\s*$/.test(p) || p.trim() === '') {
          if (cur.trim()) out.push({ text: cur.replace(/\s+/g, ' ').trim(), line: curLine, comment: index });
          cur = '';
        }
      });
    });
    if (cur.trim()) out.push({ text: cur.replace(/\s+/g, ' ').trim(), line: curLine, comment: index });
    index++;
  }
  return out;
}

export function lineOf(text: string, offset: number): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

const DEP_RE = /\b(?:only\s+(?:valid|available|meaningful|allowed|supported)|(?:valid|available|meaningful|allowed|supported)\s+only)\s+(?:when|if)\s+(?:the\s+)?(?:flag\s+)?([A-Z][A-Z0-9_]+)\s+(?:is|are)\s+(?:also\s+)?set\b/;

/** "X is available only when Y is set", "This flag is only valid when Y is set". */
function commentDependencies(text: string, file: string, model: FlagModel): FlagDependency[] {
  const out: FlagDependency[] = [];
  const sentences = commentSentences(text);
  const definesByLine = new Map<number, string>();
  for (const m of model.macros.values()) definesByLine.set(m.line, m.name);
  let lastFlag: { name: string; comment: number } | undefined;
  for (const s of sentences) {
    const named = [...s.text.matchAll(/\b[A-Z][A-Z0-9_]{2,}\b/g)].map((x) => x[0]).filter((n) => model.macros.get(n)?.field);
    const dm = DEP_RE.exec(s.text);
    if (dm && model.macros.has(dm[1])) {
      const requires = dm[1];
      const before = s.text.slice(0, dm.index);
      const subjects = [...before.matchAll(/\b[A-Z][A-Z0-9_]{2,}\b/g)].map((x) => x[0]).filter((n) => n !== requires && model.macros.get(n)?.field);
      let flag = subjects[subjects.length - 1];
      // "This flag ..." refers to the flag the comment spoke of last, or the define it trails.
      if (!flag && /\b(this|the)\s+flag\b/i.test(before) && lastFlag?.comment === s.comment) flag = lastFlag.name;
      if (!flag) flag = definesByLine.get(s.line) ?? "";
      if (flag && flag !== requires) out.push({ flag, requires, evidence: { file, line: s.line, source: 'comment' } });
    }
    const lastNamed = named.filter((n) => n !== dm?.[1]).pop();
    if (lastNamed) lastFlag = { name: lastNamed, comment: s.comment };
  }
  return out;
}

/** Describes a value for messages: `0x80000000`, `-1`. */
export function hex(v: bigint): string {
  return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}
