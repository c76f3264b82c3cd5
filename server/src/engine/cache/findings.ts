// The persistent cache of `check`: a file's findings, kept on disk with every input that produced
// them. The profile of a cold CI run over the VFIO set shows why findings and not smaller pieces
// are kept: a kernel C file's findings depend on the whole lock index (3-4 s to extract and
// analyse), on the uapi headers it includes (flag models) and on its own parse, and every rule
// walks that parse tree. Keeping only the per-file pieces would still leave each checked file to
// parse and every rule to run; keeping the findings with their inputs leaves a warm run to read
// and hash the inputs.
//
// An entry is named by a hash of the tool (version and bundle), the engine options, the file's
// path, its root and its content hash. It records what the check read through the engine's store
// (path -> content hash, or null for a file that was looked for and not found) and, for kernel C,
// the list of files of the lock index. It is used only when all of these are unchanged; an entry
// that does not have the expected shape, or that names another key, is deleted and rebuilt.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { Analyser } from '../analyser';
import { DEFAULT_LOCK_INDEX, indexFiles } from '../analyses/locks';
import type { Finding, Range } from '../types';
import { EntryFolder, type EntryStats } from './entries';

/** Bumped when the entry shape or what it records changes. */
const FORMAT = 'vfio-review-findings/1';
/** The pseudo-path under which an entry records the lock index's file list. */
const LOCK_INDEX_DEP = '\0lock-index';

/** What Analyser.check takes besides the file. */
export interface CheckOptions {
  projectRules?: boolean;
}

interface Entry {
  format: string;
  key: string;
  file: string;
  deps: [string, string | null][];
  findings: Finding[];
}

/**
 * A hash of what the tool is: its version and the bytes of the bundles that run (a rebuilt tool
 * with the same version number does not read the entries of the previous build).
 */
export function toolStamp(version: string, files: string[]): string {
  const hash = createHash('sha256').update(version);
  for (const file of files) {
    hash.update('\0');
    try {
      hash.update(fs.readFileSync(file));
    } catch {
      hash.update('missing');
    }
  }
  return hash.digest('hex');
}

export class FindingsCache {
  private readonly folder: EntryFolder;
  /** Content hashes of dependencies, computed once per run (the tree is not expected to change during a run). */
  private readonly current = new Map<string, string | null>();

  constructor(dir: string, private readonly stamp: string) {
    this.folder = new EntryFolder(dir);
  }

  get stats(): EntryStats {
    return this.folder.stats;
  }

  /**
   * engine.check(file, undefined, options), from the cache when nothing it read has changed.
   * The options are part of the entry's key.
   */
  check(engine: Analyser, file: string, options: CheckOptions = {}): Finding[] {
    const src = engine.store.read(file);
    // A file compared with a base version depends on text that is not on disk: not cached.
    if (!src || engine.baseOf(file)) return engine.check(file, undefined, options);
    const key = this.keyOf(engine, file, src.hash, options);
    const cached = this.lookup(engine, file, key);
    if (cached) return cached;
    const { findings, deps } = this.recordedCheck(engine, file, options);
    this.folder.write(key, { format: FORMAT, key, file, deps, findings } satisfies Entry);
    return findings;
  }

  /**
   * The cached findings of `file` when they are still valid, else undefined (a miss). Reads and
   * hashes files but parses nothing: the CLI asks before it starts worker threads, with an
   * engine whose parser is not loaded. The caller leaves out files compared with a base version.
   */
  lookup(engine: Analyser, file: string, key?: string): Finding[] | undefined {
    if (key === undefined) {
      const src = engine.store.read(file);
      if (!src) return undefined;
      key = this.keyOf(engine, file, src.hash);
    }
    const stored = this.folder.read(key);
    if (stored !== undefined) {
      const entry = validEntry(stored, key, file);
      if (!entry) this.folder.drop(key);
      else if (entry.deps.every(([dep, hash]) => this.hashOf(engine, file, dep) === hash)) {
        this.folder.stats.hits++;
        return entry.findings;
      }
    }
    this.folder.stats.misses++;
    return undefined;
  }

  private keyOf(engine: Analyser, file: string, hash: string, options: CheckOptions = {}): string {
    // Without the project rules (patch review's uapi headers) the findings may differ: another key.
    const parts = [FORMAT, this.stamp, file, hash, engine.rootFor(file) ?? null, sortedKeys(engine.settings)];
    if (options.projectRules === false) parts.push('no project rules');
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  }

  /** The dependency's hash now: a file's content hash, or the lock index's file list. */
  private hashOf(engine: Analyser, file: string, dep: string): string | null {
    const known = this.current.get(dep);
    if (known !== undefined) return known;
    let hash: string | null;
    if (dep === LOCK_INDEX_DEP) hash = this.lockIndexHash(engine, file);
    else hash = engine.store.read(dep)?.hash ?? null;
    this.current.set(dep, hash);
    return hash;
  }

  private lockIndexHash(engine: Analyser, file: string): string | null {
    const root = engine.rootFor(file);
    if (!root) return null;
    const files = indexFiles(root, engine.settings.lockIndex ?? DEFAULT_LOCK_INDEX);
    return createHash('sha256').update(files.join('\n')).digest('hex');
  }

  /** Runs the check with every read through the engine's store recorded. */
  private recordedCheck(engine: Analyser, file: string, options: CheckOptions): { findings: Finding[]; deps: [string, string | null][] } {
    const store = engine.store;
    const reads = new Map<string, string | null>();
    const read = store.read;
    // An instance property over the class's method, removed afterwards.
    store.read = (path: string) => {
      const result = read.call(store, path);
      if (!reads.has(path)) reads.set(path, result?.hash ?? null);
      return result;
    };
    engine.recordingReads = true;
    let findings: Finding[];
    try {
      findings = engine.check(file, undefined, options);
      // The flag models of uapi headers are kept in memory by the header's hash alone: a later
      // check that reuses one does not read what the header includes. Read it here.
      for (const [dep, hash] of [...reads]) {
        if (dep !== file && hash !== null && engine.isUapi(dep)) for (const included of engine.includeClosure(dep)) store.read(included);
      }
    } finally {
      delete (store as { read?: unknown }).read;
      engine.recordingReads = false;
    }
    const deps = [...reads].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [dep, hash] of deps) if (!this.current.has(dep)) this.current.set(dep, hash);
    if (!engine.isUapi(file)) deps.push([LOCK_INDEX_DEP, this.hashOf(engine, file, LOCK_INDEX_DEP)]);
    return { findings, deps };
  }
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

// ---- shape checks: nothing read from disk is trusted ------------------------------------------

const SEVERITIES = new Set(['error', 'warning', 'info', 'hint']);

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0;
const isPosition = (x: unknown) => isObject(x) && isCount(x.line) && isCount(x.character);
const isRange = (x: unknown): x is Range => isObject(x) && isPosition(x.start) && isPosition(x.end);
const isRelated = (x: unknown) => isObject(x) && typeof x.file === 'string' && isRange(x.range) && typeof x.message === 'string';
const isEdit = (x: unknown) => isObject(x) && isRange(x.range) && typeof x.newText === 'string';
const isFix = (x: unknown) =>
  isObject(x) && typeof x.title === 'string' && Array.isArray(x.edits) && x.edits.every(isEdit) && (x.preferred === undefined || typeof x.preferred === 'boolean');

function isFinding(x: unknown): x is Finding {
  return (
    isObject(x) && typeof x.file === 'string' && isRange(x.range) && typeof x.severity === 'string' && SEVERITIES.has(x.severity) &&
    typeof x.rule === 'string' && typeof x.message === 'string' &&
    (x.related === undefined || (Array.isArray(x.related) && x.related.every(isRelated))) &&
    (x.fixes === undefined || (Array.isArray(x.fixes) && x.fixes.every(isFix)))
  );
}

const isDep = (x: unknown) => Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && (x[1] === null || typeof x[1] === 'string');

/** The entry if it has the shape this version writes, for this key and file; else undefined. */
function validEntry(x: unknown, key: string, file: string): Entry | undefined {
  if (!isObject(x) || x.format !== FORMAT || x.key !== key || x.file !== file) return undefined;
  if (!Array.isArray(x.deps) || !x.deps.every(isDep)) return undefined;
  if (!Array.isArray(x.findings) || !x.findings.every(isFinding)) return undefined;
  return x as unknown as Entry;
}
