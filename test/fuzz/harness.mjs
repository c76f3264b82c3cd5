// The fuzz loop: replays the regression fixtures of a target, then the fixed structural cases,
// then random mutations of the seeds until its time is up. Every input is derived from the run's
// seed, so `VFIO_REVIEW_FUZZ_SEED=<seed>` replays a run input for input. In-process targets run
// in a worker thread that is stopped (and replaced) when one input takes longer than the guard.
//
//   const result = await fuzzTarget('engine-check', { seed, seconds: 3 });
//   result.failures  // [{ kind: 'hang' | 'failure', message, bytes, ext, applied, index }]
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { createRng, mutate, structuralCases } from './mutate.mjs';
import { TARGETS, loadSeeds } from './targets.mjs';
import { repoRoot } from '../support/lsp-client.mjs';

export const FIXTURES_DIR = path.join(repoRoot, 'test', 'fixtures', 'fuzz');
/** Generous: a hang guard, not a speed target (the machine is shared; see bench/ for speed). */
export const DEFAULT_GUARD_MS = 30_000;

export const inputHash = (bytes) => createHash('sha1').update(bytes).digest('hex').slice(0, 12);

/** The saved failing inputs of a target: test/fixtures/fuzz/<target>/<hash>.<c|h|patch>. */
export function fixturesOf(target) {
  const dir = path.join(FIXTURES_DIR, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.(c|h|patch)$/.test(f))
    .sort()
    .map((f) => ({ bytes: readFileSync(path.join(dir, f)), ext: path.extname(f), applied: [`fixture ${target}/${f}`] }));
}

/** Mixes the run seed with a target name, so each target gets its own sequence. */
export function targetSeed(seed, target) {
  return createHash('sha1').update(`${seed}:${target}`).digest().readUInt32LE(0);
}

/** Runs inputs of an in-process target in a worker; a call over the guard stops the worker. */
class WorkerRunner {
  constructor(target) {
    this.target = target;
    this.nextId = 0;
  }

  async start() {
    this.worker = new Worker(new URL('./worker.mjs', import.meta.url), {
      workerData: { target: this.target },
      resourceLimits: { maxOldGenerationSizeMb: 2048 },
      stdout: true,
      stderr: true,
    });
    this.worker.stdout.resume();
    this.worker.stderr.resume();
    const ready = await this.next();
    if (ready.type !== 'ready') throw new Error(`fuzz worker for ${this.target} did not start: ${ready.error ?? ready.type}`);
    this.treeRoot = ready.treeRoot;
  }

  /** The next message from the worker, or its death as a message. */
  next() {
    return new Promise((resolve) => {
      const done = (m) => {
        this.worker.off('message', done);
        this.worker.off('error', failed);
        this.worker.off('exit', exited);
        resolve(m);
      };
      const failed = (error) => done({ type: 'failed', error: `worker died: ${error?.stack ?? error}` });
      const exited = (code) => done({ type: 'failed', error: `worker exited with ${code}` });
      this.worker.on('message', done);
      this.worker.on('error', failed);
      this.worker.on('exit', exited);
    });
  }

  async run(input, guardMs) {
    const id = this.nextId++;
    const reply = this.next();
    this.worker.postMessage({ id, bytes: input.bytes, ext: input.ext });
    let timer;
    const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve({ type: 'hang' }), guardMs)));
    const result = await Promise.race([reply, timeout]);
    clearTimeout(timer);
    if (result.type === 'done') return result.stats;
    // The worker is in an unknown state after a hang or a crash: replace it.
    await this.kill();
    await this.start();
    if (result.type === 'hang') throw Object.assign(new Error(`no answer within ${guardMs} ms`), { hang: true });
    throw new Error(result.error);
  }

  async kill() {
    await this.worker.terminate();
    if (this.treeRoot) rmSync(this.treeRoot, { recursive: true, force: true });
  }

  async stop() {
    const stopped = this.next();
    this.worker.postMessage({ type: 'stop' });
    await Promise.race([stopped, new Promise((r) => setTimeout(r, 5000))]);
    await this.kill();
  }
}

/** Runs an out-of-process target (CLI, language server) directly; its own timeouts bound it. */
class DirectRunner {
  constructor(target, guardMs) {
    this.target = target;
    this.guardMs = guardMs;
  }

  async start() {
    this.env = await TARGETS[this.target].setup();
    this.env.guardMs = this.guardMs;
  }

  async run(input) {
    try {
      return await TARGETS[this.target].run(input, this.env);
    } catch (error) {
      // A server that timed out or died is replaced, so later inputs are judged on their own.
      if (this.target === 'lsp') {
        await TARGETS.lsp.teardown(this.env).catch(() => undefined);
        await this.start();
        if (/timed out/.test(error.message)) error.hang = true;
      }
      throw error;
    }
  }

  async stop() {
    await TARGETS[this.target].teardown(this.env);
  }
}

/** The inputs of one run, lazily: fixtures, then structural cases, then random mutations. */
function* inputsFor(target, seed) {
  const { exts } = TARGETS[target];
  const seeds = loadSeeds();
  for (const f of fixturesOf(target)) yield { ...f, fixture: true };
  const rng = createRng(targetSeed(seed, target));
  // The structural cases of every seed, in an order the seed decides: a short run covers
  // different ones each time, a long run all of them.
  const fixed = exts.flatMap((ext) => [...structuralCases(seeds[ext])].map((c) => ({ ...c, ext })));
  for (let i = fixed.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [fixed[i], fixed[j]] = [fixed[j], fixed[i]];
  }
  yield* fixed;
  for (;;) {
    const ext = rng.pick(exts);
    yield { ...mutate(seeds[ext], rng), ext };
  }
}

/**
 * Fuzzes one target for `seconds` (fixtures always run in full). Options: seed, seconds, guardMs,
 * log (a line printer), onFailure(failure) (e.g. to save a fixture).
 */
export async function fuzzTarget(target, { seed, seconds = 3, guardMs = DEFAULT_GUARD_MS, log = () => undefined, onFailure = () => undefined } = {}) {
  if (!TARGETS[target]) throw new Error(`unknown fuzz target '${target}' (known: ${Object.keys(TARGETS).join(', ')})`);
  const runner = TARGETS[target].inWorker ? new WorkerRunner(target) : new DirectRunner(target, guardMs);
  await runner.start();
  const started = performance.now();
  const result = { target, seed, inputs: 0, fixtures: 0, calls: 0, failures: [], slowestMs: 0, slowestCall: '', slowestInput: '', seconds: 0 };
  try {
    let index = 0;
    // The time is for new inputs: the fixtures always run in full, however long they take.
    let mutating;
    for (const input of inputsFor(target, seed)) {
      if (!input.fixture) mutating ??= performance.now();
      if (!input.fixture && performance.now() - mutating > seconds * 1000) break;
      index++;
      try {
        const stats = await runner.run(input, guardMs);
        result.calls += stats.calls;
        if (stats.slowestMs > result.slowestMs) Object.assign(result, { slowestMs: stats.slowestMs, slowestCall: stats.slowestCall, slowestInput: input.applied.join(' + ') });
      } catch (error) {
        const failure = { target, kind: error.hang ? 'hang' : 'failure', message: String(error?.stack ?? error), bytes: input.bytes, ext: input.ext, applied: input.applied, index, seed, hash: inputHash(input.bytes) };
        result.failures.push(failure);
        log(`${target}: ${failure.kind} on input ${index} (${input.applied.join(' + ')}, ${input.bytes.length} bytes, ${failure.hash}${input.ext}): ${failure.message.split('\n')[0]}`);
        await onFailure(failure);
      }
      result.inputs++;
      if (input.fixture) result.fixtures++;
    }
  } finally {
    await runner.stop();
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}
