// The lock analysis's extraction of each file (FileIR) kept on disk, so that a new process reads
// the index's IR instead of parsing and extracting every file again: on Debian's 6.12 the 71
// files of the index take about 2 s to parse and extract, and 0.2 s to read back (6 MB).
//
// JSON cannot hold the IR's Maps and Sets: entries are node:v8 serialisations (structured clone,
// which also keeps objects shared within a file's IR shared). One entry per file and content,
// named by a hash of the format, the tool (the bytes of the engine's bundles and the grammar: a
// rebuilt tool does not read an older build's IR), V8's version (its serialisation format), the
// file's absolute path (every Loc of the IR carries it) and its content hash. Entries of one path
// live in one folder, which keeps the newest few: the folder does not grow with every version of
// a file, nor with every build of the tool.
//
// Like the findings cache: writes go to a temporary file renamed into place (readers see a whole
// entry or none), nothing read back is trusted (an entry that does not deserialise or does not
// have the expected shape, format, path and hash is deleted and rebuilt), and no failure here
// fails a run.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import type { FileIR } from '../analyses/locks/extract';
import { removeQuietly, sumStats, writeAtomically, type EntryStats } from './entries';

/** Bumped when FileIR or the entry's shape changes in a way the tool stamp would not show. */
export const LOCK_IR_FORMAT = 'vfio-review-lock-ir/2';
/** The sub-folder of the cache folder that holds the entries. */
export const LOCK_IR_FOLDER = 'lock-ir';
/** Entries kept per path: older contents and older builds beyond these are deleted on write. */
const KEPT_PER_PATH = 6;
/** The bundles that carry the engine, hashed together so that they share entries. */
const ENGINE_BUNDLES = ['check-worker.js', 'cli.js', 'engine.js', 'server.js', 'tree-sitter-c.wasm'];

/** The same counts as the findings cache keeps (dropped: corrupt, truncated, foreign entries). */
export type LockIRStats = EntryStats;

interface Entry {
  format: string;
  stamp: string;
  file: string;
  hash: string;
  ir: FileIR;
}

let stampOfThisBuild: string | undefined;

/**
 * What the running tool is: the bytes of the engine's bundles beside the running one (and the
 * running one itself), and the C grammar. The bundles are built together, so the CLI, its worker
 * threads and the language server of one build share entries.
 */
export function lockIRStamp(): string {
  if (stampOfThisBuild !== undefined) return stampOfThisBuild;
  // sha1: 4 MB of bundles a process, a few times faster than sha256 here; no adversary to resist.
  const hash = createHash('sha1').update(LOCK_IR_FORMAT);
  const here = typeof __filename === 'string' ? __filename : '';
  const files = new Set(here ? [here, ...ENGINE_BUNDLES.map((name) => path.join(path.dirname(here), name))] : []);
  for (const file of [...files].sort()) {
    hash.update('\0').update(file);
    try {
      hash.update(fs.readFileSync(file));
    } catch {
      hash.update('\0missing');
    }
  }
  return (stampOfThisBuild = hash.digest('hex'));
}

export class LockIRCache {
  readonly stats: LockIRStats = { hits: 0, misses: 0, dropped: 0, written: 0, writeErrors: 0 };
  private readonly folder: string;

  constructor(dir: string, private readonly stamp: string = lockIRStamp()) {
    this.folder = path.join(dir, LOCK_IR_FOLDER);
  }

  private folderOf(file: string): string {
    return path.join(this.folder, createHash('sha256').update(file).digest('hex').slice(0, 32));
  }

  private pathOf(file: string, hash: string): string {
    const name = createHash('sha256').update(JSON.stringify([LOCK_IR_FORMAT, this.stamp, process.versions.v8, file, hash])).digest('hex');
    return path.join(this.folderOf(file), `${name}.v8`);
  }

  /** The IR of `file` at content `hash`, or undefined (a miss; a bad entry is deleted). */
  read(file: string, hash: string): FileIR | undefined {
    const entryPath = this.pathOf(file, hash);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(entryPath);
    } catch {
      this.stats.misses++;
      return undefined;
    }
    let value: unknown;
    try {
      value = v8.deserialize(bytes);
    } catch {
      value = undefined;
    }
    const ir = validEntry(value, this.stamp, file, hash);
    if (!ir) {
      this.stats.dropped++;
      this.stats.misses++;
      removeQuietly(entryPath);
      return undefined;
    }
    this.stats.hits++;
    return ir;
  }

  /** An IR read back from the cache folder with the tree's lock analysis (cache/lock-program.ts): a hit too. */
  readBack(): void {
    this.stats.hits++;
  }

  /** Keeps `ir` for `file` at content `hash`; drops the path's oldest entries beyond the few kept. */
  write(file: string, hash: string, ir: FileIR): void {
    const entryPath = this.pathOf(file, hash);
    const entry = () => v8.serialize({ format: LOCK_IR_FORMAT, stamp: this.stamp, file, hash, ir } satisfies Entry);
    if (!writeAtomically(entryPath, entry, this.stats)) return;
    this.prune(path.dirname(entryPath), entryPath);
  }

  /** Only the newest entries of a path stay (by write time); another process's temporaries are left alone. */
  private prune(folder: string, keep: string): void {
    let names: string[];
    try {
      names = fs.readdirSync(folder).filter((name) => name.endsWith('.v8'));
    } catch {
      return;
    }
    if (names.length <= KEPT_PER_PATH) return;
    const aged = names.map((name) => {
      const p = path.join(folder, name);
      let mtime = 0;
      try {
        mtime = fs.statSync(p).mtimeMs;
      } catch {
        // deleted meanwhile
      }
      return { p, mtime };
    });
    aged.sort((a, b) => (a.p === keep ? -1 : b.p === keep ? 1 : b.mtime - a.mtime));
    for (const { p } of aged.slice(KEPT_PER_PATH)) removeQuietly(p);
  }
}

// One cache per folder and thread, so that the stats of a run add up in one place.
const caches = new Map<string, LockIRCache>();

/** The cache of `dir` for this thread (created on first use). */
export function lockIRCache(dir: string): LockIRCache {
  let cache = caches.get(dir);
  if (!cache) caches.set(dir, (cache = new LockIRCache(dir)));
  return cache;
}

/** What this thread's lock IR caches did so far, summed over their folders. */
export function lockIRStats(): LockIRStats {
  return sumStats([...caches.values()].map((cache) => cache.stats));
}

// ---- shape checks: nothing read from disk is trusted ------------------------------------------
// Cheap ones: the tags, the top level and each function's outline. A deeper mismatch would need
// an entry that deserialises and names this format, stamp, file and hash, i.e. one this build
// wrote.

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isArrayOf = (x: unknown, item: (y: unknown) => boolean) => Array.isArray(x) && x.every(item);
const isString = (x: unknown) => typeof x === 'string';

function isFunctionIR(x: unknown, file: string): boolean {
  if (!isObject(x) || typeof x.name !== 'string' || x.file !== file || !isObject(x.at) || x.at.file !== file) return false;
  if (!Array.isArray(x.params) || !(x.localTypes instanceof Map) || !(x.aliases instanceof Map) || !(x.builtBy instanceof Map) || !(x.fieldStores instanceof Map)) return false;
  if (!isArrayOf(x.returns, isString) || !isArrayOf(x.freed, isString) || !isObject(x.annotations)) return false;
  const cfg = x.cfg;
  return isObject(cfg) && Array.isArray(cfg.nodes) && typeof cfg.entry === 'number' && typeof cfg.exit === 'number';
}

function validEntry(x: unknown, stamp: string, file: string, hash: string): FileIR | undefined {
  if (!isObject(x) || x.format !== LOCK_IR_FORMAT || x.stamp !== stamp || x.file !== file || x.hash !== hash) return undefined;
  return validFileIR(x.ir, file);
}

/** `ir` when it has the outline of a FileIR of `file` (read back from disk), else undefined. */
export function validFileIR(ir: unknown, file: string): FileIR | undefined {
  if (!isObject(ir) || ir.file !== file) return undefined;
  if (!isArrayOf(ir.functions, (f) => isFunctionIR(f, file)) || !isArrayOf(ir.skipped, isString) || !Array.isArray(ir.initializers)) return undefined;
  if (!(ir.skippedFields instanceof Set) || !(ir.structs instanceof Map) || !(ir.globals instanceof Map) || !(ir.fieldFunctions instanceof Map) || !(ir.fieldFunctionsByType instanceof Map)) return undefined;
  return ir as unknown as FileIR;
}
