// The lock analysis as the rules and the hover use it: the index (globs relative to the root,
// EngineOptions.lockIndex, by default drivers/vfio/**, drivers/iommu/iommufd/** and
// include/linux/vfio*.h; plus the file being checked) read through the store, each file
// extracted once per content, the program analysed once per set of contents.
import { readdirSync, statSync, type Dirent } from 'node:fs';
import path from 'node:path';
import type { Tree } from 'web-tree-sitter';
import { parseText } from '../../parse/parser';
import type { RuleContext } from '../../rules/rule';
import picomatch from 'picomatch';
import { globMatcher, hashText, realInside, type SourceStore } from '../../workspace';
import { analyseOutsider, analyseProgram, buildProgram, type AnalysisResult, type HeldLock, type HeldPoint, type Program } from './analyse';
import { extractFile, mayHoldFunctionsOrInitializers, type FileIR, type Loc } from './extract';
import { lockIRCache, type LockIRCache } from '../../cache/lock-ir';
import { lockProgramCache, type LockProgramCache, type StoredProgram } from '../../cache/lock-program';

export type { AnalysisResult, HeldLock, HeldPoint, Program, Violation, LockFinding, Requirement, Summary } from './analyse';
export type { FileIR, FunctionIR, Loc } from './extract';

/** Globs (relative to the root) of the files the lock analysis indexes, unless configured (EngineOptions.lockIndex). */
export const DEFAULT_LOCK_INDEX = ['drivers/vfio/**', 'drivers/iommu/iommufd/**', 'include/linux/vfio*.h'];

// One version per file: an edited file's older versions are dropped, not kept per edit.
// `fromProgram`: read back with the tree's analysis (cache/lock-program.ts) and not used yet; its
// first use counts as a hit of the lock IR cache, as reading it from its own entry would.
const fileCache = new Map<string, { hash: string; ir: FileIR; fromProgram?: boolean }>();
const programCache = new Map<string, { key: string; program: Program; result: AnalysisResult }>();

let keepPrograms = false;

/**
 * Whether the analysis of a tree's whole index is kept in the cache folder (cache/lock-program.ts)
 * and a new process starts from it. `vfio-review patch` and `reply` turn it on: one process per
 * patch (b4) otherwise analyses the unpatched index again in every process. Off by default: a
 * long-lived process (the language server, a CI check) analyses the index once anyway.
 */
export function keepLockPrograms(on: boolean): void {
  keepPrograms = on;
}

/**
 * The C files (`.c`, `.h`) of the index under `root`: each glob is walked from its static prefix
 * (`drivers/vfio` for `drivers/vfio/**`; only that folder for `include/linux/vfio*.h`) and matched
 * with picomatch, like the other globs of the engine. Sorted, without duplicates.
 *
 * Every rule of every checked file asks for this list: a listing is kept with the modification
 * times of the folders it read and reused while they are unchanged (adding, removing or renaming
 * an entry changes its folder's time). Listings that met a link, or a folder changed in the last
 * seconds (a change within the same clock tick would not show), are not kept.
 */
export function indexFiles(root: string, globs: string[] = DEFAULT_LOCK_INDEX): string[] {
  const key = `${root}\0${globs.join('\0')}`;
  const kept = listings.get(key);
  if (kept && kept.folders.every(([dir, mtime]) => folderTime(dir) === mtime)) return [...kept.files];
  const listing = listIndex(root, globs);
  if (listing.folders) {
    if (listings.size > 20) listings.clear();
    listings.set(key, { files: listing.files, folders: listing.folders });
  } else listings.delete(key);
  return [...listing.files];
}

const listings = new Map<string, { files: string[]; folders: [string, number][] }>();
/** A folder must be older than this for a listing of it to be kept. */
const SETTLED_MS = 3000;

/** The folder's modification time, or -1 when it is missing or not a folder. */
function folderTime(dir: string): number {
  const st = statSync(dir, { throwIfNoEntry: false });
  return st?.isDirectory() ? st.mtimeMs : -1;
}

/** The listing, with the times of the folders it depends on (none when it cannot be kept). */
function listIndex(root: string, globs: string[]): { files: string[]; folders?: [string, number][] } {
  const out = new Set<string>();
  let folders: [string, number][] | undefined = [];
  const now = Date.now();
  // Read before the folder is listed: a change after that shows as a newer time next time.
  const note = (dir: string) => {
    const mtime = folderTime(dir);
    if (mtime >= 0 && now - mtime < SETTLED_MS) folders = undefined;
    folders?.push([dir, mtime]);
  };
  // Links are followed only while they stay in the tree: a stranger's tree may link elsewhere.
  const inTree = (p: string): boolean => realInside(p, [root], true);
  for (const glob of globs) {
    const g = glob.replace(/\\/g, '/').replace(/^\.\//, '');
    if (!g || path.isAbsolute(g) || g.split('/').includes('..')) continue;
    const { base, glob: rest, isGlob } = picomatch.scan(g);
    const match = globMatcher(g);
    const start = path.join(root, base);
    // The start's parent: the start replaced by a link, or created, changes it.
    note(path.dirname(start));
    if (!isGlob) {
      // A plain path: a file, or a folder taken whole.
      let st;
      try {
        st = statSync(start);
      } catch {
        continue;
      }
      if (!inTree(start)) continue;
      if (st.isFile()) {
        if (/\.[ch]$/.test(start)) out.add(start);
        continue;
      }
    }
    // Only `**` (or a `/` in the pattern part) needs sub-folders.
    const deep = !isGlob || rest.includes('**') || rest.includes('/');
    const plainFolder = !isGlob;
    const walk = (dir: string, rel: string, depth: number) => {
      note(dir);
      let entries: Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const e = entry.name;
        const p = path.join(dir, e);
        const relP = rel ? `${rel}/${e}` : e;
        // The entry's type comes with the listing; only links (followed, as before) need a stat.
        // Stating every entry of the index cost a CI run over drivers/vfio over a second.
        let st: { isDirectory(): boolean; isFile(): boolean } = entry;
        if (entry.isSymbolicLink() || (!entry.isFile() && !entry.isDirectory())) {
          // What a link points to can change without its folder's time changing.
          folders = undefined;
          if (!inTree(p)) continue;
          try {
            st = statSync(p);
          } catch {
            continue;
          }
        }
        if (st.isDirectory()) {
          if (deep && depth < 8) walk(p, relP, depth + 1);
        } else if (st.isFile() && /\.[ch]$/.test(e)) {
          if (plainFolder || match(relP)) out.add(p);
        }
      }
    };
    if (inTree(start)) walk(start, path.relative(root, start).split(path.sep).join('/'), 0);
    else note(start);
  }
  return { files: [...out].sort(), folders };
}

/**
 * A file's IR: from memory (the same objects while the content is the same: the warm start of
 * analyse.ts reuses analyses by FunctionIR identity), else from the persistent cache, else
 * parsed and extracted. Only text read from disk is written to the persistent cache; an
 * editor's unsaved buffer or a patch applied in memory would fill it with one-off versions.
 */
function fileIR(store: SourceStore, file: string, current?: { tree: Tree; blank: RuleContext['source']['blank']; hash: string }, disk?: LockIRCache, openConditionals = true): FileIR | undefined {
  return hashedIR(store, file, current, disk, openConditionals)?.ir;
}

/**
 * Whether a file's `#if`/`#ifdef` blocks are opened for its functions (extract.ts): always, but
 * for a header outside the index. Every kernel header is one include-guard block; opening those
 * of a tree-wide run (thousands of headers' inline helpers, each analysed as an outsider) took
 * the whole-tree check from 33 to 54 s, and its new findings were trylock wrappers the rules
 * take for locks left held.
 */
const opensConditionals = (file: string, inIndex: boolean) => inIndex || !/\.h$/i.test(file);

/** fileIR with the content hash it is of. */
function hashedIR(store: SourceStore, file: string, current?: { tree: Tree; blank: RuleContext['source']['blank']; hash: string }, disk?: LockIRCache, openConditionals = true): { hash: string; ir: FileIR } | undefined {
  const src = current ? undefined : store.read(file);
  const contentHash = current?.hash ?? src?.hash;
  if (!contentHash) return undefined;
  // The IR is of the content and of the blocks opened: both in the key, here and on disk.
  const hash = openConditionals ? contentHash : `${contentHash}:closed`;
  const cached = fileCache.get(file);
  if (cached?.hash === hash) {
    if (cached.fromProgram) {
      cached.fromProgram = false;
      disk?.readBack();
    }
    return cached;
  }
  let ir = disk?.read(file, hash);
  if (!ir) {
    if (current) ir = extractFile(file, current.tree, current.blank, openConditionals);
    else {
      const facts = store.factsOf(src!);
      const tree = parseText(facts.parseText);
      let kept = false;
      try {
        ir = extractFile(file, tree, facts.blank, openConditionals);
        kept = keepTree(file, contentHash, tree);
      } finally {
        if (!kept) tree.delete();
      }
    }
    if (disk && !store.isOpen(file)) disk.write(file, hash, ir);
  }
  if (fileCache.size > 5000) fileCache.clear();
  const entry = { hash, ir };
  fileCache.set(file, entry);
  return entry;
}

// A check of the VFIO set parses most of its files twice: once when the first file's lock rules
// extract the whole index, once when the file's own check comes. Files the caller says it will
// check (awaitChecks: the CLI's inputs) keep the tree parsed for their extraction until their
// check takes it (takeParsedTree); the trees are the same (one parser, the same parse text).
const awaited = new Set<string>();
const parsedTrees = new Map<string, { hash: string; tree: Tree }>();

/** Files about to be checked by this thread: their trees parsed for the lock index are kept for their check. */
export function awaitChecks(files: Iterable<string>): void {
  for (const f of files) awaited.add(f);
}

/** The tree of `file` parsed for the lock index from the text of `hash`, handed over once (the caller deletes it). */
export function takeParsedTree(file: string, hash: string): Tree | undefined {
  awaited.delete(file);
  const kept = parsedTrees.get(file);
  if (!kept) return undefined;
  parsedTrees.delete(file);
  if (kept.hash === hash) return kept.tree;
  kept.tree.delete();
  return undefined;
}

/** Deletes the kept trees and forgets the awaited files (end of a run). */
export function dropParsedTrees(): void {
  for (const { tree } of parsedTrees.values()) tree.delete();
  parsedTrees.clear();
  awaited.clear();
}

function keepTree(file: string, hash: string, tree: Tree): boolean {
  if (!awaited.has(file) || parsedTrees.has(file)) return false;
  parsedTrees.set(file, { hash, tree });
  return true;
}

/** The analysed program for a rule's file: cached while no file of the index changes. */
export interface LockAnalysis {
  program: Program;
  result: AnalysisResult;
  root?: string;
  /** The program is the index and this one file outside it, analysed for this file alone. */
  outsider?: boolean;
}

export function lockAnalysis(ctx: RuleContext): LockAnalysis {
  // The lock rules report on a file's own function bodies and initializers. A file outside the
  // index with neither at its top level (most headers of a tree-wide run) has nothing to report,
  // and needs no index: a run of such files never builds it, and --jobs N workers start theirs
  // only when a file needs it.
  if (!needsIndex(ctx)) return nothingOfItsOwn();
  return lockAnalysisOf({ store: ctx.project.store, root: ctx.project.root, file: ctx.file, text: ctx.source.text, tree: ctx.source.tree, blank: ctx.source.blank, lockIndex: ctx.project.options.lockIndex, cacheDir: ctx.project.options.cacheDir });
}

/**
 * Whether the checked file's lock rules need the index: it is in the index, or it has top-level
 * functions or initializers of its own. Decided once per check (seven rules ask; the index's
 * listing stats its folders).
 */
function needsIndex(ctx: RuleContext): boolean {
  const memo = ctx.memo?.get('locks.needsIndex') as boolean | undefined;
  if (memo !== undefined) return memo;
  const root = ctx.project.root;
  const needs = !root || mayHoldFunctionsOrInitializers(ctx.source.tree, opensConditionals(ctx.file, false)) || indexFiles(root, ctx.project.options.lockIndex ?? DEFAULT_LOCK_INDEX).includes(ctx.file);
  ctx.memo?.set('locks.needsIndex', needs);
  return needs;
}

let emptyAnalysis: LockAnalysis | undefined;

/** The analysis of no function: what the lock rules of a file without any see. */
function nothingOfItsOwn(): LockAnalysis {
  if (!emptyAnalysis) {
    const program = buildProgram([]);
    emptyAnalysis = { program, result: analyseProgram(program) };
  }
  return emptyAnalysis;
}

let indexBuildMs = 0;

/**
 * Milliseconds this thread spent so far on the index's program (reading, extracting and analysing
 * the index; mostly its first build). The per-file budget leaves it out (analyser.ts).
 */
export function lockIndexBuildMs(): number {
  return indexBuildMs;
}

function timedIndex<T>(work: () => T): T {
  const start = performance.now();
  try {
    return work();
  } finally {
    indexBuildMs += performance.now() - start;
  }
}

/**
 * The same outside a rule (hover): `tree` and `blank` are the file's as the editor has them; when
 * absent, the file is read and parsed through the store. `lockIndex`: the configured globs
 * (EngineOptions.lockIndex); DEFAULT_LOCK_INDEX when absent. `cacheDir`: the persistent cache's
 * folder (EngineOptions.cacheDir), where files' IR is read from and kept; none when absent.
 * A file outside the index is analysed against the index's result (analyseOutsider), unless
 * the index reads something of it; `wholeProgram` analyses the index and the file together
 * instead, as the index reading the file makes it (the reference of test/locks-outsider.test.mjs).
 */
export function lockAnalysisOf(input: { store: SourceStore; root?: string; file: string; text?: string; tree?: Tree; blank?: RuleContext['source']['blank']; lockIndex?: string[]; cacheDir?: string; wholeProgram?: boolean }): LockAnalysis {
  const { store, root, file } = input;
  const disk = input.cacheDir ? lockIRCache(input.cacheDir) : undefined;
  const currentHash = input.text !== undefined ? hashText(input.text) : store.read(file)?.hash;
  // Hovers ask many times a second: with this file unchanged, the answer of the last second
  // stands without walking and stating the whole index again (the engine's units do the same).
  const recentKey = `${root ?? ''}\0${file}\0${JSON.stringify(input.lockIndex ?? null)}\0${input.wholeProgram ? 'whole' : ''}`;
  const recent = recentAnalyses.get(recentKey);
  if (recent && recent.store === store && recent.hash === currentHash && recent.generation === store.generation && Date.now() - recent.at < RECENT_MS) return recent.analysis;
  const current = input.tree && input.blank && currentHash ? { tree: input.tree, blank: input.blank, hash: currentHash } : undefined;
  const globs = input.lockIndex ?? DEFAULT_LOCK_INDEX;
  const files = root ? indexFiles(root, globs) : [];
  const kept = root && keepPrograms && input.cacheDir ? { cache: lockProgramCache(input.cacheDir), slot: `${root}\0${globs.join('\0')}` } : undefined;
  let analysis: LockAnalysis;
  if (!root) analysis = programOf(store, file, [file], file, current, disk);
  else if (files.includes(file)) analysis = { ...timedIndex(() => programOf(store, root, files, file, current, disk, kept)), root };
  else {
    const index = { ...timedIndex(() => programOf(store, root, files, undefined, undefined, disk, kept)), root };
    // What the lock rules and hovers report on a file comes from its own function bodies and
    // designated initializers. A file outside the index with neither (most headers of a
    // tree-wide run) is answered by the index's analysis; with its tree at hand, that is seen
    // before extracting it (the plain copy of a large header costs more than its parse).
    const open = opensConditionals(file, false);
    const ir = current && !mayHoldFunctionsOrInitializers(current.tree, open) ? undefined : fileIR(store, file, current, disk, open);
    if (!ir || (ir.functions.length === 0 && ir.initializers.length === 0)) analysis = index;
    else analysis = { ...outsiderOf(index, ir, currentHash, !!input.wholeProgram), root, outsider: true };
  }
  if (recentAnalyses.size > 100) recentAnalyses.clear();
  recentAnalyses.set(recentKey, { store, hash: currentHash, generation: store.generation, at: Date.now(), analysis });
  return analysis;
}

/**
 * The analysed program of `files` (`checked`, when given, with the editor's tree), cached under
 * `slot` while no file's content changes: the index's own slot (the root) is what every file
 * of the index and every file outside it starts from.
 */
function programOf(store: SourceStore, slot: string, files: string[], checked: string | undefined, current: Parameters<typeof fileIR>[2], disk: LockIRCache | undefined, kept?: { cache: LockProgramCache; slot: string }): { program: Program; result: AnalysisResult } {
  // A new process starts from the tree's analysis on disk (before its files' IR is read, so that
  // the program read back and the programs after it share the IR objects).
  if (kept && !programCache.has(slot)) {
    const stored = kept.cache.read(kept.slot);
    if (stored) adoptProgram(slot, stored);
  }
  const irs: FileIR[] = [];
  const hashes = new Map<string, string>();
  for (const f of files) {
    const read = hashedIR(store, f, f === checked ? current : undefined, disk);
    if (!read) continue;
    irs.push(read.ir);
    hashes.set(f, read.hash);
  }
  const key = programKey(hashes);
  const cached = programCache.get(slot);
  if (cached && cached.key === key) return { program: cached.program, result: cached.result };
  const program = buildProgram(irs);
  // Warm start: the functions of unchanged files are not analysed again (analyse.ts).
  const result = analyseProgram(program, { warm: cached?.result });
  if (programCache.size > 20) programCache.clear();
  programCache.set(slot, { key, program, result });
  // Only the tree as it is on disk: an editor's buffer or a patched text is a one-off.
  if (kept && files.every((f) => !store.isOpen(f))) kept.cache.write(kept.slot, hashes, program, result);
  return { program, result };
}

/** What a program is of: each file with its content hash, in the program's order. */
function programKey(hashes: Map<string, string>): string {
  return [...hashes].map(([f, hash]) => `${f}:${hash}`).join('\n');
}

/** A program read back from disk becomes the slot's last analysis, its files' IR the extraction cache's. */
function adoptProgram(slot: string, stored: StoredProgram): void {
  for (const [file, ir] of stored.program.files) {
    const hash = stored.hashes.get(file)!;
    if (fileCache.get(file)?.hash !== hash) fileCache.set(file, { hash, ir, fromProgram: true });
  }
  if (programCache.size > 20) programCache.clear();
  programCache.set(slot, { key: programKey(stored.hashes), program: stored.program, result: stored.result });
}

// The last few files outside the index, by the index's result they were analysed against: a
// hover or a second rule on the same file takes them, a tree-wide run does not pile them up.
const OUTSIDERS_KEPT = 4;
const outsiders = new Map<string, { index: AnalysisResult; hash: string | undefined; ir: FileIR; analysis: { program: Program; result: AnalysisResult } }>();

/**
 * A file outside the index: the index's program with the file added, analysed against the
 * index's result when nothing of the index reads the file (analyseOutsider), else as a whole
 * (warm from the index's result: only the file's functions and what they reach are analysed).
 */
function outsiderOf(index: { program: Program; result: AnalysisResult }, ir: FileIR, hash: string | undefined, wholeProgram: boolean): { program: Program; result: AnalysisResult } {
  const slot = `${ir.file}\0${wholeProgram ? 'whole' : ''}`;
  const kept = outsiders.get(slot);
  if (kept && kept.index === index.result && kept.hash === hash && kept.ir === ir) {
    outsiders.delete(slot);
    outsiders.set(slot, kept);
    return kept.analysis;
  }
  const program = buildProgram([...index.program.files.values(), ir]);
  const fast = wholeProgram ? { fallback: 'asked for' } : analyseOutsider(index, program);
  let result: AnalysisResult;
  if ('fallback' in fast) {
    // The file's struct types differ from the index's only where it declares them: the index's
    // analyses that looked up none of those stand.
    result = analyseProgram(program, { warm: index.result, acrossStructChanges: true });
    result.stats = { ...result.stats!, wholeProgramBecause: fast.fallback };
  } else result = fast;
  outsiders.delete(slot);
  outsiders.set(slot, { index: index.result, hash, ir, analysis: { program, result } });
  if (outsiders.size > OUTSIDERS_KEPT) outsiders.delete(outsiders.keys().next().value!);
  return { program, result };
}

const RECENT_MS = 1000;
// The store too: another engine's store (a second language server, a test) has its own files.
const recentAnalyses = new Map<string, { store: SourceStore; hash: string | undefined; generation: number; at: number; analysis: { program: Program; result: AnalysisResult; root?: string } }>();

/** `drivers/vfio/vfio_main.c:143` (1-based line), relative to the root when under it. */
export function where(at: Loc, root?: string): string {
  const rel = root && at.file.startsWith(root + path.sep) ? path.relative(root, at.file) : at.file;
  return `${rel.split(path.sep).join('/')}:${at.line + 1}`;
}

export function rangeOf(at: Loc) {
  return { start: { line: at.line, character: at.character }, end: { line: at.endLine, character: at.endCharacter } };
}

/**
 * The locks held just before the call or return nearest at or before `position` in `file`, for
 * hovers ("locks held here"). Needs a rule context's analysis; [] when nothing is known.
 */
export function locksHeldAt(result: AnalysisResult, file: string, position: { line: number; character: number }): HeldLock[] {
  let best: HeldPoint | undefined;
  for (const [fn, list] of result.heldAt) {
    if (fn.file !== file || fn.at.line > position.line || fn.at.endLine < position.line) continue;
    for (const h of list) {
      const before = h.at.line < position.line || (h.at.line === position.line && h.at.character <= position.character);
      if (before && (!best || h.at.line > best.at.line || (h.at.line === best.at.line && h.at.character > best.at.character))) best = h;
    }
  }
  return best?.held ?? [];
}
