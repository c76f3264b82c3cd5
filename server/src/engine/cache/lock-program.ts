// The lock analysis of a tree's whole index kept on disk: the program, its result and what a warm
// start reads (each function's analyses with their reads). `vfio-review patch` as b4 runs it is
// one process per patch, and each analysed the index of the unpatched tree from scratch (1,178
// functions of 6.12, about 1 s) before analysing it again with the patch. With this entry the
// next process starts from the tree's analysis: the "before" side is read back, and the "after"
// side (analyseProgram warm from it) analyses again only the patched functions and what their
// changes reach.
//
// One entry per tree and index (root and globs): the analysis of the tree as it is on disk
// (never of an editor's buffer or a patched text, see analyses/locks/index.ts), replaced when the
// tree changes. The program, result and warm state are serialised together (node:v8), so that
// the FunctionIR objects they share stay shared; the reader gives the result its warm state back
// and hands each file's IR to the extraction cache, so that later programs of the same process
// share those objects (the warm start recognises unchanged functions by identity).
//
// As the other entries: written to a temporary file and renamed into place; read back only when
// the checksum, format, tool stamp, slot and outline are as written, else deleted; no failure
// here fails a run.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { adoptWarmState, warmStateOf, type AnalysisResult, type Program } from '../analyses/locks/analyse';
import type { FileIR } from '../analyses/locks/extract';
import { checkedDeserialize, checkedSerialize, removeQuietly, sumStats, writeAtomically, type EntryStats } from './entries';
import { lockIRStamp, validFileIR } from './lock-ir';

/** Bumped when the entry's shape, or the analysis's data, changes in a way the tool stamp would not show. */
export const LOCK_PROGRAM_FORMAT = 'vfio-review-lock-program/2';
/** The sub-folder of the cache folder that holds the entries. */
export const LOCK_PROGRAM_FOLDER = 'lock-program';

/** The program of a tree's index as read back: the content hash each file's IR is of. */
export interface StoredProgram {
  hashes: Map<string, string>;
  program: Program;
  result: AnalysisResult;
}

interface Entry {
  format: string;
  stamp: string;
  slot: string;
  hashes: Map<string, string>;
  program: Program;
  result: AnalysisResult;
  warm: object;
}

export class LockProgramCache {
  readonly stats: EntryStats = { hits: 0, misses: 0, dropped: 0, written: 0, writeErrors: 0 };
  private readonly folder: string;

  constructor(dir: string, private readonly stamp: string = lockIRStamp()) {
    this.folder = path.join(dir, LOCK_PROGRAM_FOLDER);
  }

  /** One file per slot (root and index globs), of this build and V8 (its serialisation format). */
  private pathOf(slot: string): string {
    const name = createHash('sha256').update(JSON.stringify([LOCK_PROGRAM_FORMAT, this.stamp, process.versions.v8, slot])).digest('hex');
    return path.join(this.folder, `${name}.v8`);
  }

  /** The last analysis written for `slot`, whatever the files' contents now; undefined when none is usable. */
  read(slot: string): StoredProgram | undefined {
    const file = this.pathOf(slot);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      this.stats.misses++;
      return undefined;
    }
    const entry = this.decode(bytes, slot);
    if (!entry) {
      this.stats.dropped++;
      this.stats.misses++;
      removeQuietly(file);
      return undefined;
    }
    adoptWarmState(entry.result, entry.warm);
    this.stats.hits++;
    return { hashes: entry.hashes, program: entry.program, result: entry.result };
  }

  /** Keeps the analysis of `slot` (replacing the previous one); `hashes`: the content each file of the program was read at. */
  write(slot: string, hashes: Map<string, string>, program: Program, result: AnalysisResult): void {
    const warm = warmStateOf(result);
    if (!warm) return;
    writeAtomically(this.pathOf(slot), () => checkedSerialize({ format: LOCK_PROGRAM_FORMAT, stamp: this.stamp, slot, hashes, program, result, warm } satisfies Entry), this.stats);
  }

  private decode(bytes: Buffer, slot: string): Entry | undefined {
    const value = checkedDeserialize(bytes);
    return value === undefined ? undefined : validEntry(value, this.stamp, slot);
  }
}

// One cache per folder and thread, so that the stats of a run add up in one place.
const caches = new Map<string, LockProgramCache>();

/** The cache of `dir` for this thread (created on first use). */
export function lockProgramCache(dir: string): LockProgramCache {
  let cache = caches.get(dir);
  if (!cache) caches.set(dir, (cache = new LockProgramCache(dir)));
  return cache;
}

/** What this thread's lock program caches did so far, summed over their folders. */
export function lockProgramStats(): EntryStats {
  return sumStats([...caches.values()].map((c) => c.stats));
}

// ---- shape checks: nothing read from disk is trusted ------------------------------------------

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function validEntry(x: unknown, stamp: string, slot: string): Entry | undefined {
  if (!isObject(x) || x.format !== LOCK_PROGRAM_FORMAT || x.stamp !== stamp || x.slot !== slot) return undefined;
  const { hashes, program, result, warm } = x;
  if (!(hashes instanceof Map) || ![...hashes].every(([f, h]) => typeof f === 'string' && typeof h === 'string')) return undefined;
  if (!isObject(program) || !Array.isArray(program.functions) || !(program.files instanceof Map) || !(program.byName instanceof Map)) return undefined;
  if (!(program.fieldFunctions instanceof Map) || !(program.fieldFunctionsByType instanceof Map) || !(program.structs instanceof Map)) return undefined;
  // Every file of the program has its hash and the outline of a FileIR, and the program's
  // functions are exactly those of its files, in order (the analysis walks them in that order).
  const files = [...program.files] as [unknown, unknown][];
  if (files.length !== hashes.size || !files.every(([f, ir]) => typeof f === 'string' && hashes.has(f) && validFileIR(ir, f))) return undefined;
  const functions = files.flatMap(([, ir]) => (ir as FileIR).functions);
  if (functions.length !== program.functions.length || functions.some((fn, i) => fn !== (program.functions as unknown[])[i])) return undefined;
  if (!isObject(result) || !(result.summaries instanceof Map) || !Array.isArray(result.violations) || !Array.isArray(result.findings)) return undefined;
  if (!(result.heldAt instanceof Map) || !(result.accesses instanceof Map) || typeof result.checkedCallSites !== 'number') return undefined;
  if (!functions.every((fn) => result.summaries instanceof Map && result.summaries.has(fn))) return undefined;
  if (!isObject(warm) || !(warm.memos instanceof Map) || !Array.isArray(warm.rounds) || typeof warm.structs !== 'string') return undefined;
  return x as unknown as Entry;
}
