// Loads a CommonJS bundle with V8's code cache: a command-line run otherwise compiles the
// bundle's 1.2 MB of JavaScript again in every process (Node 20 has no module.enableCompileCache).
// The cache is made after the run, so it holds the functions the run compiled lazily too.
// An entry is an optimisation only: a missing, damaged or rejected one is rebuilt, a failed
// write is ignored, and nothing in it is trusted before its own checksum and V8's checks pass.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

/** Bumped when the entry's layout changes. */
const ENTRY_FORMAT = 'vfio-review-code-cache-1';
const MAGIC = Buffer.from('VRCC1\n');
const DIGEST_BYTES = 20;

export interface CodeCacheRun {
  /** The entry's path, or undefined when no cache folder was given. */
  entry?: string;
  /** hit: V8 took the entry; miss: there was none; rejected: it was damaged or V8 refused it. */
  outcome: 'hit' | 'miss' | 'rejected' | 'off';
}

/**
 * The entry of `source` compiled under `variant` (the V8 flags the run sets): the bundle's bytes,
 * Node's and V8's versions and the CPU architecture are in its name, so another build or another
 * Node never reads it (V8 itself only compares the source's length).
 */
export function entryPath(folder: string, bundle: string, source: string, variant: string): string {
  const key = createHash('sha1')
    .update(`${ENTRY_FORMAT}\0${process.version}\0${process.versions.v8}\0${process.arch}\0${variant}\0${path.resolve(bundle)}\0`)
    .update(source)
    .digest('hex');
  return path.join(folder, `${path.basename(bundle, '.js')}-${key}.bin`);
}

/** The V8 data of an entry, or undefined when it is missing or its checksum does not match. */
function readEntry(file: string): { data?: Buffer; damaged: boolean } {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return { damaged: false };
  }
  const head = MAGIC.length + DIGEST_BYTES;
  if (bytes.length <= head || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return { damaged: true };
  const data = bytes.subarray(head);
  const digest = createHash('sha1').update(data).digest();
  if (!digest.equals(bytes.subarray(MAGIC.length, head))) return { damaged: true };
  return { data, damaged: false };
}

/** Temporary file beside the entry, then rename: a concurrent reader sees a whole entry or none. */
function writeEntry(file: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, Buffer.concat([MAGIC, createHash('sha1').update(data).digest(), data]));
    fs.renameSync(tmp, file);
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // nothing more to do: the cache is an optimisation
    }
  }
}

/** Older entries of the same bundle (another build or Node): one per variant is all a folder needs. */
function pruneOthers(file: string): void {
  const prefix = `${path.basename(file).replace(/-[0-9a-f]{40}\.bin$/, '')}-`;
  try {
    const dir = path.dirname(file);
    const others = fs.readdirSync(dir)
      .filter((name) => name.startsWith(prefix) && name !== path.basename(file))
      .map((name) => ({ name, at: fs.statSync(path.join(dir, name), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
      .sort((a, b) => b.at - a.at);
    // A few variants (flags) of the current build live side by side; the oldest go.
    for (const { name } of others.slice(3)) fs.rmSync(path.join(dir, name), { force: true });
  } catch {
    // pruning is best effort
  }
}

/**
 * Runs the CommonJS bundle `bundle` as `module` (its exports become module.exports; inside it,
 * `require.main === module` holds when `module` is what the caller runs as its program), compiled
 * with the code cache of `folder` when one is given. The entry is written when the process exits.
 */
export function runBundle(bundle: string, module: NodeJS.Module, folder: string | undefined, variant = 'default'): CodeCacheRun {
  const source = fs.readFileSync(bundle, 'utf8');
  const entry = folder === undefined ? undefined : entryPath(folder, bundle, source, variant);
  const read = entry ? readEntry(entry) : { damaged: false };
  const script = new vm.Script(Module.wrap(source), { filename: bundle, ...(read.data ? { cachedData: read.data } : {}) });
  const rejected = read.damaged || (read.data !== undefined && script.cachedDataRejected === true);
  const run: CodeCacheRun = { entry, outcome: entry === undefined ? 'off' : read.data && !rejected ? 'hit' : rejected ? 'rejected' : 'miss' };
  if (entry && run.outcome !== 'hit') {
    process.once('exit', () => {
      writeEntry(entry, script.createCachedData());
      pruneOthers(entry);
    });
  }
  const requireHere = Module.createRequire(bundle);
  requireHere.main = module as NodeJS.Module;
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: NodeJS.Module, filename: string, dirname: string) => void;
  wrapper.call(module.exports, module.exports, requireHere, module, bundle, path.dirname(bundle));
  return run;
}
