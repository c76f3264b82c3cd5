// The analysis service: documents in, findings / hovers / layouts out. It owns the caches
// (file facts by content, models by preprocessed text, units by ABI) and the editor's trees.
import path from 'node:path';
import type { Tree } from 'web-tree-sitter';
import { UsageError, type AnalysisService, type BaseVersion, type CancelToken, type EngineOptions, type TextChange } from './api';
import { ABI_RULES, compareVersions, type VersionFacts } from './compare/abi-diff';
import { parseTypeText } from './model/scope';
import { hoverAt, prepareHoversOn } from './hover';
import { ABIS, ALL_ABIS } from './layout/abi';
import { LayoutEngine, toTypeLayout } from './layout/compute';
import type { AggregateDecl, FileModel } from './model/decls';
import { extractModel } from './model/extract';
import { Scope } from './model/scope';
import { loadParser, parseText, reparseByDiff } from './parse/parser';
import { preprocessUnit, type FileVariant, type UnitResult } from './preprocess/unit';
import { ALL_RULES } from './rules';
import { compareRuleIds, type RuleContext } from './rules/rule';
import type { AbiName, Finding, Fix, HoverResult, LayoutReport, Position, Range, Severity, SeveritySetting, TypeLayout } from './types';
import kernelC from '../../../grammars/kernel-c.json';
import { isSuppressed, suppressionFix, suppressions } from './suppress';
import { CONFIG_FILE, loadProjectConfig, severitiesFrom, type ConfigProblem, type LoadedConfig } from './config-file';
import { layoutLenses, memberHints, type InlayHint, type Lens } from './lenses';
import { inheritedLockFixes } from './analyses/locks/fixes';
import { MAX_CFG_DEPTH } from './cfg/build';
import { tooDeepFunctions } from './cfg/too-deep';
import { lockIndexBuildMs, takeParsedTree } from './analyses/locks';
import { findKernelRoot, hashText, isUnder, SourceStore } from './workspace';
import { MAX_LOOKUP_NAME } from './words';

export const DEFAULT_UAPI_GLOBS = ['include/uapi/**', 'arch/*/include/uapi/**'];

/**
 * Work on one file starts no new ABI or rule after this long (EngineOptions.fileBudgetMs): a
 * generated header of 100,000 members must not hold an editor or a CI run for minutes. What was
 * not done is reported as analysis-incomplete.
 */
export const DEFAULT_FILE_BUDGET_MS = 10_000;

/** A unit (a file and what it includes) preprocessed and modelled for one ABI. */
export interface Unit {
  abi: AbiName;
  result: UnitResult;
  models: FileModel[];
  main: FileModel;
  scope: Scope;
  engine: LayoutEngine;
  /** Names of the main file's aggregates: `struct x`, or a typedef name for anonymous ones. */
  named: Map<AggregateDecl, string>;
  checkedAt: number;
}

interface OpenDocument {
  path: string;
  text: string;
  version: number;
  /** The blanked text the tree was parsed from. */
  blanked: string;
  /** Parsed when first read (currentTree): `abi-diff` opens its NEW text and never reads a tree. */
  tree?: Tree;
  /** The parse text of edits the tree has not seen yet (see currentTree). */
  unparsed?: string;
}

/** Cached units are re-validated against the files' hashes at most this often. */
const REVALIDATE_MS = 1000;

export class Analyser implements AnalysisService {
  readonly store: SourceStore;
  private options: EngineOptions;
  private docs = new Map<string, OpenDocument>();
  private models = new Map<string, FileModel>();
  private units = new Map<string, Unit>();
  private definitions = new Map<string, { file: string | undefined; at: number }>();
  private closures = new Map<string, { files: string[]; inputs: Map<string, string>; at: number }>();
  private bases = new Map<string, BaseVersion>();
  private configs = new Map<string, { hash: string; loaded: LoadedConfig }>();
  /** Lays out base versions: the same tree, with the old text of each compared file in its overlay. */
  private baseAnalyser?: Analyser;
  /** Last variant tree per open document, for incremental reparse of preprocessor variants. */
  private variantTrees = new Map<string, { text: string; tree: Tree }>();
  /**
   * Set while the persistent cache (cache/findings.ts) records what a check reads: a unit kept
   * in memory is then revalidated, so its inputs are read (and recorded) again.
   */
  recordingReads = false;

  constructor(options: EngineOptions) {
    this.options = { ...options };
    this.store = new SourceStore(options.diskSnapshot === true);
  }

  configure(options: Partial<EngineOptions>): void {
    this.options = { ...this.options, ...options };
    this.units.clear();
    this.baseAnalyser?.configure(options);
  }

  // ---- comparison with a base version ---------------------------------------------------

  setBase(file: string, base: BaseVersion | undefined): void {
    if (!base) {
      this.bases.delete(file);
      this.baseAnalyser?.closeDocument(file);
      return;
    }
    const prev = this.bases.get(file);
    this.bases.set(file, base);
    this.baseAnalyser ??= new Analyser(this.options);
    if (prev?.text !== base.text) this.baseAnalyser.setBaseText(file, base.text);
  }

  /**
   * A base version is preprocessed and laid out, never edited: an overlay of the store, not an
   * open document with an editor tree (parsing those trees was 0.8 s of a release's `check
   * --base`, in every worker). Units that read the previous text are dropped, as an open
   * document's would be revalidated.
   */
  private setBaseText(file: string, text: string): void {
    this.store.setOverlay(file, text);
    for (const [key, unit] of this.units) if (unit.result.inputs.has(file)) this.units.delete(key);
  }

  baseOf(file: string): BaseVersion | undefined {
    return this.bases.get(file);
  }

  /** The layout of a type in the base version of `file`, for side-by-side hovers. */
  baseLayout(file: string, abi: AbiName, typeName: string): TypeLayout | undefined {
    if (!this.bases.has(file) || !this.baseAnalyser) return undefined;
    return this.baseAnalyser.typeLayouts(this.baseAnalyser.unit(file, abi)).find((t) => t.name === typeName);
  }

  /** The layouts, macros and enumerators of `file` on one ABI, for comparison. */
  versionFacts(file: string, abi: AbiName): VersionFacts {
    const unit = this.unit(file, abi);
    const macros: VersionFacts['macros'] = new Map();
    for (const m of unit.result.macros.values()) {
      if (m.file !== file || m.params || m.line === undefined) continue;
      const value = m.body.trim() === '' ? undefined : tryEvaluateValue(unit, m.body);
      macros.set(m.name, { body: m.body, value, line: m.line, character: m.character ?? 0 });
    }
    const enumerators: VersionFacts['enumerators'] = new Map();
    for (const e of unit.main.enums) {
      const values = unit.engine.enumValues(e);
      for (const en of e.enumerators) enumerators.set(en.name, { value: values.get(en.name), enumName: e.tag ? `enum ${e.tag}` : 'an anonymous enum', line: en.pos.line, character: en.pos.character });
    }
    return {
      types: this.typeLayouts(unit),
      macros,
      enumerators,
      signed: (typeText) => {
        const parsed = parseTypeText(typeText);
        return parsed ? unit.engine.sizeOf(parsed.type).signed : undefined;
      },
      canonical: (typeText) => {
        // Array bounds from the last line's first `[`; the lookbehind lets only a line's first `[` run `.*$`.
        const bounds = /\[(?<!\[.*?\[).*$/.exec(typeText);
        const parsed = parseTypeText(bounds ? typeText.slice(0, bounds.index) : typeText);
        return parsed ? unit.engine.canonical(parsed.type) + (bounds?.[0] ?? '') : undefined;
      },
    };
  }

  compare(file: string, arches?: AbiName[]): Finding[] {
    const base = this.bases.get(file);
    // The caller decides what is compared (abi-diff takes any two headers it is given).
    if (!base || !this.baseAnalyser || !this.store.read(file)) return [];
    const abis = arches?.length ? arches : this.arches;
    const oldFacts = new Map<AbiName, VersionFacts>();
    const newFacts = new Map<AbiName, VersionFacts>();
    for (const abi of abis) {
      oldFacts.set(abi, this.baseAnalyser.versionFacts(file, abi));
      newFacts.set(abi, this.versionFacts(file, abi));
    }
    return compareVersions(oldFacts, newFacts, {
      file, baseLocation: base.location, baseLabel: base.label, arches: abis,
      severityOf: (rule) => this.severities(file)[rule] ?? ABI_RULES.find((r) => r.id === rule)?.defaultSeverity ?? 'error',
    });
  }

  /** The options in force (read-only for the engine's own modules, such as hover). */
  get settings(): Readonly<EngineOptions> {
    return this.options;
  }

  get arches(): AbiName[] {
    return this.options.arches?.length ? this.options.arches : ALL_ABIS;
  }

  rootFor(file: string): string | undefined {
    return this.options.root ? path.resolve(this.options.root) : findKernelRoot(file);
  }

  isUapi(file: string): boolean {
    const root = this.rootFor(file);
    if (!root) return /(^|\/)include\/uapi\//.test(file.split(path.sep).join('/'));
    const rel = path.relative(root, file);
    if (rel.startsWith('..')) return /(^|\/)include\/uapi\//.test(file.split(path.sep).join('/'));
    return isUnder(rel, this.options.uapiGlobs?.length ? this.options.uapiGlobs : DEFAULT_UAPI_GLOBS);
  }

  // ---- documents -------------------------------------------------------------------------

  /**
   * `parsed`: a tree the caller parsed from this text's parse text (`store.factsOf`) already
   * (patch review finds the functions a patch changes on it); the document takes it over.
   */
  openDocument(file: string, text: string, version: number, parsed?: Tree): void {
    this.closeDocument(file);
    const facts = this.store.factsOf(this.store.setOverlay(file, text));
    this.docs.set(file, { path: file, text, version, blanked: facts.parseText, tree: parsed });
  }

  changeDocument(file: string, changes: TextChange[], version: number): void {
    const doc = this.docs.get(file);
    if (!doc) {
      const full = changes.find((c) => !c.range);
      if (full) this.openDocument(file, full.text, version);
      return;
    }
    let text = doc.text;
    let edit: { start: number; end: number; inserted: string } | undefined;
    for (const c of changes) {
      if (!c.range) {
        text = c.text;
        continue;
      }
      const start = offsetAt(text, c.range.start);
      const end = offsetAt(text, c.range.end);
      text = text.slice(0, start) + c.text + text.slice(end);
      edit = { start, end, inserted: c.text };
    }
    // One keystroke's change: the store carries over what it cannot have changed.
    const source = changes.length === 1 && edit ? this.store.setOverlayEdited(file, text, edit) : this.store.setOverlay(file, text);
    const facts = this.store.factsOf(source);
    // Reparsed when the tree is next read (currentTree): keystrokes that arrive while a check
    // runs, or within the debounce, cost their line's blanking, not a reparse each.
    doc.unparsed = facts.parseText;
    doc.text = text;
    doc.version = version;
  }

  /** The document's tree, brought up to date with the edits since it was last read. */
  private currentTree(doc: OpenDocument): Tree {
    if (!doc.tree) {
      doc.tree = parseText(doc.unparsed ?? doc.blanked);
      doc.blanked = doc.unparsed ?? doc.blanked;
      doc.unparsed = undefined;
      return doc.tree;
    }
    const next = doc.unparsed;
    if (next === undefined) return doc.tree;
    doc.unparsed = undefined;
    try {
      // Blanking is position-preserving, so the blanked texts differ where the edits were: the
      // diff-based edit gives tree-sitter exactly the changed span (of one edit or several).
      doc.tree = reparseByDiff(doc.tree, doc.blanked, next);
    } catch {
      // A parse that failed: start again from the text. (The old tree is not deleted here:
      // reparseByDiff may have deleted it already, and a second delete frees wasm memory twice.)
      doc.tree = parseText(next);
    }
    doc.blanked = next;
    return doc.tree;
  }

  closeDocument(file: string): void {
    const doc = this.docs.get(file);
    if (doc) doc.tree?.delete();
    this.docs.delete(file);
    const v = this.variantTrees.get(file);
    if (v) v.tree.delete();
    this.variantTrees.delete(file);
    this.store.clearOverlay(file);
  }

  dispose(): void {
    this.baseAnalyser?.dispose();
    for (const f of [...this.docs.keys()]) this.closeDocument(f);
    this.units.clear();
    this.models.clear();
  }

  /** The editor's tree of a file (all preprocessor branches), parsed on demand for closed files. */
  withTree<T>(file: string, fn: (tree: Tree, text: string) => T): T | undefined {
    const doc = this.docs.get(file);
    if (doc) return fn(this.currentTree(doc), doc.text);
    const src = this.store.read(file);
    if (!src) return undefined;
    // The CLI's files of the lock index were parsed for it already (awaitChecks).
    const tree = takeParsedTree(file, src.hash) ?? parseText(this.store.factsOf(src).parseText);
    try {
      return fn(tree, src.text);
    } finally {
      tree.delete();
    }
  }

  // ---- units -----------------------------------------------------------------------------

  private modelOf(v: FileVariant): FileModel {
    const extras = v.declarations.length || v.attributes.length || v.packs.length ? JSON.stringify([v.declarations, v.attributes, v.packs]) : '';
    const key = `${v.path}\0${hashText(v.text + extras)}`;
    let model = this.models.get(key);
    if (model) return model;
    const src = this.store.read(v.path);
    const annotations = src && src.hash === v.sourceHash ? this.store.factsOf(src).blank.annotations : [];
    let tree: Tree;
    const open = this.docs.has(v.path);
    const prev = open ? this.variantTrees.get(v.path) : undefined;
    if (prev) {
      tree = reparseByDiff(prev.tree, prev.text, v.text);
      this.variantTrees.set(v.path, { text: v.text, tree });
    } else {
      tree = parseText(v.text);
      if (open) this.variantTrees.set(v.path, { text: v.text, tree });
    }
    model = extractModel(v.path, tree, annotations, v);
    if (!open) tree.delete();
    if (this.models.size > 20000) this.models.clear();
    this.models.set(key, model);
    return model;
  }

  /**
   * The per-file budget (EngineOptions.fileBudgetMs), started now: `passed()` once work begun now
   * must stop starting. The lock index is built once, for every file, by the first file whose
   * rules ask for it: that time is not charged to the file (its findings would otherwise depend
   * on which file, or which worker of --jobs N, came first, and on the load).
   */
  private budget(): { ms: number; passed: () => boolean } {
    const ms = this.options.fileBudgetMs ?? DEFAULT_FILE_BUDGET_MS;
    if (!(ms > 0)) return { ms, passed: () => false };
    const start = Date.now();
    const sharedBefore = lockIndexBuildMs();
    return { ms, passed: () => Date.now() - start - (lockIndexBuildMs() - sharedBefore) > ms };
  }

  unit(file: string, abi: AbiName): Unit {
    const uapi = this.isUapi(file);
    const key = `${abi}\0${uapi}\0${file}`;
    const cached = this.units.get(key);
    const now = Date.now();
    if (cached) {
      if (now - cached.checkedAt < REVALIDATE_MS && !this.docs.has(file) && !this.recordingReads) return cached;
      const stale = [...cached.result.inputs].some(([p, h]) => this.store.read(p)?.hash !== h);
      if (!stale) {
        cached.checkedAt = now;
        return cached;
      }
    }
    const root = this.rootFor(file);
    const spec = ABIS[abi];
    const predefined: Record<string, string> = { ...spec.predefined };
    if (!uapi) predefined.__KERNEL__ = '1';
    const result = preprocessUnit(file, {
      store: this.store,
      include: { root, abi: spec, uapi, extra: this.options.includePaths ?? [] },
      predefined,
    });
    const models = result.files.map((f) => this.modelOf(f));
    // Definitions of included files come before the includer's uses.
    // The C library's types are parsed only if a lookup gets past the tree's own (Scope's fallback).
    const scope = new Scope([...models.slice(1), models[0]], result.macros, uapi ? () => this.libcModel() : undefined);
    const main = models[0] ?? { file, aggregates: [], enums: [], typedefs: [], problems: [] };
    const named = new Map<AggregateDecl, string>();
    for (const a of main.aggregates) {
      if (a.tag) named.set(a, `${a.kind} ${a.tag}`);
      else {
        const td = main.typedefs.find((t) => t.type.k === 'tag' && t.type.decl === a);
        if (td) named.set(a, td.name);
      }
    }
    const unit: Unit = { abi, result, models, main, scope, engine: new LayoutEngine(spec, scope), named, checkedAt: now };
    if (this.units.size > 2000) this.units.clear();
    this.units.set(key, unit);
    return unit;
  }

  /**
   * The file that defines `struct name` / `union name` / typedef `name`, searched through what
   * `file` includes (directives only, nothing parsed): kernel C includes hundreds of headers,
   * and only the defining one needs to be laid out.
   */
  findDefinition(file: string, kind: 'struct' | 'union' | 'typedef', name: string): string | undefined {
    const key = `${file}\0${kind}\0${name}`;
    const cached = this.definitions.get(key);
    if (cached && Date.now() - cached.at < REVALIDATE_MS * 5) return cached.file;
    // A fuzzed "identifier" of a megabyte is no type anyone defines, and no pattern V8 takes.
    if (name.length > MAX_LOOKUP_NAME || !/^\w+$/.test(name)) return undefined;
    const files = this.includeClosure(file);
    const re = kind === 'typedef'
      ? new RegExp(`(typedef\\s[^;]*\\b|\\}\\s*)${name}\\s*;`)
      : new RegExp(`\\b${kind}\\s+${name}\\b[^;{()]*\\{`);
    // The file itself first, then what it includes in inclusion order. A plain substring search
    // passes over the hundreds of headers that never name the type at a fraction of the regex's cost.
    const found = files.find((p) => {
      const text = this.store.read(p)?.text;
      return !!text && text.includes(name) && re.test(text);
    });
    this.definitions.set(key, { file: found, at: Date.now() });
    return found;
  }

  private libc?: FileModel;

  /** What uapi headers take from the C library, parsed once; the tree's own definitions win. */
  private libcModel(): FileModel {
    if (!this.libc) {
      const tree = parseText(kernelC.libcTypes.source);
      this.libc = extractModel('<libc>', tree, []);
      tree.delete();
    }
    return this.libc;
  }

  /**
   * The files `file` includes (first ABI, directives only), the file itself first. Kept while the
   * files it was worked out from are unchanged: scanning a kernel file's few hundred headers takes
   * seconds, checking their hashes (a stat each, mostly) a few milliseconds, and within a few
   * seconds not even that.
   */
  includeClosure(file: string): string[] {
    const cached = this.closures.get(file);
    if (cached && Date.now() - cached.at < REVALIDATE_MS * 5) return cached.files;
    if (cached && [...cached.inputs].every(([p, h]) => this.store.read(p)?.hash === h)) {
      cached.at = Date.now();
      return cached.files;
    }
    const abi = ABIS[this.arches[0]];
    const uapi = this.isUapi(file);
    const predefined: Record<string, string> = { ...abi.predefined };
    if (!uapi) predefined.__KERNEL__ = '1';
    const scan = preprocessUnit(file, { store: this.store, include: { root: this.rootFor(file), abi, uapi, extra: this.options.includePaths ?? [] }, predefined, scanOnly: true });
    const files = scan.files.map((f) => f.path);
    if (this.closures.size > 500) this.closures.clear();
    this.closures.set(file, { files, inputs: scan.inputs, at: Date.now() });
    return files;
  }

  /** Every named struct/union of the main file, laid out for one ABI. */
  typeLayouts(unit: Unit): TypeLayout[] {
    const out: TypeLayout[] = [];
    for (const [agg, name] of unit.named) out.push(toTypeLayout(name, unit.engine.layout(agg), agg.file));
    return out;
  }

  // ---- services ----------------------------------------------------------------------------

  layouts(file: string, types: string[] = [], arches?: AbiName[]): LayoutReport {
    const abis = arches?.length ? arches : this.arches;
    if (!this.store.read(file)) throw new UsageError(`cannot read ${file}`);
    const report: LayoutReport = { version: 1, arches: {} };
    const budget = this.budget();
    for (const abi of abis) {
      if (abi !== abis[0] && budget.passed()) {
        const rest = abis.slice(abis.indexOf(abi));
        report.incomplete = `stopped after the budget of ${budget.ms / 1000} s for one file: not laid out on ${rest.join(', ')}`;
        break;
      }
      const unit = this.unit(file, abi);
      let list = this.typeLayouts(unit);
      if (types.length) {
        const wanted = types.map((t) => t.trim().replace(/\s+/g, ' '));
        for (const w of wanted) {
          if (!list.some((l) => matchesTypeName(l.name, w))) {
            throw new UsageError(`no struct, union or typedef named '${w}' in ${path.basename(file)}`);
          }
        }
        list = list.filter((l) => wanted.some((w) => matchesTypeName(l.name, w)));
      }
      report.arches[abi] = { types: list };
    }
    return report;
  }

  /** The tree's `.vfio-review.json`, when it is to be read. */
  private projectConfig(file: string): LoadedConfig | undefined {
    const root = this.rootFor(file);
    if (!root || this.options.readProjectConfig === false) return undefined;
    // Parsed once per content of the file.
    const hash = this.store.read(path.join(root, CONFIG_FILE))?.hash ?? '';
    const cached = this.configs.get(root);
    if (cached?.hash === hash) return cached.loaded;
    const loaded = loadProjectConfig(root, this.store);
    this.configs.set(root, { hash, loaded });
    return loaded;
  }

  /** Rule severities: the user's settings over the tree's configuration over the defaults. */
  private severities(file: string): Record<string, SeveritySetting> {
    return severitiesFrom(this.projectConfig(file)?.config, this.options.severities ?? {});
  }

  configProblems(file: string): ConfigProblem[] {
    return this.projectConfig(file)?.problems ?? [];
  }

  check(file: string, token?: CancelToken, options: { projectRules?: boolean } = {}): Finding[] {
    const src = this.store.read(file);
    if (!src) return [];
    // Files the tree's configuration says to ignore.
    const ignore = this.projectConfig(file)?.config?.ignore;
    const root = this.rootFor(file);
    if (ignore?.length && root && isUnder(path.relative(root, file), ignore)) return [];
    // Rules see the editor's tree (all preprocessor branches) while they run.
    const findings = this.withTree(file, (tree, text) => {
      const all = this.runRules(file, src.hash, tree, text, token, options.projectRules !== false);
      if (this.bases.has(file) && !token?.isCancellationRequested) all.push(...this.compare(file));
      const quiet = suppressions(text, tree);
      return all.filter((f) => !isSuppressed(f, quiet));
    }) ?? [];
    return findings.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character || compareRuleIds(a.rule, b.rule));
  }

  private runRules(file: string, hash: string, tree: Tree, text: string, token?: CancelToken, projectRules = true): Finding[] {
    const uapi = this.isUapi(file);
    const facts = this.store.factsOf({ path: file, text, hash });
    // Kernel C is analysed on the editor's tree (all branches); a uapi header on its per-ABI
    // variants, with macros expanded, so their parse problems are the ones that matter.
    const parseProblems = uapi ? [] : extractModel(file, tree, []).problems;
    const budget = this.budget();
    const skippedAbis: AbiName[] = [];
    const skippedRules: string[] = [];
    const ctx: RuleContext = {
      file, uapi, arches: [...this.arches], layouts: new Map(), models: new Map(), parseProblems, unitProblems: [],
      source: { text, tree, blank: facts.blank, directives: facts.directives },
      project: {
        store: this.store, root: this.rootFor(file), options: this.options,
        // Flag models of the uapi headers a C file includes come from these units, shared with their layouts.
        uapiUnit: (header, abi) => (this.isUapi(header) && this.rootFor(header) === this.rootFor(file) ? this.unit(header, abi) : undefined),
      },
      memo: new Map(),
    };
    if (uapi) {
      const seen = new Set<string>();
      for (const abi of this.arches) {
        if (token?.isCancellationRequested) return [];
        // The first ABI always; the others while the budget lasts (the rules see the ones done).
        if (abi !== this.arches[0] && budget.passed()) {
          skippedAbis.push(abi);
          continue;
        }
        const unit = this.unit(file, abi);
        ctx.layouts.set(abi, this.typeLayouts(unit));
        ctx.models.set(abi, { model: unit.main, engine: unit.engine, named: unit.named });
        if (abi === this.arches[0]) ctx.unitProblems = unit.result.problems.filter((p) => p.file === file);
        for (const p of unit.main.problems) {
          const key = `${p.pos.line}:${p.pos.character}`;
          if (!seen.has(key)) parseProblems.push(p);
          seen.add(key);
        }
      }
    }
    ctx.arches = ctx.arches.filter((abi) => !skippedAbis.includes(abi));
    const findings: Finding[] = [];
    const severities = this.severities(file);
    for (const rule of ALL_RULES) {
      if (token?.isCancellationRequested) return [];
      if (rule.scope === 'uapi' && !uapi) continue;
      if (rule.scope === 'kernel' && uapi) continue;
      if (rule.cost === 'project' && !projectRules) continue;
      const setting = severities[rule.id] ?? rule.defaultSeverity;
      if (setting === 'off') continue;
      if (budget.passed()) {
        skippedRules.push(rule.id);
        continue;
      }
      try {
        rule.run(ctx, (r) => findings.push({ ...r, file, rule: rule.id, severity: setting as Severity }));
      } catch (e) {
        findings.push({
          file, rule: 'parse-incomplete', severity: 'info', range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
          message: `rule ${rule.id} failed on this file and was skipped: ${(e as Error).message}`,
        });
      }
    }
    // Work left undone is said, not reported clean: functions nested beyond the control-flow
    // analysis (left out by the lock, flag and union analyses), and what the budget cut.
    const incomplete = severities['analysis-incomplete'] ?? 'info';
    const note = (line: number, message: string) =>
      findings.push({ file, rule: 'analysis-incomplete', severity: incomplete as Severity, range: { start: { line, character: 0 }, end: { line, character: 0 } }, message });
    if (incomplete !== 'off') {
      if (!uapi) {
        for (const fn of tooDeepFunctions(tree, facts.parseText)) {
          note(fn.line, `function ${fn.name}: ${fn.what} nested more than ${MAX_CFG_DEPTH} levels deep; the lock, flag and union analyses leave it out.`);
        }
      }
      if (skippedAbis.length || skippedRules.length) {
        const what = [
          skippedAbis.length ? `not laid out on ${skippedAbis.join(', ')}` : '',
          skippedRules.length ? `rules not run: ${skippedRules.join(', ')}` : '',
        ].filter(Boolean).join('; ');
        note(0, `analysis stopped after its budget of ${budget.ms / 1000} s on this file: ${what}. A generated file this large is better left out ("ignore" in .vfio-review.json); fileBudgetMs raises the budget.`);
      }
    }
    return findings;
  }

  /** CodeLens above each struct/union of a uapi header: size, alignment, holes, ABI agreement. */
  codeLenses(file: string): Lens[] {
    if (!this.isUapi(file) || !this.store.read(file)) return [];
    const layouts = new Map<AbiName, TypeLayout[]>();
    const budget = this.budget();
    for (const abi of this.arches) {
      if (abi !== this.arches[0] && budget.passed()) break;
      layouts.set(abi, this.typeLayouts(this.unit(file, abi)));
    }
    return layoutLenses(layouts);
  }

  /** Member offsets and sizes (first configured ABI) as inlay hints in a uapi header. */
  inlayHints(file: string, range: Range): InlayHint[] {
    const src = this.store.read(file);
    if (!this.isUapi(file) || !src) return [];
    const lines = src.text.split('\n');
    return memberHints(this.typeLayouts(this.unit(file, this.arches[0])), range, (l) => (lines[l] ?? '').trimEnd().length);
  }

  /** Quick fixes for the findings overlapping `range`: the rules' own, and a suppression comment. */
  codeActions(file: string, range: Range, findings = this.check(file)): { finding?: Finding; fix: Fix }[] {
    const text = this.store.read(file)?.text ?? '';
    const out: { finding?: Finding; fix: Fix }[] = [];
    for (const f of findings) {
      if (f.range.end.line < range.start.line || f.range.start.line > range.end.line) continue;
      for (const fix of f.fixes ?? []) out.push({ finding: f, fix });
      out.push({ finding: f, fix: suppressionFix(f, text) });
    }
    if (!this.isUapi(file)) for (const fix of inheritedLockFixes(this, file, range)) out.push({ fix });
    return out;
  }

  hover(file: string, position: Position): HoverResult | null {
    if (!this.store.read(file)) return null;
    return hoverAt(this, file, position);
  }

  *prepareHovers(file: string): Generator<void, void> {
    if (this.store.read(file)) yield* prepareHoversOn(this, file);
  }
}

function tryEvaluateValue(unit: Unit, text: string) {
  try {
    return unit.engine.evaluateValue(text);
  } catch {
    return undefined;
  }
}

export function matchesTypeName(name: string, wanted: string): boolean {
  return name === wanted || name.replace(/^(struct|union) /, '') === wanted;
}

function offsetAt(text: string, pos: Position): number {
  let offset = 0;
  for (let line = 0; line < pos.line; line++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) return text.length;
    offset = nl + 1;
  }
  const lineEnd = text.indexOf('\n', offset);
  return Math.min(offset + pos.character, lineEnd < 0 ? text.length : lineEnd);
}

export async function createEngine(options: EngineOptions = {}): Promise<AnalysisService> {
  await loadParser();
  return new Analyser(options);
}
