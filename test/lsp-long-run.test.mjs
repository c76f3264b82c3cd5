// A long editing session through the language server: 10,000 incremental edits of a uapi header
// and 1,000 open/close cycles of headers and kernel C. The server's resident memory must stay
// within a bound of where it was after warming up, and the diagnostics after the last edit must
// equal those of a fresh server given the same text.
//
// VFIO_REVIEW_LONG_EDITS and VFIO_REVIEW_LONG_CYCLES override the counts for a longer run;
// VFIO_REVIEW_LONG_RSS_MB the allowed growth (default 64 MB; measured: 117 -> 136 MB).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileUri, startLspClient, summarize } from './support/lsp-client.mjs';
import { SEEDS_DIR, serverErrors } from './fuzz/targets.mjs';

const EDITS = Number(process.env.VFIO_REVIEW_LONG_EDITS || 10_000);
const CYCLES = Number(process.env.VFIO_REVIEW_LONG_CYCLES || 1_000);
const RSS_GROWTH_MB = Number(process.env.VFIO_REVIEW_LONG_RSS_MB || 64);
const SETTINGS = { arches: ['x86_64', 'i386'], debounceMs: 20 };

/** Resident set size of a process in MB (Linux /proc). */
function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

/** Applies one LSP range edit to `text` (line/character positions, no surrogate pairs here). */
function apply(text, { range, text: insert }) {
  const offset = ({ line, character }) => {
    let o = 0;
    for (let i = 0; i < line; i++) o = text.indexOf('\n', o) + 1;
    return o + character;
  };
  return text.slice(0, offset(range.start)) + insert + text.slice(offset(range.end));
}

/**
 * The i-th edit: a rotating set of real review edits on the member lines of the seed (a type
 * made arch-dependent and back, a member added and removed, a comment typed), so that checks
 * see changing findings, and every edit is undone within a few steps.
 */
function editFor(i, text) {
  const lines = text.split('\n');
  const memberLine = lines.findIndex((l) => l.endsWith('\tnum_irqs;'));
  const userLine = lines.findIndex((l) => l.includes('\tuser_data;'));
  switch (i % 4) {
    case 0: {
      // __u32 -> __u16 and back on num_irqs (implicit padding appears, then goes).
      const l = lines[memberLine];
      const at = l.indexOf('__u');
      const now = l.slice(at, at + 5);
      return { range: { start: { line: memberLine, character: at }, end: { line: memberLine, character: at + 5 } }, text: now === '__u32' ? '__u16' : '__u32' };
    }
    case 1: {
      // unsigned long <-> __u64 on user_data (arch-dependent layout appears, then goes).
      const l = lines[userLine];
      const typeEnd = l.indexOf('\tuser_data');
      const type = l.slice(1, typeEnd);
      return { range: { start: { line: userLine, character: 1 }, end: { line: userLine, character: typeEnd } }, text: type === '__u64' ? 'unsigned long' : '__u64' };
    }
    case 2:
      // Type a comment character at the end of the header's first line.
      return { range: { start: { line: 0, character: lines[0].length }, end: { line: 0, character: lines[0].length } }, text: 'x' };
    default:
      // And delete it again.
      return { range: { start: { line: 0, character: lines[0].length - 1 }, end: { line: 0, character: lines[0].length } }, text: '' };
  }
}

function makeTree() {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-long-'));
  mkdirSync(path.join(root, 'include/uapi/linux'), { recursive: true });
  mkdirSync(path.join(root, 'drivers/vfio'), { recursive: true });
  writeFileSync(path.join(root, 'Kbuild'), '');
  copyFileSync(path.join(SEEDS_DIR, 'fuzz_uapi.h'), path.join(root, 'include/uapi/linux/fuzz_uapi.h'));
  copyFileSync(path.join(SEEDS_DIR, 'fuzz_core.c'), path.join(root, 'drivers/vfio/fuzz_core.c'));
  return root;
}

const codes = (p) => p.diagnostics.map((d) => `${d.code}@${d.range.start.line}:${d.range.start.character} ${d.message}`).sort();

test(`long run: ${EDITS} edits and ${CYCLES} open/close cycles; RSS within ${RSS_GROWTH_MB} MB of the warmed-up server; final diagnostics equal a fresh server's`, { timeout: 600_000 }, async (t) => {
  const root = makeTree();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  // Every pause collects (however much the heap grew since V8's own last collection).
  const client = await startLspClient({ settings: SETTINGS, env: { VFIO_REVIEW_IDLE_GC: 'always' } });
  t.after(() => client.close());
  await client.initialize({ workspaceFolders: [root] });
  const pid = client.child.pid;

  const header = path.join(root, 'include/uapi/linux/fuzz_uapi.h');
  const uri = fileUri(header);
  let text = readFileSync(header, 'utf8');
  let version = 1;
  await client.openDocument(uri, 'c', text, version);
  await client.waitForDiagnostics(uri, (p) => p.version === version);

  const samples = [];
  let warmRss;
  let warmTrees;
  const started = performance.now();
  for (let i = 0; i < EDITS; i++) {
    const edit = editFor(i, text);
    text = apply(text, edit);
    await client.changeDocument(uri, ++version, [edit]);
    // Every 50 edits, let the server catch up (a request is answered after the edits before it),
    // and sometimes wait for the check of that version, as a user pausing would.
    if (i % 50 === 49) await client.hover(uri, { line: 30, character: 3 }, 60_000);
    if (i % 1000 === 999) {
      await client.waitForDiagnostics(uri, (p) => p.version === version, 60_000);
      samples.push({ at: `edit ${i + 1}`, rss: rssMb(pid) });
      if (i + 1 === Math.min(1000, EDITS)) {
        warmRss = samples.at(-1).rss;
        warmTrees = (await client.request('vfioReview/stats', null)).liveTrees;
      }
    }
  }
  const final = await client.waitForDiagnostics(uri, (p) => p.version === version, 60_000);
  const editSeconds = (performance.now() - started) / 1000;

  // The user pauses: the garbage the edits left is collected (idle-gc.ts, 2 s after the last
  // check), once; a second pause with no edits in between collects nothing more.
  const beforePause = await client.request('vfioReview/stats', null);
  await new Promise((r) => setTimeout(r, 3500));
  const afterPause = await client.request('vfioReview/stats', null);
  assert.equal(afterPause.idleCollections, beforePause.idleCollections + 1, `a collection in the pause: ${JSON.stringify([beforePause, afterPause])}`);
  assert.ok(afterPause.heapUsedMiB <= beforePause.heapUsedMiB, `the heap in use did not grow: ${beforePause.heapUsedMiB} -> ${afterPause.heapUsedMiB} MiB`);
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal((await client.request('vfioReview/stats', null)).idleCollections, afterPause.idleCollections, 'nothing to collect in a second pause');

  // Open/close cycles of other files: a header and a kernel C file, alternately.
  const others = [path.join(root, 'include/uapi/linux/cycle.h'), path.join(root, 'drivers/vfio/cycle.c')];
  const otherText = [readFileSync(path.join(SEEDS_DIR, 'fuzz_uapi.h'), 'utf8'), readFileSync(path.join(SEEDS_DIR, 'fuzz_core.c'), 'utf8')];
  for (let i = 0; i < CYCLES; i++) {
    const which = i % 2;
    const otherUri = fileUri(others[which]);
    await client.openDocument(otherUri, 'c', otherText[which], i + 1);
    // Every tenth cycle waits for the check; the others close before it runs (it is cancelled).
    if (i % 10 === 0) await client.waitForDiagnostics(otherUri, (p) => p.version === i + 1, 60_000);
    else if (i % 10 === 5) await client.hover(otherUri, { line: 20, character: 3 }, 60_000);
    await client.closeDocument(otherUri);
    if (i % 250 === 249) {
      await client.hover(uri, { line: 30, character: 3 }, 60_000);
      samples.push({ at: `cycle ${i + 1}`, rss: rssMb(pid) });
    }
  }
  await client.hover(uri, { line: 30, character: 3 }, 60_000);
  const endRss = rssMb(pid);
  const stats = await client.request('vfioReview/stats', null);
  samples.push({ at: 'end', rss: endRss });
  warmRss ??= samples[0]?.rss ?? endRss;
  console.log(`long run: ${EDITS} edits in ${editSeconds.toFixed(1)} s, ${CYCLES} cycles; RSS (MB) ${samples.map((s) => `${s.at}: ${s.rss.toFixed(0)}`).join(', ')}; live trees ${warmTrees} -> ${stats.liveTrees}`);

  assert.equal(client.exitStatus, undefined);
  assert.deepEqual(serverErrors(client), []);
  // Trees: one per open document, one per preprocessor variant it keeps; every closed document's are freed.
  assert.equal(stats.openDocuments, 1);
  assert.ok(stats.liveTrees <= 4 && stats.liveTrees <= (warmTrees ?? stats.liveTrees), `live trees: ${warmTrees} after warming up, ${stats.liveTrees} at the end`);
  assert.ok(endRss - warmRss <= RSS_GROWTH_MB, `RSS grew from ${warmRss.toFixed(0)} MB to ${endRss.toFixed(0)} MB (bound ${RSS_GROWTH_MB} MB)`);

  // The same text in a fresh server gives the same diagnostics.
  const fresh = await startLspClient({ settings: SETTINGS });
  t.after(() => fresh.close());
  await fresh.initialize({ workspaceFolders: [root] });
  await fresh.openDocument(uri, 'c', text, 1);
  const expected = await fresh.waitForDiagnostics(uri, (p) => p.version === 1, 60_000);
  // After the full (idle) check too, in both servers, so the whole-index rules are included.
  await new Promise((r) => setTimeout(r, 1500));
  const settledLong = client.diagnosticsFor(uri).at(-1);
  const settledFresh = fresh.diagnosticsFor(uri).at(-1);
  assert.deepEqual(codes(settledLong), codes(settledFresh), `long: ${JSON.stringify(summarize(settledLong))}\nfresh: ${JSON.stringify(summarize(settledFresh))}`);
  assert.ok(codes(final).length > 0 && codes(expected).length > 0, 'the header has findings to compare');
});
