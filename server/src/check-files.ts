// One file of `vfio-review check`, as the CLI runs it in its own thread (--jobs 1) and as each
// worker thread runs it (--jobs N): the same function, so the findings do not depend on N.
import { UsageError } from './engine/api';
import type { Analyser } from './engine/analyser';
import type { FindingsCache } from './engine/cache/findings';
import type { LockIRStats } from './engine/cache/lock-ir';
import { awaitChecks, dropParsedTrees } from './engine/analyses/locks';
import type { BaseVersion, EngineOptions, Finding } from './engine/api';

/** What checking one file gave: its findings, or why it could not be checked. */
export interface FileResult {
  file: string;
  findings: Finding[];
  /** An I/O error: the file is reported as not analysed (input-skipped). */
  skipped?: string;
  /** A usage error (an unknown type, a missing root): the run stops with exit 2. */
  usageError?: string;
  /** An engine failure: printed, the other files' findings still count, exit 2. */
  internalError?: string;
}

/** What a worker thread is started with. */
export interface CheckWorkerData {
  options: EngineOptions;
  /** The persistent cache's folder and the tool's stamp; absent with --no-cache. */
  cache?: { dir: string; stamp: string };
  bases: { file: string; base: BaseVersion }[];
  /** The files of the run (a worker checks some of them): see checkFiles. */
  files?: string[];
}

export type ToWorker = { kind: 'check'; file: string } | { kind: 'config'; file: string } | { kind: 'stop' };
export type FromWorker =
  | { kind: 'result'; result: FileResult }
  | { kind: 'config'; problems: { file: string; key: string; line: number; message: string }[] }
  | { kind: 'stats'; stats: FindingsCache['stats'] | undefined; lockIR: LockIRStats };

export const isUsageError = (error: unknown) => error instanceof UsageError || (error as Error)?.name === 'UsageError';
export const isIoError = (error: unknown) =>
  typeof (error as NodeJS.ErrnoException)?.code === 'string' && /^E[A-Z]+$/.test((error as NodeJS.ErrnoException).code!);

export function checkFile(engine: Analyser, cache: FindingsCache | undefined, file: string): FileResult {
  try {
    return { file, findings: cache ? cache.check(engine, file) : engine.check(file) };
  } catch (error) {
    if (isUsageError(error)) return { file, findings: [], usageError: (error as Error).message };
    if (isIoError(error)) return { file, findings: [], skipped: `unreadable file (${(error as NodeJS.ErrnoException).code})` };
    return { file, findings: [], internalError: String((error as Error)?.stack ?? error) };
  }
}

/**
 * `files` in order with one engine. The lock rules of the first kernel C file parse the whole lock
 * index; the trees of the index files among `files` are kept until their own check takes them,
 * instead of being parsed again (awaitChecks). A worker thread does the same with the whole run's
 * list, file by file.
 */
export function checkFiles(engine: Analyser, cache: FindingsCache | undefined, files: string[]): FileResult[] {
  awaitChecks(files);
  try {
    return files.map((file) => checkFile(engine, cache, file));
  } finally {
    dropParsedTrees();
  }
}
