// The flag facts kernel C is checked against: the flag models of the uapi headers a C file
// includes (directly, or through a kernel header or a local header of the same name), merged, and
// helpers to find the declared struct type of an expression in a function.
import path from 'node:path';
import type { Node, Tree } from 'web-tree-sitter';
import { ABIS } from '../../layout/abi';
import { LayoutEngine } from '../../layout/compute';
import type { AggregateDecl } from '../../model/decls';
import { extractModel } from '../../model/extract';
import { Scope } from '../../model/scope';
import { parseText } from '../../parse/parser';
import { preprocessUnit } from '../../preprocess/unit';
import type { RuleContext } from '../../rules/rule';
import type { Value } from '../../preprocess/expr';
import type { SourceStore } from '../../workspace';
import { codeDiscriminants, commentDiscriminants, configDiscriminants, mergeDiscriminant, type Discriminant } from './discriminants';
import { buildFlagModel, dependencyKey, flagEvaluator, type FlagConfigFacts, type FlagDependency, type FlagField, type FlagMacro, type FlagModel } from './model';
import { configFacts } from './project';

export interface FlagIndex {
  macros: Map<string, FlagMacro>;
  fields: Map<string, FlagField>;
  dependencies: FlagDependency[];
  discriminants: Discriminant[];
  /** Evaluates a constant expression with the macros of the header that defines `owner`'s type. */
  evaluate(owner: string, text: string): Value | undefined;
}

const headerCache = new Map<string, { key: string; model: FlagModel; evaluate: (t: string) => Value | undefined }>();

/** Builds the flag model of one uapi header as userspace sees it (first configured ABI). */
function headerModel(file: string, ctx: RuleContext): { model: FlagModel; evaluate: (t: string) => Value | undefined } | undefined {
  const store = ctx.project.store;
  const src = store.read(file);
  if (!src) return undefined;
  const config = configFacts(ctx.project.root, store, ctx.project.options);
  const key = `${src.hash}\0${JSON.stringify(config ?? null)}`;
  const hit = headerCache.get(file);
  if (hit && hit.key === key) return hit;
  const abi = ABIS[ctx.arches[0] ?? 'x86_64'];
  const result = preprocessUnit(file, { store, include: { root: ctx.project.root, abi, uapi: true, extra: ctx.project.options.includePaths ?? [] }, predefined: { ...abi.predefined } });
  const models = result.files.map((f) => {
    const tree = parseText(f.text);
    try {
      const s = store.read(f.path);
      return extractModel(f.path, tree, s && s.hash === f.sourceHash ? store.factsOf(s).blank.annotations : [], f);
    } finally {
      tree.delete();
    }
  });
  const main = models[0];
  if (!main) return undefined;
  const engine = new LayoutEngine(abi, new Scope([...models.slice(1), main], result.macros));
  const named = new Map<AggregateDecl, string>();
  for (const a of main.aggregates) if (a.tag) named.set(a, `${a.kind} ${a.tag}`);
  const model = buildFlagModel({ file, text: src.text, directives: store.factsOf(src).directives, aggregates: main.aggregates, named, engine, config });
  const entry = { key, model, evaluate: flagEvaluator(engine) };
  if (headerCache.size > 200) headerCache.clear();
  headerCache.set(file, entry);
  return entry;
}

/** uapi headers a C file reaches: <linux/x.h> and <uapi/linux/x.h> map to include/uapi/linux/x.h, one level through local headers. */
export function uapiHeadersOf(ctx: RuleContext): string[] {
  const root = ctx.project.root;
  if (!root) return [];
  const out = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string, directives: RuleContext['source']['directives'], depth: number) => {
    for (const d of directives) {
      if (d.kind !== 'include' || !d.includePath) continue;
      const m = /^(?:uapi\/)?(linux\/.+\.h)$/.exec(d.includePath);
      if (d.angled && m) {
        const p = path.join(root, 'include/uapi', m[1]);
        if (ctx.project.store.read(p)) out.add(p);
        // A kernel header of the same family (linux/vfio_pci_core.h -> linux/vfio.h -> uapi).
        const k = path.join(root, 'include', m[1]);
        const ks = !d.includePath.startsWith('uapi/') && depth < 3 && !seen.has(k) ? ctx.project.store.read(k) : undefined;
        if (ks && /vfio|iommu/.test(m[1])) {
          seen.add(k);
          visit(k, ctx.project.store.factsOf(ks).directives, depth + 1);
        }
      } else if (!d.angled && depth < 3) {
        const p = path.join(path.dirname(file), d.includePath);
        const s = ctx.project.store.read(p);
        if (s) visit(p, ctx.project.store.factsOf(s).directives, depth + 1);
      }
    }
  };
  visit(ctx.file, ctx.source.directives, 0);
  return [...out];
}

/**
 * Per parse tree, with what it was built from: the configuration (it may change, or stop being
 * trusted) and the header models (an open C file keeps its tree while its headers are edited).
 */
const indexCache = new WeakMap<object, { config: FlagConfigFacts | undefined; headers: HeaderEntry[]; index: FlagIndex }>();

type HeaderEntry = NonNullable<ReturnType<typeof headerModel>>;

export function kernelFlagIndex(ctx: RuleContext): FlagIndex {
  // Five rules read the index in one check: build it once per check.
  const memo = ctx.memo?.get('flags.kernelIndex') as FlagIndex | undefined;
  if (memo) return memo;
  const index = buildKernelFlagIndex(ctx);
  ctx.memo?.set('flags.kernelIndex', index);
  return index;
}

function buildKernelFlagIndex(ctx: RuleContext): FlagIndex {
  const config = configFacts(ctx.project.root, ctx.project.store, ctx.project.options);
  const headers = uapiHeadersOf(ctx).map((h) => headerModel(h, ctx)).filter((e): e is HeaderEntry => !!e);
  const hit = indexCache.get(ctx.source.tree);
  if (hit && hit.config === config && hit.headers.length === headers.length && hit.headers.every((e, i) => e === headers[i])) return hit.index;
  const index: FlagIndex = { macros: new Map(), fields: new Map(), dependencies: [], discriminants: [], evaluate: () => undefined };
  const evaluators = new Map<string, (t: string) => Value | undefined>();
  const seenDependencies = new Set<string>();
  for (const built of headers) {
    const { model } = built;
    for (const [k, m] of model.macros) if (!index.macros.has(k)) index.macros.set(k, m);
    for (const [k, f] of model.fields) {
      index.fields.set(k, f);
      evaluators.set(f.owner, built.evaluate);
    }
    // Each header model carries the configured facts that concern it: a dependency between flags
    // of two included headers (or a header reached twice) must count once.
    for (const d of model.dependencies) {
      const key = dependencyKey(d);
      if (seenDependencies.has(key)) continue;
      seenDependencies.add(key);
      index.dependencies.push(d);
    }
    for (const d of [...commentDiscriminants(model.text ?? '', model.file, model), ...configDiscriminants(config, model)]) mergeDiscriminant(index.discriminants, d);
  }
  index.evaluate = (owner, text) => evaluators.get(owner)?.(text);
  const unionMember = (m: string) => [...index.fields.values()].filter((f) => f.member === m && f.unionSiblings).map((f) => ({ owner: f.owner, siblings: f.unionSiblings! }));
  for (const d of codeDiscriminants(ctx.source.tree, ctx.file, (n) => index.macros.get(n)?.field?.kind === 'flags', (m) => unionMember(m))) mergeDiscriminant(index.discriminants, d);
  indexCache.set(ctx.source.tree, { config, headers, index });
  return index;
}

/** The enclosing function definition of a node. */
export function enclosingFunction(n: Node): Node | null {
  let p: Node | null = n.parent;
  while (p && p.type !== 'function_definition') p = p.parent;
  return p;
}

/**
 * `struct T` a variable was declared with, pointers stripped: the innermost block around `at` that
 * declares it (kernel ioctl handlers reuse `info` with another type in each case), then the
 * function's parameters.
 */
const SCOPES = new Set(['compound_statement', 'case_statement', 'function_definition', 'for_statement']);
/** Answers per (scope, name) of the tree being checked: every `x->m` of a function asks again. */
const declared: { tree?: Tree; answers: Map<string, string | undefined> } = { answers: new Map() };

export function declaredStruct(at: Node | null, name: string): string | undefined {
  // Only scopes declare names, so the answer depends on the innermost scope, not on `at`.
  let scope = at;
  while (scope && !SCOPES.has(scope.type)) scope = scope.parent;
  if (!scope) return undefined;
  if (declared.tree !== scope.tree) {
    declared.tree = scope.tree;
    declared.answers.clear();
  }
  const key = `${scope.id}\0${name}`;
  if (declared.answers.has(key)) return declared.answers.get(key);
  const answer = findDeclaredStruct(scope, name);
  declared.answers.set(key, answer);
  return answer;
}

function findDeclaredStruct(at: Node, name: string): string | undefined {
  for (let p: Node | null = at; p; p = p.parent) {
    let decls: (Node | null)[] = [];
    if (p.type === 'compound_statement' || p.type === 'case_statement') decls = p.namedChildren.filter((c) => c?.type === 'declaration');
    else if (p.type === 'function_definition') decls = p.descendantsOfType('parameter_declaration');
    else if (p.type === 'for_statement') decls = p.namedChildren.filter((c) => c?.type === 'declaration');
    for (const d of decls) {
      if (!d) continue;
      const names = d.childrenForFieldName('declarator').map((x) => x && declaratorName(x));
      if (!names.includes(name)) continue;
      const type = d.childForFieldName('type');
      const tag = type && (type.type === 'struct_specifier' || type.type === 'union_specifier') ? type.childForFieldName('name')?.text : undefined;
      // Declared here with another type: the name is shadowed, the type is not a struct we know.
      return tag ? `${type!.type === 'struct_specifier' ? 'struct' : 'union'} ${tag}` : undefined;
    }
    if (p.type === 'function_definition') return undefined;
  }
  return undefined;
}

function declaratorName(n: Node): string | undefined {
  let cur: Node | null = n;
  for (let i = 0; cur && i < 8; i++) {
    if (cur.type === 'identifier') return cur.text;
    cur = cur.childForFieldName('declarator');
  }
  return undefined;
}

/** `x.m` / `x->m` with `x` a local of a known struct type: [owner, member]. */
export function fieldOwner(fe: Node): { owner: string; member: string; base: string } | undefined {
  const arg = fe.childForFieldName('argument');
  const field = fe.childForFieldName('field');
  if (!arg || !field || arg.type !== 'identifier') return undefined;
  const owner = declaredStruct(fe, arg.text);
  return owner ? { owner, member: field.text, base: arg.text } : undefined;
}

export { type SourceStore };
