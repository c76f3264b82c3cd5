// uapi structs are shared by the kernel and by userspace of every ABI: members use the fixed-width
// __u8..__u64 / __s* / __le* / __be* types. `int` and `long` vary or are unclear, pointers and
// `long` change size between 32- and 64-bit, enum and bool sizes are the compiler's choice, and
// u32 or size_t are kernel-internal names userspace does not have.
import kernelC from '../../../../grammars/kernel-c.json';
import type { AggregateDecl, TypeExpr } from '../model/decls';
import type { LayoutEngine } from '../layout/compute';
import { lineRange, type Rule } from './rule';

const kernelInternal = new Set(kernelC.uapiFixedTypes.kernelInternal);
const byteTypes = new Set(['char', 'signed char', 'unsigned char']);

function problem(t: TypeExpr, engine: LayoutEngine, depth = 0): string | undefined {
  if (depth > 16) return undefined;
  switch (t.k) {
    case 'array':
      return problem(t.of, engine, depth + 1);
    case 'ptr':
      return 'a pointer is 4 bytes on 32-bit ABIs and 8 on 64-bit ones; pass user addresses as __aligned_u64';
    case 'prim':
      if (byteTypes.has(t.name)) return undefined;
      if (t.name === '_Bool') return 'the size of bool is the compiler\'s choice; use __u8';
      if (t.name === 'long' || t.name === 'unsigned long') return `'${t.name}' is 4 bytes on 32-bit ABIs and 8 on 64-bit ones; use __u32 or __u64`;
      return `'${t.name}' is not a fixed-width uapi type; use __u8/__u16/__u32/__u64 or their __s* forms`;
    case 'tag':
      if (t.tag === 'enum') return 'the size of an enum is the compiler\'s choice; store it in a __u32';
      return undefined;
    case 'name': {
      if (kernelInternal.has(t.name)) {
        const fixed = /^[us](8|16|32|64)$/.test(t.name) ? `__${t.name}` : 'a fixed-width __u32 or __u64';
        return `'${t.name}' is a kernel-internal type that userspace does not have; use ${fixed}`;
      }
      // A typedef whose width depends on the ABI (__kernel_long_t, __kernel_size_t).
      const r = engine.scope.resolveName(t.name);
      if (r && r.origin !== 'macro' && resolvesToLongOrPointer(r.type, engine, depth + 1)) return `'${t.name}' has the width of long or a pointer, which differs between 32- and 64-bit ABIs`;
      return undefined;
    }
    default:
      return undefined;
  }
}

function resolvesToLongOrPointer(t: TypeExpr, engine: LayoutEngine, depth: number): boolean {
  if (depth > 16) return false;
  if (t.k === 'ptr') return true;
  if (t.k === 'prim') return t.name === 'long' || t.name === 'unsigned long';
  if (t.k === 'name') {
    const r = engine.scope.resolveName(t.name);
    return !!r && resolvesToLongOrPointer(r.type, engine, depth + 1);
  }
  return false;
}

export const uapiNonFixedType: Rule = {
  id: 'uapi-non-fixed-type',
  defaultSeverity: 'warning',
  summary: 'int, long, pointers, bool, enums or kernel-internal types (u32, size_t) in a uapi struct.',
  scope: 'uapi',
  run(ctx, report) {
    const first = ctx.models.get(ctx.arches[0]);
    if (!first) return;
    const visit = (agg: AggregateDecl, owner: string) => {
      for (const f of agg.fields) {
        if (f.type.k === 'tag' && f.type.decl && f.type.decl.kind !== 'enum') {
          visit(f.type.decl as AggregateDecl, owner);
          continue;
        }
        const why = problem(f.type, first.engine);
        if (!why) continue;
        report({
          range: lineRange(f.pos.line, f.pos.character, f.name?.length ?? 0),
          message: `${owner}: member '${f.name ?? '(anonymous)'}' has type ${f.typeText}: ${why}.`,
        });
      }
    };
    for (const agg of first.model.aggregates) {
      if (agg.nested) continue;
      const name = first.named.get(agg);
      if (name) visit(agg, name);
    }
  },
};
