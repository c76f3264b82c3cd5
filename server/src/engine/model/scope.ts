// Name lookup for one translation unit under one ABI: tags, typedefs, enumerators and macros from
// every file the unit includes, with the kernel's builtin type names as a fallback.
import kernelC from '../../../../grammars/kernel-c.json';
import type { MacroTable, Value } from '../preprocess/expr';
import type { AggregateDecl, EnumDecl, FileModel, LayoutAttrs, TypeExpr, TypedefDecl } from './decls';
import { normalisePrimitive } from './extract';

type BuiltinSpec = string | { type: string; aligned?: number };
const builtinSpecs = Object.fromEntries(
  Object.entries(kernelC.builtinTypes).filter(([k]) => !k.startsWith('$')),
) as Record<string, BuiltinSpec>;

export interface ResolvedTypedef {
  type: TypeExpr;
  attrs: LayoutAttrs;
  /** Where it came from: a typedef in the tree, a macro used as a type, or vfio-review's builtin table. */
  origin: 'typedef' | 'macro' | 'builtin';
  decl?: TypedefDecl;
}

export class Scope {
  private tags = new Map<string, AggregateDecl | EnumDecl>();
  private typedefs = new Map<string, TypedefDecl>();
  private enumerators = new Map<string, { decl: EnumDecl; index: number }>();

  /**
   * `fallback` is a model looked at after all of `models` (what uapi headers take from the C
   * library), made only when a lookup needs it: a lookup that misses, or finds an incomplete tag
   * it could complete. Until then every answer is the one the eager scope gives; parsing it cost
   * a `layout` process a tenth of its time for headers that never need it.
   */
  constructor(models: FileModel[], readonly macros: MacroTable, private fallback?: () => FileModel) {
    for (const m of models) this.addModel(m);
  }

  private addModel(m: FileModel): void {
    for (const a of m.aggregates) this.addTag(a);
    for (const e of m.enums) {
      this.addTag(e);
      e.enumerators.forEach((en, index) => {
        if (!this.enumerators.has(en.name)) this.enumerators.set(en.name, { decl: e, index });
      });
    }
    for (const t of m.typedefs) if (!this.typedefs.has(t.name)) this.typedefs.set(t.name, t);
  }

  /** Adds the fallback model if it was not yet: whether a lookup should be tried again. */
  private addFallback(): boolean {
    const fallback = this.fallback;
    if (!fallback) return false;
    this.fallback = undefined;
    this.addModel(fallback());
    return true;
  }

  private addTag(d: AggregateDecl | EnumDecl): void {
    if (!d.tag) return;
    const key = `${d.kind} ${d.tag}`;
    const prev = this.tags.get(key);
    if (!prev || (!prev.complete && d.complete)) this.tags.set(key, d);
  }

  tag(kind: 'struct' | 'union' | 'enum', name: string): AggregateDecl | EnumDecl | undefined {
    const key = `${kind} ${name}`;
    const found = this.tags.get(key);
    return (!found || !found.complete) && this.addFallback() ? this.tags.get(key) : found;
  }

  typedef(name: string): TypedefDecl | undefined {
    return this.typedefs.get(name) ?? (this.addFallback() ? this.typedefs.get(name) : undefined);
  }

  enumerator(name: string): { decl: EnumDecl; index: number } | undefined {
    return this.enumerators.get(name) ?? (this.addFallback() ? this.enumerators.get(name) : undefined);
  }

  /** A typedef name, a macro standing for a type (`#define __aligned_u64 __u64 __attribute__(...)`), or a builtin. */
  resolveName(name: string): ResolvedTypedef | undefined {
    const td = this.typedef(name);
    if (td) return { type: td.type, attrs: td.attrs, origin: 'typedef', decl: td };
    const macro = this.macros.get(name);
    if (macro && !macro.params) {
      const parsed = parseTypeText(macro.body);
      if (parsed && !(parsed.type.k === 'name' && parsed.type.name === name)) return { ...parsed, origin: 'macro' };
    }
    const spec = builtinSpecs[name];
    if (spec !== undefined) {
      const text = typeof spec === 'string' ? spec : spec.type;
      const parsed = parseTypeText(text);
      if (!parsed) return undefined;
      if (typeof spec !== 'string' && spec.aligned) parsed.attrs.aligned = [String(spec.aligned)];
      return { ...parsed, origin: 'builtin' };
    }
    return undefined;
  }

  /** Enumerator values for constant expressions; evaluated lazily by the caller's evaluator. */
  identifierValue(name: string, evalEnum: (decl: EnumDecl) => Map<string, Value>): Value | undefined {
    const e = this.enumerator(name);
    if (!e) return undefined;
    return evalEnum(e.decl).get(name);
  }
}

/**
 * Parses a type written as text: `unsigned long`, `struct foo`, `__u64 *`,
 * `__u64 __attribute__((aligned(8)))`. Returns undefined for anything else (an expression).
 */
export function parseTypeText(text: string): { type: TypeExpr; attrs: LayoutAttrs } | undefined {
  const attrs: LayoutAttrs = {};
  let rest = replaceAttributes(text, (inner: string) => {
    for (const part of splitTop(inner)) {
      const p = part.trim().replace(/^__(\w+)__/, '$1');
      if (p === 'packed') attrs.packed = true;
      else if (p === 'aligned') (attrs.aligned ??= []).push('');
      else {
        const am = /^aligned\s*\((.*)\)$/.exec(p);
        if (am) (attrs.aligned ??= []).push(am[1]);
      }
    }
    return ' ';
  });
  rest = rest.replace(/\b(const|volatile|__user|__iomem|__force|__bitwise|__extension__)\b/g, ' ').trim();
  let stars = 0;
  while (rest.endsWith('*')) {
    stars++;
    rest = rest.slice(0, -1).trim();
  }
  let type: TypeExpr | undefined;
  const tm = /^(struct|union|enum)\s+([A-Za-z_]\w*)$/.exec(rest);
  if (tm) type = { k: 'tag', tag: tm[1] as 'struct' | 'union' | 'enum', name: tm[2] };
  else {
    const words = rest.split(/\s+/).filter(Boolean);
    const prim = normalisePrimitive(words);
    if (prim) type = { k: 'prim', name: prim };
    else if (words.length === 1 && /^[A-Za-z_]\w*$/.test(words[0])) type = { k: 'name', name: words[0] };
  }
  if (!type) return undefined;
  for (let i = 0; i < stars; i++) type = { k: 'ptr', to: type };
  return { type, attrs };
}

/** Replaces each `__attribute__((...))` (balanced parentheses) by what `fn` returns for its inside. */
function replaceAttributes(text: string, fn: (inner: string) => string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const at = text.indexOf('__attribute__', i);
    if (at < 0) return out + text.slice(i);
    const open = text.indexOf('(', at);
    let depth = 0;
    let close = -1;
    for (let j = open; open >= 0 && j < text.length; j++) {
      if (text[j] === '(') depth++;
      else if (text[j] === ')' && --depth === 0) {
        close = j;
        break;
      }
    }
    if (close < 0) return out + text.slice(i);
    // `((inner))`: drop the doubled parentheses.
    const inner = text.slice(open + 1, close).trim().replace(/^\(([\s\S]*)\)$/, '$1');
    out += text.slice(i, at) + fn(inner);
    i = close + 1;
  }
}

function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of s) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}
