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
import { commentSpans } from '../../parse/comments';
import { parseText } from '../../parse/parser';
import { preprocessUnit } from '../../preprocess/unit';
import type { RuleContext } from '../../rules/rule';
import type { Value } from '../../preprocess/expr';
import type { IncludeContext, SourceStore } from '../../workspace';
import { flagModelCache } from '../../cache/flag-models';
import { headerInputs, headerInputsHold, readsOpenText } from './header-inputs';
import { codeDiscriminants, commentDiscriminants, knownCommentDiscriminants, configDiscriminants, mergeDiscriminant, type Discriminant } from './discriminants';
import { buildFlagModel, dependencyKey, flagEvaluator, type FlagConfigFacts, type FlagDependency, type FlagField, type FlagMacro, type FlagModel } from './model';
import { configFacts } from './project';
import { TOKEN_RE, tokenScanOf } from './token-scan';

export interface FlagIndex {
  macros: Map<string, FlagMacro>;
  fields: Map<string, FlagField>;
  dependencies: FlagDependency[];
  discriminants: Discriminant[];
  /** Evaluates a constant expression with the macros of the header that defines `owner`'s type. */
  evaluate(owner: string, text: string): Value | undefined;
  /**
   * Nodes of the checked file's tree that span exactly a whole token `name` of its text, in
   * document order (identifiers, field names, but also comments or strings that contain it: the
   * caller checks the type). Only for names the index knows (macros, members of its fields, the
   * flags and members of its dependencies and discriminants, `copy_from_user`); [] otherwise.
   * Rules start from these instead of walking every node of the tree.
   */
  tokens(name: string): Node[];
}

const headerCache = new Map<string, { key: string; model: FlagModel; evaluate: (t: string) => Value | undefined }>();

let keepModels = false;

/**
 * Whether the headers' flag models are kept in the cache folder (cache/flag-models.ts) and read
 * back by the next process. `vfio-review patch` and `reply` turn it on: one process per patch (b4)
 * built them again in every process. Off by default, like the lock programs: a long-lived
 * process builds each header's model once anyway, and `check`'s findings cache answers a warm run.
 */
export function keepFlagModels(on: boolean): void {
  keepModels = on;
}

/** Builds the flag model of one uapi header as userspace sees it (first configured ABI). */
function headerModel(file: string, ctx: RuleContext): { model: FlagModel; evaluate: (t: string) => Value | undefined } | undefined {
  const store = ctx.project.store;
  const src = store.read(file);
  if (!src) return undefined;
  const config = configFacts(ctx.project.root, store, ctx.project.options);
  const key = `${src.hash}\0${JSON.stringify(config ?? null)}`;
  const hit = headerCache.get(file);
  if (hit && hit.key === key) return hit;
  const abiName = ctx.arches[0] ?? 'x86_64';
  const abi = ABIS[abiName];
  const include: IncludeContext = { root: ctx.project.root, abi, uapi: true, extra: ctx.project.options.includePaths ?? [] };
  // Another process may have built it already (cache/flag-models.ts): a `patch` process per patch,
  // a check after an edit elsewhere in the tree.
  const disk = keepModels && ctx.project.options.cacheDir ? flagModelCache(ctx.project.options.cacheDir) : undefined;
  const slot = JSON.stringify([file, ctx.project.root ?? null, abiName, include.extra, config ?? null]);
  const stored = disk?.read(slot, (inputs) => headerInputsHold(inputs, store, include));
  if (stored) {
    // The evaluator needs the header's layout engine: built on first use only (one rule, and only
    // for constants assigned to union members), from the same unit the model was built on.
    let evaluator: ((t: string) => Value | undefined) | undefined;
    const evaluate = (t: string) => (evaluator ??= headerEngine(file, ctx, abi)?.evaluate ?? (() => undefined))(t);
    const model = { ...stored.model, text: src.text };
    knownCommentDiscriminants(src.text, file, model, stored.commentDiscriminants);
    return remember(file, { key, model, evaluate });
  }
  const built = headerEngine(file, ctx, abi);
  if (!built) return undefined;
  const { main, engine, inputs } = built;
  const named = new Map<AggregateDecl, string>();
  for (const a of main.aggregates) if (a.tag) named.set(a, `${a.kind} ${a.tag}`);
  const model = buildFlagModel({ file, text: src.text, directives: store.factsOf(src).directives, aggregates: main.aggregates, named, engine, config });
  if (disk && !readsOpenText(inputs, store)) {
    const recorded = headerInputs(inputs, store, include);
    if (recorded) disk.write(slot, recorded, model, commentDiscriminants(src.text, file, model));
  }
  return remember(file, { key, model, evaluate: built.evaluate });
}

function remember(file: string, entry: { key: string; model: FlagModel; evaluate: (t: string) => Value | undefined }) {
  if (headerCache.size > 200) headerCache.clear();
  headerCache.set(file, entry);
  return entry;
}

/** The header's unit on `abi` and a layout engine over it: what its flag model and value evaluator are built on. */
function headerEngine(file: string, ctx: RuleContext, abi: (typeof ABIS)[keyof typeof ABIS]) {
  // The engine's unit is the same preprocessing and the same models (tested equal in
  // test/flags-unit-share.test.mjs); its models are cached by text, so the headers that every
  // uapi header includes are parsed once, not once per header.
  const shared = ctx.project.uapiUnit?.(file, abi.name);
  const { result, models } = shared ?? ownUnit(file, ctx, abi);
  const main = models[0];
  if (!main) return undefined;
  const engine = new LayoutEngine(abi, new Scope([...models.slice(1), main], result.macros));
  return { main, engine, evaluate: flagEvaluator(engine), inputs: result.inputs };
}

/** The header preprocessed and parsed here, outside the engine's units (flagModelOf, hovers). */
function ownUnit(file: string, ctx: RuleContext, abi: (typeof ABIS)[keyof typeof ABIS]) {
  const store = ctx.project.store;
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
  return { result, models };
}

// The answer for a file's directives, for a moment: an edit that leaves the directives as they
// were (the store carries the same list over) asks again on every keystroke, and the answer
// stats a dozen headers. Headers appearing or going on disk are seen after two seconds.
const RECENT_HEADERS_MS = 2000;
const recentHeaders = new WeakMap<object, { file: string; root: string; store: SourceStore; at: number; headers: string[] }>();

/** uapi headers a C file reaches: <linux/x.h> and <uapi/linux/x.h> map to include/uapi/linux/x.h, one level through local headers. */
export function uapiHeadersOf(ctx: RuleContext): string[] {
  const root = ctx.project.root;
  if (!root) return [];
  const recent = recentHeaders.get(ctx.source.directives);
  if (recent && recent.file === ctx.file && recent.root === root && recent.store === ctx.project.store && Date.now() - recent.at < RECENT_HEADERS_MS) return recent.headers;
  const headers = findUapiHeaders(ctx, root);
  recentHeaders.set(ctx.source.directives, { file: ctx.file, root, store: ctx.project.store, at: Date.now(), headers });
  return headers;
}

function findUapiHeaders(ctx: RuleContext, root: string): string[] {
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
        // The name is tested before the file is read: the others (linux/mm.h, linux/pci.h, ...)
        // were read and hashed only to be skipped.
        const k = path.join(root, 'include', m[1]);
        const family = /vfio|iommu/.test(m[1]) && !d.includePath.startsWith('uapi/') && depth < 3 && !seen.has(k);
        const ks = family ? ctx.project.store.read(k) : undefined;
        if (ks) {
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
 * Per parse tree, with the header part it was built on: the part stands for the configuration (it
 * may change, or stop being trusted) and the header models (an open C file keeps its tree while
 * its headers are edited).
 */
const indexCache = new WeakMap<object, { part: HeaderPart; index: FlagIndex }>();

type HeaderEntry = NonNullable<ReturnType<typeof headerModel>>;

export function kernelFlagIndex(ctx: RuleContext): FlagIndex {
  // Five rules read the index in one check: build it once per check.
  const memo = ctx.memo?.get('flags.kernelIndex') as FlagIndex | undefined;
  if (memo) return memo;
  const index = buildKernelFlagIndex(ctx);
  ctx.memo?.set('flags.kernelIndex', index);
  return index;
}

/** What the index takes from the headers and the configuration alone: shared by every tree (every edit) of a file. */
interface HeaderPart {
  config: FlagConfigFacts | undefined;
  headers: HeaderEntry[];
  macros: Map<string, FlagMacro>;
  fields: Map<string, FlagField>;
  dependencies: FlagDependency[];
  discriminants: Discriminant[];
  evaluate: FlagIndex['evaluate'];
  /** Union members by name, for code discriminants. */
  unionMembers: Map<string, { owner: string; siblings: string[] }[]>;
  /** The token names FlagIndex.tokens answers for. */
  names: Set<string>;
}

const headerParts: HeaderPart[] = [];

function headerPart(config: FlagConfigFacts | undefined, headers: HeaderEntry[]): HeaderPart {
  const hit = headerParts.find((p) => p.config === config && p.headers.length === headers.length && p.headers.every((e, i) => e === headers[i]));
  if (hit) return hit;
  const macros = new Map<string, FlagMacro>();
  const fields = new Map<string, FlagField>();
  const dependencies: FlagDependency[] = [];
  const discriminants: Discriminant[] = [];
  const evaluators = new Map<string, (t: string) => Value | undefined>();
  const seenDependencies = new Set<string>();
  for (const built of headers) {
    const { model } = built;
    for (const [k, m] of model.macros) if (!macros.has(k)) macros.set(k, m);
    for (const [k, f] of model.fields) {
      fields.set(k, f);
      evaluators.set(f.owner, built.evaluate);
    }
    // Each header model carries the configured facts that concern it: a dependency between flags
    // of two included headers (or a header reached twice) must count once.
    for (const d of model.dependencies) {
      const key = dependencyKey(d);
      if (seenDependencies.has(key)) continue;
      seenDependencies.add(key);
      dependencies.push(d);
    }
    for (const d of [...commentDiscriminants(model.text ?? '', model.file, model), ...configDiscriminants(config, model)]) mergeDiscriminant(discriminants, d);
  }
  const unionMembers = new Map<string, { owner: string; siblings: string[] }[]>();
  for (const f of fields.values()) if (f.unionSiblings) unionMembers.set(f.member, [...(unionMembers.get(f.member) ?? []), { owner: f.owner, siblings: f.unionSiblings }]);
  const names = new Set<string>(['copy_from_user', ...macros.keys()]);
  for (const f of fields.values()) names.add(f.member);
  for (const d of dependencies) names.add(d.flag).add(d.requires);
  for (const d of discriminants) names.add(d.flag).add(d.member);
  const part: HeaderPart = { config, headers, macros, fields, dependencies, discriminants, evaluate: (owner, text) => evaluators.get(owner)?.(text), unionMembers, names };
  // A few trees (files) share headers; a new configuration or header version makes a new part.
  if (headerParts.length >= 8) headerParts.shift();
  headerParts.push(part);
  return part;
}

/** Whether `text` is the one the tree was parsed from: the blanked text is of the same length (trailing blanks aside). */
function isTreeText(tree: Tree, text: string): boolean {
  const end = tree.rootNode.endIndex;
  return text.length === end || (text.length > end && !/\S/.test(text.slice(end)));
}

/** Token offsets of the names the index answers for, from the file's token scan; nodes resolved per name on demand. */
function tokenFinder(tree: Tree, file: string, text: string, names: Set<string>): (name: string) => Node[] {
  const root = tree.rootNode;
  if (!isTreeText(tree, text)) {
    return (name) => (names.has(name) ? wholeTreeTokens(root, name) : []);
  }
  const scan = tokenScanOf(file, text);
  const offsets = new Map<string, number[]>();
  for (let i = 0; i < scan.names.length; i++) {
    const name = scan.names[i];
    if (!names.has(name)) continue;
    const list = offsets.get(name);
    if (list) list.push(scan.starts[i]);
    else offsets.set(name, [scan.starts[i]]);
  }
  const resolved = new Map<string, Node[]>();
  return (name) => {
    let nodes = resolved.get(name);
    if (nodes) return nodes;
    nodes = [];
    for (const at of offsets.get(name) ?? []) {
      const n = root.descendantForIndex(at, at + name.length);
      if (n && n.startIndex === at && n.endIndex === at + name.length && n.text === name) nodes.push(n);
    }
    resolved.set(name, nodes);
    return nodes;
  };
}

/** The slow way, for a tree whose text is not at hand: every identifier and field name of the tree. */
function wholeTreeTokens(root: Node, name: string): Node[] {
  return root.descendantsOfType(['identifier', 'field_identifier']).filter((n): n is Node => !!n && n.text === name);
}

function buildKernelFlagIndex(ctx: RuleContext): FlagIndex {
  const config = configFacts(ctx.project.root, ctx.project.store, ctx.project.options);
  const reached = uapiHeadersOf(ctx);
  // Names are looked for in the tree's text; without it (a hover given another text), every header.
  const named = flagIndexOptions.everyHeader || !isTreeText(ctx.source.tree, ctx.source.text) ? reached : reached.filter(namedIn(ctx, config));
  const headers = named.map((h) => headerModel(h, ctx)).filter((e): e is HeaderEntry => !!e);
  const part = headerPart(config, headers);
  const hit = indexCache.get(ctx.source.tree);
  if (hit?.part === part) return hit.index;
  const tokens = tokenFinder(ctx.source.tree, ctx.file, ctx.source.text, part.names);
  // The header discriminants are copied: code discriminants add evidence to them for this tree only.
  const discriminants = part.discriminants.map((d) => ({ ...d, evidence: [...d.evidence] }));
  const index: FlagIndex = { macros: part.macros, fields: part.fields, dependencies: part.dependencies, discriminants, evaluate: part.evaluate, tokens };
  const isFlag = (n: string) => index.macros.get(n)?.field?.kind === 'flags';
  // Only an `if` whose condition names a flag can be a flag test.
  const candidates = new Map<number, Node>();
  if (part.unionMembers.size) {
    for (const name of part.names) {
      if (!isFlag(name)) continue;
      for (const id of tokens(name)) {
        if (id.type !== 'identifier') continue;
        for (let c: Node = id, p = id.parent; p; c = p, p = p.parent) {
          if (p.type === 'if_statement' && p.childForFieldName('condition')?.id === c.id) candidates.set(p.id, p);
          // Above the first statement no `if` has the identifier in its condition.
          if (endsExpression(p)) break;
        }
      }
    }
  }
  const ifs = [...candidates.values()].sort((a, b) => a.startIndex - b.startIndex);
  for (const d of codeDiscriminants(ifs, ctx.file, isFlag, (m) => part.unionMembers.get(m) ?? [])) mergeDiscriminant(index.discriminants, d);
  indexCache.set(ctx.source.tree, { part, index });
  return index;
}

/** For the tests that compare both ways: true builds the model of every header reached, named or not. */
export const flagIndexOptions = { everyHeader: false };

// A header's flag facts reach kernel C only through names the C file spells out: a flag (a
// define of the header, or a flag a configured dependency pairs with one), or the tag of a
// struct the file declares a variable of (fields, discriminants and evaluations are found from
// `struct T x` declarations; the tag is a token of the header that defines T, macro-generated
// bodies included). A header the file names nothing of adds nothing any rule or hover reads, and
// building its model (its unit preprocessed and parsed) was most of the index: fs.h, poll.h,
// module.h... reached through <linux/...> includes of every VFIO file.
const headerNames = new Map<string, { key: string; flags: Set<string>; tokens: Set<string> }>();
// `struct T` / `union T`, with comments or an attribute between the keyword and the tag.
const TAG_RE = /\b(?:struct|union)(?:\s|\/\*[\s\S]*?\*\/|__attribute__\s*\(\([^;{}]*?\)\))*([A-Za-z_][A-Za-z0-9_]*)/g;

function namesOfHeader(file: string, ctx: RuleContext, config: FlagConfigFacts | undefined) {
  const src = ctx.project.store.read(file);
  if (!src) return undefined;
  const key = `${src.hash}\0${JSON.stringify(config ?? null)}`;
  const hit = headerNames.get(file);
  if (hit?.key === key) return hit;
  const flags = new Set<string>();
  for (const d of ctx.project.store.factsOf(src).directives) if (d.kind === 'define' && d.name) flags.add(d.name);
  for (const d of config?.dependencies ?? []) {
    if (flags.has(d.flag) || flags.has(d.requires)) flags.add(d.flag).add(d.requires);
  }
  // Code only: comments name every common word ("file", "page") a tag can be.
  const entry = { key, flags, tokens: new Set(withoutComments(src.text).match(TOKEN_RE) ?? []) };
  if (headerNames.size > 500) headerNames.clear();
  headerNames.set(file, entry);
  return entry;
}

/** `text` with each comment replaced by a space (parse/comments.ts: literals kept whole, `//` over continuations). */
export function withoutComments(text: string): string {
  let out = '';
  let from = 0;
  for (const [start, end] of commentSpans(text, true)) {
    out += `${text.slice(from, start)} `;
    from = end;
  }
  return out + text.slice(from);
}

/** Whether the checked file names something of a header (see above); headers that cannot be read pass (headerModel skips them). */
function namedIn(ctx: RuleContext, config: FlagConfigFacts | undefined): (header: string) => boolean {
  const tokens = tokenScanOf(ctx.file, ctx.source.text).counts;
  const tags = [...ctx.source.text.matchAll(TAG_RE)].map((m) => m[1]);
  return (header) => {
    const names = namesOfHeader(header, ctx, config);
    if (!names) return true;
    for (const f of names.flags) if (tokens.has(f)) return true;
    return tags.some((t) => names.tokens.has(t));
  };
}

/**
 * Whether `n` is a statement, declaration or definition: walks up from an identifier to the
 * expressions around it stop there. (Each `.parent` costs a walk down from the root in
 * web-tree-sitter, so going on to the root made every flag identifier cost its depth squared.)
 */
export function endsExpression(n: Node): boolean {
  const t = n.type;
  return t.endsWith('_statement') || t === 'declaration' || t === 'field_declaration' || t === 'function_definition' || t === 'translation_unit';
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
