// The fuzzer's entry points. Each target takes one input (bytes and the kind of file it stands
// for) and drives one entry point of vfio-review with it; it throws when a property is broken
// (an exception out of the library, a crashed or silent process, a wrong exit status). Time is
// bounded by the harness (harness.mjs), which runs the in-process targets in a worker it can stop.
//
//   const env = await TARGETS['engine-check'].setup();
//   const { calls, slowestMs } = await TARGETS['engine-check'].run({ bytes, ext: '.h' }, env);
//   await TARGETS['engine-check'].teardown(env);
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRng } from './mutate.mjs';
import { fileUri, repoRoot, startLspClient } from '../support/lsp-client.mjs';

const require = createRequire(import.meta.url);
export const SEEDS_DIR = path.join(repoRoot, 'test', 'fixtures', 'fuzz', 'seeds');
export const CLI = path.join(repoRoot, 'dist', 'cli.js');
/** ABIs used by the fuzz targets: two that differ (ILP32 and LP64) keep each call cheap. */
const ARCHES = ['x86_64', 'i386'];

/** The seed files: kernel-style C and uapi headers written for the fuzzer. */
export function loadSeeds() {
  return {
    '.h': readFileSync(path.join(SEEDS_DIR, 'fuzz_uapi.h')),
    '.c': readFileSync(path.join(SEEDS_DIR, 'fuzz_core.c')),
    '.patch': readFileSync(path.join(SEEDS_DIR, 'fuzz_series.patch')),
  };
}

/**
 * A throwaway kernel-style tree: Kbuild, the seeds in their places (so the inputs' includes
 * resolve), and the paths the inputs are written to.
 */
export function makeTree() {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-fuzz-'));
  mkdirSync(path.join(root, 'include/uapi/linux'), { recursive: true });
  mkdirSync(path.join(root, 'drivers/vfio'), { recursive: true });
  writeFileSync(path.join(root, 'Kbuild'), '');
  copyFileSync(path.join(SEEDS_DIR, 'fuzz_uapi.h'), path.join(root, 'include/uapi/linux/fuzz_uapi.h'));
  copyFileSync(path.join(SEEDS_DIR, 'fuzz_core.c'), path.join(root, 'drivers/vfio/fuzz_core.c'));
  return {
    root,
    inputPath: (ext) => path.join(root, ext === '.h' ? 'include/uapi/linux/fuzz_input.h' : 'drivers/vfio/fuzz_input.c'),
    basePath: path.join(root, 'include/uapi/linux/fuzz_base.h'),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Decodes input bytes as the editor would hand them over (invalid UTF-8 becomes U+FFFD). */
export const textOf = (bytes) => Buffer.from(bytes).toString('utf8');

/** A few positions to ask about: seeded by the input, plus past the end of a line and of the file. */
export function samplePositions(text, count, seed) {
  const rng = createRng(seed);
  const lines = text.split('\n');
  const out = [];
  for (let i = 0; i < count; i++) {
    const line = rng.int(lines.length);
    out.push({ line, character: rng.int(Math.min(lines[line].length + 2, 400)) });
  }
  out.push({ line: 0, character: 0 });
  out.push({ line: lines.length - 1, character: lines.at(-1).length + 50 });
  out.push({ line: lines.length + 10, character: 3 });
  return out;
}

export const inputSeed = (bytes) => createHash('sha1').update(bytes).digest().readUInt32LE(0);

/** Runs `fn` and returns its time, so targets can report their slowest call. */
function timed(stats, fn) {
  const start = performance.now();
  const result = fn();
  const ms = performance.now() - start;
  stats.calls++;
  if (ms > stats.slowestMs) {
    stats.slowestMs = ms;
    stats.slowestCall = stats.current;
  }
  return result;
}

function newStats() {
  return { calls: 0, slowestMs: 0, slowestCall: '', current: '' };
}

// ---- the engine library, in process ---------------------------------------------------------

async function engineSetup() {
  const { createEngine } = require(path.join(repoRoot, 'dist', 'engine.js'));
  const tree = makeTree();
  const engine = await createEngine({ root: tree.root, arches: ARCHES });
  return { tree, engine };
}

async function engineTeardown(env) {
  env.engine.dispose();
  env.tree.remove();
}

/** Opens the input in the engine's overlay, runs `body`, closes it again (the server's cycle). */
function withOpenInput(env, input, stats, body) {
  const file = env.tree.inputPath(input.ext);
  const text = textOf(input.bytes);
  stats.current = 'openDocument';
  timed(stats, () => env.engine.openDocument(file, text, 1));
  try {
    body(file, text);
  } finally {
    stats.current = 'closeDocument';
    timed(stats, () => env.engine.closeDocument(file));
  }
}

/** Layouts may refuse with a UsageError (no such type); anything else is a failure. */
function allowUsageError(fn) {
  try {
    return fn();
  } catch (error) {
    if (error?.name === 'UsageError') return undefined;
    throw error;
  }
}

/** A random edit of `text`: an LSP range change within (and sometimes past) the text. */
export function randomEdit(text, rng) {
  const lines = text.split('\n');
  const at = () => {
    const line = rng.int(lines.length + 1);
    return { line, character: rng.int((lines[line]?.length ?? 0) + 3) };
  };
  let start = at();
  let end = at();
  if (end.line < start.line || (end.line === start.line && end.character < start.character)) [start, end] = [end, start];
  const insert = rng.pick(['', '{', '}', '(', ')', ';', '\n', '#endif\n', '#if 0\n', '__u32 x;', '/*', '*/', 'struct s {', '\r\n', '\u00e9', '\0']);
  return { range: { start, end }, text: insert };
}

export const TARGETS = {
  'engine-check': {
    inWorker: true,
    exts: ['.h', '.c'],
    setup: engineSetup,
    teardown: engineTeardown,
    async run(input, env) {
      const stats = newStats();
      withOpenInput(env, input, stats, (file) => {
        stats.current = 'check (fast)';
        timed(stats, () => env.engine.check(file, undefined, { projectRules: false }));
        stats.current = 'check';
        timed(stats, () => env.engine.check(file));
      });
      return stats;
    },
  },
  'engine-edit': {
    // Incremental edits on an open document (tree.edit + reparse), then a check: the editor's path.
    inWorker: true,
    exts: ['.h', '.c'],
    setup: engineSetup,
    teardown: engineTeardown,
    async run(input, env) {
      const stats = newStats();
      const rng = createRng(inputSeed(input.bytes));
      withOpenInput(env, input, stats, (file, text) => {
        for (let version = 2; version < 7; version++) {
          const edit = randomEdit(text, rng);
          stats.current = 'changeDocument';
          timed(stats, () => env.engine.changeDocument(file, [edit], version));
          stats.current = 'check after edit';
          timed(stats, () => env.engine.check(file, undefined, { projectRules: version === 6 }));
        }
      });
      return stats;
    },
  },
  'engine-layouts': {
    inWorker: true,
    exts: ['.h', '.c'],
    setup: engineSetup,
    teardown: engineTeardown,
    async run(input, env) {
      const stats = newStats();
      withOpenInput(env, input, stats, (file) => {
        stats.current = 'layouts';
        const report = timed(stats, () => allowUsageError(() => env.engine.layouts(file)));
        const names = report ? Object.values(report.arches)[0]?.types.map((t) => t.name).slice(0, 3) ?? [] : [];
        stats.current = 'layouts (named)';
        for (const name of [...names, 'struct fuzz_device_info', 'no_such_type']) timed(stats, () => allowUsageError(() => env.engine.layouts(file, [name])));
      });
      return stats;
    },
  },
  'engine-hover': {
    inWorker: true,
    exts: ['.h', '.c'],
    setup: engineSetup,
    teardown: engineTeardown,
    async run(input, env) {
      const stats = newStats();
      withOpenInput(env, input, stats, (file, text) => {
        stats.current = 'hover';
        for (const position of samplePositions(text, 25, inputSeed(input.bytes))) timed(stats, () => env.engine.hover(file, position));
      });
      return stats;
    },
  },
  'engine-lenses': {
    // CodeLens, inlay hints and code actions: what the editor asks for besides hovers.
    inWorker: true,
    exts: ['.h', '.c'],
    setup: engineSetup,
    teardown: engineTeardown,
    async run(input, env) {
      const stats = newStats();
      withOpenInput(env, input, stats, (file, text) => {
        const lines = text.split('\n').length;
        stats.current = 'codeLenses';
        timed(stats, () => env.engine.codeLenses(file));
        stats.current = 'inlayHints';
        timed(stats, () => env.engine.inlayHints(file, { start: { line: 0, character: 0 }, end: { line: lines + 5, character: 0 } }));
        stats.current = 'codeActions';
        timed(stats, () => env.engine.codeActions(file, { start: { line: 0, character: 0 }, end: { line: lines, character: 0 } }));
      });
      return stats;
    },
  },
  'engine-compare': {
    // setBase + compare both ways: the seed as the old version of the input, then the input as
    // the old version of the seed.
    inWorker: true,
    exts: ['.h'],
    setup: engineSetup,
    teardown: engineTeardown,
    async run(input, env) {
      const stats = newStats();
      const seedText = readFileSync(path.join(SEEDS_DIR, 'fuzz_uapi.h'), 'utf8');
      const text = textOf(input.bytes);
      const file = env.tree.inputPath('.h');
      for (const [oldText, newText] of [[seedText, text], [text, seedText]]) {
        stats.current = 'openDocument';
        timed(stats, () => env.engine.openDocument(file, newText, 1));
        try {
          stats.current = 'setBase';
          timed(stats, () => env.engine.setBase(file, { text: oldText, label: 'HEAD:fuzz_input.h', location: 'HEAD:fuzz_input.h' }));
          stats.current = 'compare';
          timed(stats, () => env.engine.compare(file));
          stats.current = 'check with base';
          timed(stats, () => env.engine.check(file, undefined, { projectRules: false }));
        } finally {
          env.engine.setBase(file, undefined);
          env.engine.closeDocument(file);
        }
      }
      return stats;
    },
  },

  // ---- the command line, as a process ---------------------------------------------------------

  'cli-check': {
    exts: ['.h', '.c'],
    setup: async () => ({ tree: makeTree() }),
    teardown: async (env) => env.tree.remove(),
    async run(input, env) {
      const file = env.tree.inputPath(input.ext);
      writeFileSync(file, input.bytes);
      return runCli(['check', file, '--no-cache', '--root', env.tree.root, '--arch', ARCHES.join(','), '--format', 'json', '--fail-on', 'never'], env.guardMs, { json: true });
    },
  },
  'cli-layout': {
    exts: ['.h'],
    setup: async () => ({ tree: makeTree() }),
    teardown: async (env) => env.tree.remove(),
    async run(input, env) {
      const file = env.tree.inputPath(input.ext);
      writeFileSync(file, input.bytes);
      return runCli(['layout', file, '--root', env.tree.root, '--arch', ARCHES.join(','), '--format', 'json'], env.guardMs, { json: true });
    },
  },
  'cli-abi-diff': {
    exts: ['.h'],
    setup: async () => ({ tree: makeTree() }),
    teardown: async (env) => env.tree.remove(),
    async run(input, env) {
      const file = env.tree.inputPath('.h');
      writeFileSync(file, input.bytes);
      const seed = path.join(env.tree.root, 'include/uapi/linux/fuzz_uapi.h');
      const args = ['--root', env.tree.root, '--arch', ARCHES.join(','), '--format', 'json', '--fail-on', 'never'];
      const first = await runCli(['abi-diff', seed, file, ...args], env.guardMs, { json: true });
      const second = await runCli(['abi-diff', file, seed, ...args], env.guardMs, { json: true });
      return { calls: 2, slowestMs: Math.max(first.slowestMs, second.slowestMs), slowestCall: 'abi-diff' };
    },
  },

  // ---- patches: the reader in process, `vfio-review patch` as a process ------------------------

  'patch-read': {
    inWorker: true,
    exts: ['.patch'],
    async setup() {
      const { readPatchInput } = require(path.join(repoRoot, 'dist', 'engine.js'));
      return { readPatchInput, tree: makeTree() };
    },
    async teardown(env) {
      env.tree.remove();
    },
    async run(input, env) {
      const stats = newStats();
      stats.current = 'readPatchInput (bytes)';
      const fromBytes = timed(stats, () => env.readPatchInput(new Uint8Array(input.bytes)));
      stats.current = 'readPatchInput (text)';
      timed(stats, () => env.readPatchInput(textOf(input.bytes)));
      if (!fromBytes || !Array.isArray(fromBytes.mails) || !Array.isArray(fromBytes.problems)) throw new Error(`readPatchInput returned ${JSON.stringify(fromBytes)?.slice(0, 200)}`);
      // readPatchInput turns its own exceptions into a problem: that is a bug found, not an answer.
      const internal = fromBytes.problems.find((p) => /could not be read/.test(p.message));
      if (internal) throw new Error(`readPatchInput failed inside: ${internal.message}`);
      return stats;
    },
  },
  'cli-patch': {
    exts: ['.patch'],
    setup: async () => ({ tree: makeTree() }),
    teardown: async (env) => env.tree.remove(),
    async run(input, env) {
      const file = path.join(env.tree.root, 'fuzz_input.patch');
      writeFileSync(file, input.bytes);
      const applied = await runCli(['patch', file, '--tree', env.tree.root, '--arch', ARCHES.join(','), '--format', 'json', '--fail-on', 'never'], env.guardMs, { json: true });
      const alone = await runCli(['patch', file, '--hunks-only', '--arch', ARCHES.join(','), '--format', 'json', '--fail-on', 'never'], env.guardMs, { json: true });
      return { calls: 2, slowestMs: Math.max(applied.slowestMs, alone.slowestMs), slowestCall: 'patch' };
    },
  },

  // ---- the language server, as a process ------------------------------------------------------

  lsp: {
    exts: ['.h', '.c'],
    async setup() {
      const tree = makeTree();
      const client = await startLspClient({ settings: { arches: ARCHES, debounceMs: 0, inlayHints: true } });
      await client.initialize({ workspaceFolders: [tree.root] });
      return { tree, client, opened: 0 };
    },
    async teardown(env) {
      await env.client.close();
      env.tree.remove();
    },
    async run(input, env) {
      const { client } = env;
      const stats = newStats();
      const file = env.tree.inputPath(input.ext);
      // A new URI per input: diagnostics of an earlier one never satisfy the wait below.
      const uri = fileUri(file.replace(/(\.[ch])$/, `_${env.opened++}$1`));
      const text = textOf(input.bytes);
      const errorsBefore = serverErrors(client).length;
      const timedRequest = async (what, method, params) => {
        const start = performance.now();
        const result = await client.request(method, params, env.guardMs);
        const ms = performance.now() - start;
        stats.calls++;
        if (ms > stats.slowestMs) Object.assign(stats, { slowestMs: ms, slowestCall: what });
        return result;
      };
      const diagnosticsFor = async (version) => {
        const start = performance.now();
        await client.waitForDiagnostics(uri, (p) => p.version === version, env.guardMs);
        const ms = performance.now() - start;
        stats.calls++;
        if (ms > stats.slowestMs) Object.assign(stats, { slowestMs: ms, slowestCall: `diagnostics v${version}` });
      };
      await client.openDocument(uri, 'c', text, 1);
      await diagnosticsFor(1);
      const textDocument = { uri };
      for (const position of samplePositions(text, 10, inputSeed(input.bytes))) await timedRequest('hover', 'textDocument/hover', { textDocument, position });
      await timedRequest('codeLens', 'textDocument/codeLens', { textDocument });
      const all = { start: { line: 0, character: 0 }, end: { line: text.split('\n').length + 3, character: 0 } };
      await timedRequest('inlayHint', 'textDocument/inlayHint', { textDocument, range: all });
      await timedRequest('codeAction', 'textDocument/codeAction', { textDocument, range: all, context: { diagnostics: [] } });
      const rng = createRng(inputSeed(input.bytes));
      await client.changeDocument(uri, 2, [randomEdit(text, rng)]);
      await diagnosticsFor(2);
      await client.closeDocument(uri);
      // Still answering, still alive, and nothing the engine threw was caught on the way.
      await timedRequest('hover after close', 'textDocument/hover', { textDocument, position: { line: 0, character: 0 } });
      if (client.exitStatus !== undefined) throw new Error(`the server exited: ${JSON.stringify(client.exitStatus)}\n${client.stderr.slice(-2000)}`);
      const errors = serverErrors(client).slice(errorsBefore);
      if (errors.length) throw new Error(`the engine threw inside the server:\n${errors.join('\n').slice(0, 4000)}`);
      return stats;
    },
  },
};

/** Error lines the server logged (the engine threw and the server caught it). */
export function serverErrors(client) {
  return client.notifications.filter((n) => n.method === 'window/logMessage' && n.params.type === 1).map((n) => n.params.message);
}

/**
 * Runs the CLI; the property: it ends by itself within `guardMs`, with status 0, 1 or 2, no
 * "internal error" and no stack trace on stderr, and (with `json`) valid JSON on stdout when
 * the status is not 2.
 */
export function runCli(args, guardMs, { json = false, cwd = repoRoot } = {}) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-20_000)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(Object.assign(new Error(`vfio-review ${args[0]} did not finish within ${guardMs} ms`), { hang: true }));
    }, guardMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - start;
      if (signal) return; // killed by the guard above: already rejected
      if (code !== 0 && code !== 1 && code !== 2) return reject(new Error(`vfio-review ${args[0]} exited with ${code}\n${stderr}`));
      if (/internal error|^\s+at .+:\d+:\d+\)?$/m.test(stderr)) return reject(new Error(`vfio-review ${args[0]} failed inside (exit ${code}):\n${stderr}`));
      if (json && code !== 2) {
        try {
          JSON.parse(stdout);
        } catch (error) {
          return reject(new Error(`vfio-review ${args[0]} printed invalid JSON (${error.message}): ${stdout.slice(0, 300)}`));
        }
      }
      resolve({ calls: 1, slowestMs: ms, slowestCall: args[0], code, stdout, stderr });
    });
  });
}

export const TARGET_NAMES = Object.keys(TARGETS);
