#!/usr/bin/env node
// Benchmarks of vfio-review on a real kernel tree (Debian's linux-source-6.12):
//  (a) the language server: cold time to the first diagnostics, didChange -> publishDiagnostics
//      latency over scripted edits, hover latency, and the server's memory;
//  (b) the CLI: wall time of `check` on two real uapi headers;
//  (c) side by side with the peers, each in its own module: abi-diff vs gcc+abidiff
//      (abi-diff.mjs), layout vs gcc+pahole (layout.mjs), the whole-uapi 6.1 -> 6.12 comparison
//      vs the check-uapi pipeline (uapi-compare.mjs), the parse-only floor vs check
//      (check-parse.mjs), the findings cache cold vs warm (cache.mjs), the lock analysis
//      (locks.mjs) and the whole-tree check with --jobs 1 and 2 (tree-scan.mjs).
// It prints one table and writes bench/results.json. Measurements only: nothing here fails on a
// time, and the tests never time anything.
//
// Usage: node bench/run.mjs [--install] [--kernel DIR] [--edits N] [--soak N] [--hovers N] [--runs N]
//                           [--file REL] [--out FILE]
// `npm run bench` builds first. Nothing is installed unless --install is given.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

import { benchAbiDiff } from './abi-diff.mjs';
import { benchLocks } from './locks.mjs';
import { benchCheckParse } from './check-parse.mjs';
import { benchLayout } from './layout.mjs';
import { benchUapiCompare } from './uapi-compare.mjs';
import { benchTreeScan } from './tree-scan.mjs';
import { benchCache } from './cache.mjs';
import { benchPatch } from './patch.mjs';

const require = createRequire(import.meta.url);
// The JSON-RPC client side of LSP (a devDependency); CommonJS, hence require.
const rpc = require('vscode-languageserver-protocol/node');

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const KERNEL_VERSION = '6.12';
const kernelSrcScript = path.resolve(repo, '..', 'shared', 'scripts', 'kernel-src');

// ---------------------------------------------------------------------------------------------
// Arguments

function parseArgs(argv) {
  const opts = {
    install: false,
    kernel: undefined,
    edits: 500,
    // Edits in all (timed ones included) before the last memory reading.
    soak: 2000,
    hovers: 200,
    runs: 5,
    // Fresh language servers measured, each figure the median of them.
    serverRuns: 3,
    file: 'drivers/vfio/pci/vfio_pci_core.c',
    headers: ['include/uapi/linux/vfio.h', 'include/uapi/linux/iommufd.h'],
    out: path.join(repo, 'bench', 'results.json'),
    timeoutMs: 120_000,
    // The whole-tree scan takes long (one run of each --jobs); --tree-dirs narrows it, --no-tree skips it.
    tree: true,
    treeDirs: undefined,
    treeRuns: 1,
    // --only server,cli,...: just those rows (the others are reported as skipped).
    only: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    const int = () => {
      const n = Number(val());
      if (!Number.isInteger(n) || n < 0) usage(`${a} needs a whole number`);
      return n;
    };
    switch (a) {
      case '--install': opts.install = true; break;
      case '--kernel': opts.kernel = path.resolve(val()); break;
      case '--edits': opts.edits = int(); break;
      case '--hovers': opts.hovers = int(); break;
      case '--soak': opts.soak = int(); break;
      case '--runs': opts.runs = Math.max(1, int()); break;
      case '--server-runs': opts.serverRuns = Math.max(1, int()); break;
      case '--file': opts.file = val(); break;
      case '--out': opts.out = path.resolve(val()); break;
      case '--no-tree': opts.tree = false; break;
      case '--tree-dirs': opts.treeDirs = val().split(',').map((d) => d.trim()).filter(Boolean); break;
      case '--tree-runs': opts.treeRuns = Math.max(1, int()); break;
      case '--only': opts.only = new Set(val().split(',').map((x) => x.trim()).filter(Boolean)); break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument '${a}'`);
    }
  }
  // An even number of edits leaves the document as it was (each insert is undone by a delete).
  if (opts.edits % 2) opts.edits++;
  return opts;
}

function usage(error) {
  const text = `usage: node bench/run.mjs [--install] [--kernel DIR] [--edits N] [--soak N] [--hovers N] [--runs N] [--server-runs N] [--file REL] [--out FILE]
                         [--no-tree | --tree-dirs DIR,DIR... | --tree-runs N] [--only ROW,ROW...]

--only runs just the named rows: server, cli, abiDiff, locks, checkParse, layout, uapiCompare,
cache, patch, treeScan.

Peers it measures against, when installed (nothing is installed unless --install, which only
extracts the kernel sources): Debian gcc-multilib (gcc -m32), dwarves (pahole), abigail-tools
(abidiff), and linux-source-6.1 extracted by ../shared/scripts/kernel-src 6.1 (abi-diff and the
whole-uapi comparison). A missing peer leaves its row with vfio-review's figure only.

Needs an extracted Debian linux-source-${KERNEL_VERSION} tree, made by
  ../shared/scripts/kernel-src ${KERNEL_VERSION}
(which apt-installs linux-source-${KERNEL_VERSION} if it is missing). --install runs that for you;
--kernel DIR uses a tree you already have. Build first (npm run build), or use npm run bench.`;
  if (error) {
    console.error(`bench: ${error}\n\n${text}`);
    process.exit(2);
  }
  console.log(text);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// The kernel tree

/** The 6.1 tree for abi-diff, when ../shared/scripts/kernel-src 6.1 has extracted it. */
function findOldKernel() {
  const dir = path.join(process.env.KERNEL_SRC_CACHE || path.join(os.homedir(), '.cache/kernel-src'), '6.1');
  return existsSync(path.join(dir, '.complete')) ? dir : undefined;
}

function cachedKernelDir() {
  const base = process.env.KERNEL_SRC_CACHE || path.join(os.homedir(), '.cache', 'kernel-src');
  return path.join(base, KERNEL_VERSION);
}

function findKernel(opts) {
  if (opts.kernel) {
    if (!existsSync(path.join(opts.kernel, opts.file))) {
      console.error(`bench: ${opts.kernel} has no ${opts.file}; is it a kernel tree?`);
      process.exit(2);
    }
    return opts.kernel;
  }
  const cached = cachedKernelDir();
  if (existsSync(path.join(cached, '.complete'))) return cached;
  if (!opts.install) {
    console.error(`bench: needs the Linux ${KERNEL_VERSION} sources (Debian package linux-source-${KERNEL_VERSION}),
extracted to ${cached}, and they are not there.

Extract them with
  ${path.relative(process.cwd(), kernelSrcScript) || kernelSrcScript} ${KERNEL_VERSION}
(it runs apt-get install linux-source-${KERNEL_VERSION} when the package is missing), or run the
benchmark with --install to let it do that, or pass --kernel DIR for a tree you already have.`);
    process.exit(2);
  }
  if (!existsSync(kernelSrcScript)) {
    console.error(`bench: ${kernelSrcScript} is missing (it comes with the project's shared folder).`);
    process.exit(2);
  }
  console.error(`bench: extracting linux-source-${KERNEL_VERSION} with ${kernelSrcScript} (may apt-get install it) ...`);
  const r = spawnSync(kernelSrcScript, [KERNEL_VERSION], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`bench: ${kernelSrcScript} failed (exit ${r.status})`);
    process.exit(2);
  }
  const dir = r.stdout.trim().split('\n').pop();
  if (!dir || !existsSync(path.join(dir, opts.file))) {
    console.error(`bench: ${kernelSrcScript} printed '${dir}', which has no ${opts.file}`);
    process.exit(2);
  }
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Statistics and process facts

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  // Nearest rank: the smallest value with at least p% of the samples at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: round(percentile(s, 50)),
    p95: round(percentile(s, 95)),
    p99: round(percentile(s, 99)),
    max: round(s.length ? s[s.length - 1] : null),
  };
}

function median(samples) {
  return round(percentile([...samples].sort((a, b) => a - b), 50));
}

function round(x) {
  return x === null || x === undefined ? null : Math.round(x * 10) / 10;
}

/** CPU time (user + system, all threads) a process has used, in ms, from /proc (Linux only). */
function cpuMs(pid) {
  try {
    // Fields after the command name, which is in parentheses and may contain spaces; times in
    // clock ticks of 10 ms (USER_HZ is 100 on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/** Resident memory of a process in MiB, from /proc (Linux only). */
function rssMiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : null;
  } catch {
    return null;
  }
}

const now = () => performance.now();

// ---------------------------------------------------------------------------------------------
// Edit and hover positions in the benchmarked file

/**
 * Lines inside function bodies that hold a plain statement: indented by a tab, ending in ';',
 * not a comment or a preprocessor line. An edit there is what typing in a driver looks like.
 */
function statementLines(lines) {
  const out = [];
  let inComment = false;
  let depth = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const t = line.trim();
    if (inComment) {
      if (t.includes('*/')) inComment = false;
      continue;
    }
    if (t.startsWith('/*') && !t.includes('*/')) {
      inComment = true;
      continue;
    }
    if (t.startsWith('#')) continue;
    if (depth > 0 && /^\t+[a-z_]/.test(line) && t.endsWith(';') && !t.startsWith('//')) out.push(i);
    // Brace depth from the top level; good enough for kernel style, where a function body's
    // '{' is on a line of its own.
    for (const c of line.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\/\*.*?\*\/|\/\/.*$/g, '')) {
      if (c === '{') depth++;
      else if (c === '}') depth = Math.max(0, depth - 1);
    }
  }
  return out;
}

function spread(items, n) {
  if (items.length === 0 || n === 0) return [];
  if (items.length <= n) return Array.from({ length: n }, (_, i) => items[i % items.length]);
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]);
}

/** Identifier positions worth hovering: members (after -> or .), struct names, sizeof operands. */
function hoverTargets(lines) {
  const kinds = { member: [], struct: [], sizeof: [] };
  const patterns = [
    ['member', /(?:->|\.)([A-Za-z_]\w*)/g],
    ['struct', /\bstruct\s+([A-Za-z_]\w*)/g],
    // sizeof(struct x) and sizeof(var): this driver writes the second almost everywhere.
    ['sizeof', /\bsizeof\s*\(\s*(?:(?:struct|union)\s+)?\*?([A-Za-z_]\w*)/g],
  ];
  let inComment = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const t = line.trim();
    if (inComment) {
      if (t.includes('*/')) inComment = false;
      continue;
    }
    if (t.startsWith('/*') && !t.includes('*/')) {
      inComment = true;
      continue;
    }
    if (t.startsWith('*') || t.startsWith('//') || t.startsWith('#')) continue;
    // Strings and comments become spaces, so columns stay right and no e-mail address is a member.
    const code = line.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\/\*.*?(?:\*\/|$)|\/\/.*$/g, (x) => ' '.repeat(x.length));
    for (const [kind, re] of patterns) {
      re.lastIndex = 0;
      let m;
      while ((m = re.exec(code))) {
        const character = m.index + m[0].length - m[1].length;
        // The middle of the identifier, as a pointer would be.
        kinds[kind].push({ kind, line: i, character: character + Math.floor(m[1].length / 2), name: m[1] });
      }
    }
  }
  return kinds;
}

function pickHovers(kinds, n) {
  // A third of each kind when there are enough, spread over the file.
  const each = Math.ceil(n / 3);
  const picked = [...spread(kinds.member, each), ...spread(kinds.struct, each), ...spread(kinds.sizeof, each)];
  // Fill up from members when a kind is missing from the file.
  if (picked.length < n) picked.push(...spread(kinds.member, n - picked.length));
  return picked.slice(0, n);
}

// ---------------------------------------------------------------------------------------------
// (a) the language server

/**
 * The server row, `opts.serverRuns` times over (a fresh server each time): each figure is the
 * median of the runs (the machine's noise moves a single run's p95 by a third), and every run is
 * kept under `runs`.
 */
async function benchServerRuns(kernel, opts) {
  const runs = [];
  for (let i = 0; i < opts.serverRuns; i++) {
    console.error(`bench: language server run ${i + 1} of ${opts.serverRuns}`);
    const r = await benchServer(kernel, opts);
    if (r.error) return { ...r, runs };
    runs.push(r);
  }
  const mid = (get) => {
    const xs = runs.map(get).filter((x) => typeof x === 'number').sort((a, b) => a - b);
    return xs.length ? xs[Math.floor(xs.length / 2)] : undefined;
  };
  const stats = (key) => runs[0][key] && Object.fromEntries(Object.keys(runs[0][key]).filter((k) => typeof runs[0][key][k] === 'number').map((k) => [k, mid((r) => r[key]?.[k])]));
  const out = { ...runs[runs.length - 1], serverRuns: runs.length };
  for (const key of ['coldFirstDiagnosticsMs', 'fullFirstDiagnosticsMs', 'rssAfterOpenMiB', 'rssAfterIndexMiB', 'rssAfterEditsMiB', 'rssAfterSoakMiB', 'rssAfterHoversMiB', 'rssAfterIdleMiB']) out[key] = mid((r) => r[key]);
  out.edits = stats('edits');
  out.hovers = { ...runs[runs.length - 1].hovers, ...stats('hovers') };
  out.runs = runs.map((r) => ({ edits: r.edits, hovers: { p50: r.hovers?.p50, p95: r.hovers?.p95, firstMs: r.hovers?.firstMs }, rssAfterIndexMiB: r.rssAfterIndexMiB, rssAfterSoakMiB: r.rssAfterSoakMiB, rssAfterIdleMiB: r.rssAfterIdleMiB }));
  return out;
}

async function benchServer(kernel, opts) {
  const serverJs = path.join(repo, 'dist', 'server.js');
  const file = path.join(kernel, opts.file);
  const uri = pathToFileURL(file).href;
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const settings = { root: kernel, debounceMs: 0 };

  const child = spawn(process.execPath, [...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean), serverJs, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'], cwd: repo });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024);
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let exitInfo;
  exited.then((e) => (exitInfo = e));

  const conn = rpc.createProtocolConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));

  // Every publishDiagnostics for our file, in order, with the time it arrived.
  const published = [];
  let waiter;
  conn.onNotification(rpc.PublishDiagnosticsNotification.type, (p) => {
    if (p.uri !== uri) return;
    published.push({ at: now(), version: p.version, count: p.diagnostics.length, diagnostics: p.diagnostics });
    if (waiter && waiter.test(published[published.length - 1])) {
      const w = waiter;
      waiter = undefined;
      w.resolve(published[published.length - 1]);
    }
  });
  // Requests the server may send to a client.
  conn.onRequest(rpc.ConfigurationRequest.type, (p) => p.items.map((it) => (it.section === 'vfioReview' || !it.section ? settings : null)));
  conn.onRequest(rpc.RegistrationRequest.type, () => null);
  conn.onRequest(rpc.UnregistrationRequest.type, () => null);
  conn.onRequest(rpc.WorkDoneProgressCreateRequest.type, () => null);
  conn.onRequest(rpc.ShowMessageRequest.type, () => null);
  conn.onNotification(() => {});
  conn.listen();

  /** Waits for the next publishDiagnostics matching `test` that arrives after `since`. */
  function waitPublish(since, test, what) {
    const found = published.find((p) => p.at >= since && test(p));
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiter = undefined;
        reject(new Error(`no publishDiagnostics for ${what} within ${opts.timeoutMs} ms${exitInfo ? ` (server exited: ${JSON.stringify(exitInfo)})` : ''}`));
      }, opts.timeoutMs);
      waiter = {
        test: (p) => p.at >= since && test(p),
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
      };
    });
  }

  const result = { file: opts.file };
  try {
    const tInit = now();
    const init = await conn.sendRequest(rpc.InitializeRequest.type, {
      processId: process.pid,
      rootUri: pathToFileURL(kernel).href,
      workspaceFolders: [{ uri: pathToFileURL(kernel).href, name: path.basename(kernel) }],
      initializationOptions: { vfioReview: settings },
      capabilities: {
        workspace: { configuration: true, workspaceFolders: true, didChangeConfiguration: { dynamicRegistration: false } },
        textDocument: {
          synchronization: { dynamicRegistration: false, didSave: false },
          publishDiagnostics: { versionSupport: true, relatedInformation: true },
          hover: { contentFormat: ['markdown', 'plaintext'] },
        },
        window: { workDoneProgress: false },
      },
    });
    result.initializeMs = round(now() - tInit);
    const syncKind = init.capabilities.textDocumentSync;
    const incremental = (typeof syncKind === 'number' ? syncKind : syncKind?.change) === rpc.TextDocumentSyncKind.Incremental;
    result.incrementalSync = incremental;
    conn.sendNotification(rpc.InitializedNotification.type, {});

    // Cold: open the file, wait for its first diagnostics (engine start, includes, all ABIs).
    let version = 1;
    const tOpen = now();
    conn.sendNotification(rpc.DidOpenTextDocumentNotification.type, {
      textDocument: { uri, languageId: 'c', version, text },
    });
    const first = await waitPublish(tOpen, () => true, 'didOpen');
    result.coldFirstDiagnosticsMs = round(first.at - tOpen);
    result.diagnosticsOnOpen = first.count;
    result.diagnosticRules = countRules(first.diagnostics);
    result.rssAfterOpenMiB = rssMiB(child.pid);
    // Then the whole-index rules (the lock analysis over the index) publish again for the same
    // version, and the hover preparation runs once the server is idle: after that the file and
    // its index are loaded, the point the memory target is measured from.
    await waitPublish(first.at + 0.001, (p) => p.version === version, 'the full check after didOpen');
    result.fullFirstDiagnosticsMs = round(now() - tOpen);
    // The server collects garbage 2 s after its last check: measured once that is done.
    await new Promise((r) => setTimeout(r, 4000));
    result.rssAfterIndexMiB = rssMiB(child.pid);

    // Incremental edits: insert a space at the start of a statement, then delete it.
    const editLines = spread(statementLines(lines), opts.edits / 2);
    const editSamples = [];
    // The server's CPU time over the timed edits (all its threads, GC included): steadier than
    // the latencies on a loaded machine, where other processes' work lands in them.
    const cpuBefore = cpuMs(child.pid);
    for (const line of editLines) {
      const indent = /^\t*/.exec(lines[line])[0].length;
      const at = { line, character: indent };
      for (const change of [
        { range: { start: at, end: at }, text: ' ' },
        { range: { start: at, end: { line, character: indent + 1 } }, text: '' },
      ]) {
        version++;
        const v = version;
        const params = incremental
          ? { textDocument: { uri, version: v }, contentChanges: [change] }
          : { textDocument: { uri, version: v }, contentChanges: [{ text: applyChange(lines, change) }] };
        const t = now();
        conn.sendNotification(rpc.DidChangeTextDocumentNotification.type, params);
        // With a version in the notification, wait for that version; otherwise for the next one.
        const p = await waitPublish(t, (p) => p.version === undefined || p.version === null || p.version >= v, `edit ${v}`);
        editSamples.push(p.at - t);
      }
    }
    result.edits = summarize(editSamples);
    const cpuAfter = cpuMs(child.pid);
    if (cpuBefore !== null && cpuAfter !== null) result.edits.cpuMsPerEdit = round((cpuAfter - cpuBefore) / editSamples.length);
    result.rssAfterEditsMiB = rssMiB(child.pid);

    // More of the same edits, untimed, up to opts.soak in all: does memory keep growing?
    let soaked = editSamples.length;
    for (let k = 0; soaked < opts.soak; k++) {
      const line = editLines[k % editLines.length];
      const indent = /^\t*/.exec(lines[line])[0].length;
      const at = { line, character: indent };
      for (const change of [{ range: { start: at, end: at }, text: ' ' }, { range: { start: at, end: { line, character: indent + 1 } }, text: '' }]) {
        version++;
        const params = incremental
          ? { textDocument: { uri, version }, contentChanges: [change] }
          : { textDocument: { uri, version }, contentChanges: [{ text: applyChange(lines, change) }] };
        conn.sendNotification(rpc.DidChangeTextDocumentNotification.type, params);
        soaked++;
      }
      // Let the server keep up now and then, as a typist pausing would.
      if (k % 25 === 24) {
        const v = version;
        await waitPublish(now(), (p) => p.version === undefined || p.version === null || p.version >= v, `soak ${v}`);
      }
    }
    const last = version;
    await waitPublish(now(), (p) => p.version === undefined || p.version === null || p.version >= last, `soak ${last}`);
    result.soakEdits = soaked;
    result.rssAfterSoakMiB = rssMiB(child.pid);

    // Hovers on the (restored) document.
    const targets = pickHovers(hoverTargets(lines), opts.hovers);
    const hoverSamples = [];
    let answered = 0;
    const byKind = {};
    const timed = [];
    for (const h of targets) {
      const t = now();
      const r = await conn.sendRequest(rpc.HoverRequest.type, { textDocument: { uri }, position: { line: h.line, character: h.character } });
      const ms = now() - t;
      hoverSamples.push(ms);
      timed.push({ ms: round(ms), kind: h.kind, name: h.name, line: h.line + 1, character: h.character + 1, answered: !!r });
      byKind[h.kind] ??= { asked: 0, answered: 0 };
      byKind[h.kind].asked++;
      if (r) {
        answered++;
        byKind[h.kind].answered++;
      }
    }
    // The slowest positions (1-based line:column), to find what a slow hover computes.
    const slowest = timed.sort((a, b) => b.ms - a.ms).slice(0, 5);
    // The first hover may load the headers the file includes (a cold cost); keep it visible.
    result.hovers = { ...summarize(hoverSamples), firstMs: round(hoverSamples[0] ?? null), answered, byKind, slowest };
    result.rssAfterHoversMiB = rssMiB(child.pid);
    // And once the user has paused (the server collects garbage after 2 s without an edit).
    await new Promise((r) => setTimeout(r, 4000));
    result.rssAfterIdleMiB = rssMiB(child.pid);

    await conn.sendRequest(rpc.ShutdownRequest.type);
    conn.sendNotification(rpc.ExitNotification.type);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    if (stderr.trim()) result.serverStderr = stderr.trim().split('\n').slice(-20).join('\n');
  } finally {
    conn.dispose();
    if (child.exitCode === null && child.signalCode === null) child.kill();
  }
  return result;
}

/** The full text after one change, for a server that only takes whole documents. */
function applyChange(lines, change) {
  const copy = [...lines];
  const { start, end } = change.range;
  const l = copy[start.line];
  copy[start.line] = l.slice(0, start.character) + change.text + l.slice(end.character);
  // Keep `lines` in step: the caller edits in insert/delete pairs on one line.
  lines[start.line] = copy[start.line];
  return copy.join('\n');
}

function countRules(diagnostics) {
  const out = {};
  for (const d of diagnostics) {
    const rule = typeof d.code === 'string' ? d.code : String(d.code ?? d.source ?? '?');
    out[rule] = (out[rule] ?? 0) + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// (b) the CLI

function benchCli(kernel, opts) {
  const cliJs = path.join(repo, 'dist', 'cli.js');
  const out = [];
  for (const header of opts.headers) {
    const file = path.join(kernel, header);
    const samples = [];
    let status;
    let lines = 0;
    let error;
    for (let i = 0; i < opts.runs; i++) {
      const t = now();
      const r = spawnSync(process.execPath, [cliJs, 'check', file, '--root', kernel], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      samples.push(now() - t);
      status = r.status;
      lines = r.stdout ? r.stdout.split('\n').filter((l) => l.trim()).length : 0;
      // 0: no findings at the failing level, 1: findings; anything else is a failure to report.
      if (r.status !== 0 && r.status !== 1) {
        error = `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}: ${(r.stderr || '').trim().split('\n').slice(-5).join(' | ')}`;
        break;
      }
    }
    out.push({ header, runs: samples.length, medianMs: median(samples), minMs: round(Math.min(...samples)), exitCode: status, outputLines: lines, ...(error ? { error } : {}) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Report

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function fmt(x, unit = 'ms') {
  if (x === null || x === undefined) return '-';
  // Figures from the modules come unrounded: one decimal is all the noise allows.
  return `${typeof x === 'number' ? Math.round(x * 10) / 10 : x} ${unit}`;
}

function printTable(all) {
  // Rows left out with --only print nothing.
  const results = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v?.skipped === 'not in --only' ? undefined : v]));
  const rows = [];
  const s = results.server ?? {};
  if (s.error) rows.push(['server', 'error', s.error]);
  if (s.coldFirstDiagnosticsMs !== undefined) rows.push(['server', 'didOpen -> first diagnostics (cold)', `${fmt(s.coldFirstDiagnosticsMs)} (${s.diagnosticsOnOpen} diagnostics)`]);
  if (s.edits) rows.push(['server', `didChange -> diagnostics, ${s.edits.n} edits (median of ${s.serverRuns ?? 1} servers)`, `p50 ${fmt(s.edits.p50)}  p95 ${fmt(s.edits.p95)}  p99 ${fmt(s.edits.p99)}  max ${fmt(s.edits.max)}${s.edits.cpuMsPerEdit !== undefined ? `  server CPU ${fmt(s.edits.cpuMsPerEdit)}/edit` : ''}`]);
  if (s.hovers) rows.push(['server', `hover, ${s.hovers.n} positions (${s.hovers.answered} answered)`, `p50 ${fmt(s.hovers.p50)}  p95 ${fmt(s.hovers.p95)}  max ${fmt(s.hovers.max)}  first ${fmt(s.hovers.firstMs)}`]);
  if (s.hovers?.slowest?.length) rows.push(['server', 'slowest hover', s.hovers.slowest.slice(0, 2).map((h) => `${h.name} (${h.kind}) at ${h.line}:${h.character} ${fmt(h.ms)}`).join(', ')]);
  if (s.fullFirstDiagnosticsMs !== undefined) rows.push(['server', 'didOpen -> whole-index diagnostics (cold)', fmt(s.fullFirstDiagnosticsMs)]);
  if (s.rssAfterOpenMiB !== undefined) rows.push(['server', `RSS after open / index / ${s.edits?.n ?? 0} edits / ${s.soakEdits ?? '-'} edits / hovers`, `${fmt(s.rssAfterOpenMiB, 'MiB')} / ${fmt(s.rssAfterIndexMiB, 'MiB')} / ${fmt(s.rssAfterEditsMiB, 'MiB')} / ${fmt(s.rssAfterSoakMiB, 'MiB')} / ${fmt(s.rssAfterHoversMiB, 'MiB')}`]);
  const growth = (to) => `${(((to - s.rssAfterIndexMiB) / s.rssAfterIndexMiB) * 100).toFixed(1)}%`;
  if (s.rssAfterIndexMiB && s.rssAfterIdleMiB) rows.push(['server', `RSS growth over ${s.soakEdits} edits from the indexed state: once idle (right after the last edit)`, `${growth(s.rssAfterIdleMiB)} (${growth(s.rssAfterSoakMiB)}); idle ${fmt(s.rssAfterIdleMiB, 'MiB')}`]);
  const p = results.patch;
  if (p?.error) rows.push(['patch', 'ten-patch series vs checkpatch.pl', `error: ${p.error}`]);
  else if (p) {
    rows.push(['patch', `series of ${p.patches} in one run vs checkpatch.pl on the ${p.patches} files (median of ${p.runs})`, `${fmt(Math.round(p.seriesMs.vfioReview))} vs ${fmt(Math.round(p.seriesMs.checkpatch))}: ratio ${p.seriesMs.ratio.toFixed(2)} (${p.findings} findings: ${p.findingRules.join(', ')}; checkpatch ${p.checkpatchMessages} messages)`]);
    rows.push(['patch', `one run per patch, mail on stdin, as b4 runs both`, `${fmt(Math.round(p.perPatchMs.vfioReview))} vs ${fmt(Math.round(p.perPatchMs.checkpatch))}: ratio ${p.perPatchMs.ratio.toFixed(2)}`]);
    if (p.seriesMs.vfioReviewWarm !== undefined) rows.push(['patch', 'the same with the cache folder warm (series / per patch)', `${fmt(Math.round(p.seriesMs.vfioReviewWarm))}: ratio ${p.seriesMs.ratioWarm.toFixed(2)} / ${fmt(Math.round(p.perPatchMs.vfioReviewWarm))}: ratio ${p.perPatchMs.ratioWarm.toFixed(2)}`]);
  }
  const l = results.locks;
  if (l?.error) rows.push(['locks', 'lock analysis', `error: ${l.error}`]);
  else if (l) rows.push(['locks', 'check vfio_pci_core.c with the whole lock index: cold / after one edit', `${fmt(l.coldMs)} / ${fmt(l.warmMs)} (${l.lockFindings} lock findings)`]);
  const a = results.abiDiff;
  if (a?.error) rows.push(['abi-diff', a.header, `error: ${a.error}`]);
  else if (a?.vfioReviewMs !== undefined) {
    rows.push(['abi-diff', `6.1 -> ${KERNEL_VERSION} ${a.header}, x86_64+i386 (median of ${a.runs})`,
      a.ratio !== undefined ? `vfio-review ${fmt(a.vfioReviewMs)} vs gcc+abidiff ${fmt(a.gccAbidiffMs)}: ${a.ratio.toFixed(2)}x` : `vfio-review ${fmt(a.vfioReviewMs)} (${a.note})`]);
  }
  const cp = results.checkParse;
  if (cp?.error) rows.push(['check', 'parse floor vs check, VFIO set', `error: ${cp.error}`]);
  else if (cp) rows.push(['check', `VFIO set, ${cp.files} files ${cp.mb} MB, --jobs 1 (median of ${cp.runs})`, `parse only ${fmt(cp.parseMs)} (${cp.parseMBps} MB/s) vs check ${fmt(cp.checkMs)} (${cp.checkMBps} MB/s): check/parse ${cp.ratio}`]);
  const lay = results.layout;
  if (lay?.error) rows.push(['layout', lay.header, `error: ${lay.error}`]);
  else if (lay) rows.push(['layout', `${lay.header}, ${lay.types} types, x86_64+i386 (median of ${lay.runs})`, lay.ratio !== undefined ? `vfio-review ${fmt(lay.vfioReviewMs)} vs gcc -g -c + pahole ${fmt(lay.gccPaholeMs)}: ${lay.ratio}x` : `vfio-review ${fmt(lay.vfioReviewMs)} (${lay.note})`]);
  const uc = results.uapiCompare;
  if (uc?.error) rows.push(['uapi', 'whole-uapi 6.1 -> 6.12', `error: ${uc.error}`]);
  else if (uc?.vfioReviewMs !== undefined) {
    const what = uc.scope === 'all' ? `${uc.headers} headers (${uc.changedHeaders} changed)` : `${uc.headers} changed headers`;
    const peer = uc.peerEstimated ? `estimated from ${uc.peerSampleHeaders} of ${uc.peerHeaders} headers` : 'timed';
    rows.push(['uapi', `whole-uapi 6.1 -> ${KERNEL_VERSION}, ${what}, x86_64+i386`, uc.ratio !== undefined
      ? `vfio-review ${fmt(uc.vfioReviewMs)} (--jobs 1: ${fmt(uc.vfioReviewJobs1Ms)}) vs gcc+abidiff per header ${fmt(uc.gccAbidiffMs)} (${peer}; headers_install not timed): ${uc.ratio}x (--jobs 1: ${uc.ratioJobs1}x; with 2 x 17 s headers_install: ${uc.ratioWithQuotedHeadersInstall}x)`
      : `vfio-review ${fmt(uc.vfioReviewMs)} (${uc.note})`]);
  }
  const ca = results.cache;
  if (ca?.error) rows.push(['cache', 'cold vs warm', `error: ${ca.error}`]);
  else if (ca) rows.push(['cache', `check of the VFIO set, cold vs warm cache (median of ${ca.runs})`, `${fmt(ca.coldMs)} vs ${fmt(ca.warmMs)}: ${ca.speedup}x (${ca.warmHits} hits)`]);
  const ts = results.treeScan;
  if (ts?.error) rows.push(['tree', 'whole-tree check', `error: ${ts.error}`]);
  else if (ts?.jobs) {
    const j = (n) => ts.jobs[n] ? `--jobs ${n} ${fmt(ts.jobs[n].ms)} (CPU ${ts.jobs[n].cpuS ?? '?'} s, load ${ts.jobs[n].loadAverage ?? '?'}) ${ts.jobs[n].MBps} MB/s peak ${fmt(ts.jobs[n].peakRssMiB, 'MiB')}` : '-';
    rows.push(['tree', `check ${ts.files} files ${ts.mb} MB (${ts.dirs.length} folders, ${ts.cores ?? '?'} cores)`, `${j(1)}; ${j(2)}; speedup ${ts.speedup} (bound by CPU time: ${ts.cpuSpeedup ?? '?'})`]);
  }
  for (const c of results.cli) {
    rows.push(['cli', `check ${c.header} (median of ${c.runs})`, c.error ? `error: ${c.error}` : `${fmt(c.medianMs)} (exit ${c.exitCode}, ${c.outputLines} lines)`]);
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  console.log(`\nvfio-review bench — ${results.kernel.version} at ${results.kernel.root}${s.file ? `, file ${s.file}` : ""}`);
  console.log(`node ${results.machine.node}, ${results.machine.cpus} x ${results.machine.cpuModel}, commit ${results.commit ?? '?'}\n`);
  for (const r of rows) console.log(`${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`);
  console.log(`\nwritten: ${path.relative(process.cwd(), results.out) || results.out}`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  for (const f of ['server.js', 'cli.js']) {
    if (!existsSync(path.join(repo, 'dist', f))) {
      console.error(`bench: dist/${f} is missing; run npm run build (npm run bench does).`);
      process.exit(2);
    }
  }
  const kernel = findKernel(opts);
  console.error(`bench: kernel tree ${kernel}`);

  console.error(`bench: language server on ${opts.file} (${opts.edits} edits, ${opts.hovers} hovers) ...`);
  const wanted = (row) => !opts.only || opts.only.has(row);
  const skipped = { skipped: 'not in --only' };
  const server = wanted('server') ? await benchServerRuns(kernel, opts) : skipped;
  console.error(`bench: CLI check on ${opts.headers.join(', ')} (${opts.runs} runs each) ...`);
  const cli = wanted('cli') ? benchCli(kernel, opts) : [];

  const oldKernel = findOldKernel();
  console.error(oldKernel ? `bench: abi-diff 6.1 -> ${KERNEL_VERSION} on linux/vfio.h ...` : 'bench: no 6.1 tree (../shared/scripts/kernel-src 6.1): abi-diff skipped');
  const abiDiff = !wanted('abiDiff') ? skipped : oldKernel ? benchAbiDiff({ repo, oldKernel, newKernel: kernel, runs: opts.runs }) : { skipped: 'no 6.1 tree' };

  console.error('bench: lock analysis over the index, cold and after one edit ...');
  const locks = wanted('locks') ? benchLocks({ repo, kernel }) : skipped;

  console.error(`bench: parse-only floor vs check on the VFIO set (${opts.runs} runs) ...`);
  const checkParse = !wanted('checkParse') ? skipped : benchCheckParse({ repo, kernel, runs: opts.runs });
  console.error(`bench: layout of linux/vfio.h vs gcc -g -c + pahole (${opts.runs} runs) ...`);
  const layout = !wanted('layout') ? skipped : benchLayout({ repo, kernel, runs: opts.runs });
  console.error(oldKernel ? 'bench: whole-uapi 6.1 -> 6.12 vs the check-uapi pipeline ...' : 'bench: no 6.1 tree: whole-uapi comparison skipped');
  const uapiCompare = !wanted('uapiCompare') ? skipped : oldKernel ? benchUapiCompare({ repo, oldKernel, newKernel: kernel, runs: 1 }) : { skipped: 'no 6.1 tree' };
  console.error(`bench: findings cache, cold vs warm (${opts.runs} runs) ...`);
  const cache = !wanted('cache') ? skipped : benchCache({ repo, kernel, runs: opts.runs });
  console.error(`bench: patch review of a ten-patch series vs checkpatch.pl (${opts.runs} runs) ...`);
  const patch = !wanted('patch') ? skipped : benchPatch({ repo, kernel, runs: opts.runs });
  console.error(opts.tree ? 'bench: whole-tree check --jobs 1 vs --jobs 2 (long) ...' : 'bench: whole-tree scan skipped (--no-tree)');
  const treeScan = !wanted('treeScan') ? skipped : opts.tree ? benchTreeScan({ repo, kernel, runs: opts.treeRuns, ...(opts.treeDirs ? { dirs: opts.treeDirs } : {}) }) : { skipped: '--no-tree' };

  const results = {
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: { node: process.version, platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '?', memGiB: Math.round(os.totalmem() / 2 ** 30) },
    kernel: { version: KERNEL_VERSION, root: kernel },
    settings: { debounceMs: 0, edits: opts.edits, hovers: opts.hovers, runs: opts.runs, serverRuns: opts.serverRuns },
    server,
    cli,
    abiDiff,
    locks,
    checkParse,
    layout,
    uapiCompare,
    cache,
    patch,
    treeScan,
    out: opts.out,
  };
  writeFileSync(opts.out, JSON.stringify(results, null, 2) + '\n');
  printTable(results);
  // A failure to measure is not a slow measurement: say so with the exit code.
  if (server.error || cli.some((c) => c.error) || abiDiff.error || [checkParse, layout, uapiCompare, cache, patch, treeScan].some((r) => r.error)) process.exit(1);
}

main().catch((err) => {
  console.error(`bench: ${err instanceof Error ? err.stack : err}`);
  process.exit(1);
});
