// The lock analysis's per-file IR kept on disk (engine/cache/lock-ir.ts, EngineOptions.cacheDir,
// `lock-ir/` in the CLI's cache folder): `check` and `patch` print the same findings with and
// without it, cold and warm; a warm run reads every file of the index from it and parses none;
// corrupt, truncated and foreign entries are dropped and rebuilt, never trusted; an edited file
// misses its entry; concurrent runs share one folder; --no-cache and the library's default write
// nothing; an editor's unsaved text is not written. VFIO_REVIEW_CACHE_STATS=1 makes the CLI print
// the lock IR cache's hits and misses on stderr.
//
// The findings cache of `check` lives in the same folder and would answer a second run before the
// lock analysis runs at all: the check tests delete its entries (everything but lock-ir/) between
// runs, so that the lock IR cache is what they measure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const cliPath = path.join(repo, 'dist', 'cli.js');
const enginePath = path.join(repo, 'dist', 'engine.js');
const devset = path.join(repo, 'test', 'fixtures', 'locks', 'devset');
const example = path.join(repo, 'examples', 'linux');
const exampleSeries = path.join(repo, 'examples', 'patches', 'vfio-example-v2.mbox');

let temp;
before(() => {
  temp = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-lock-ir-'));
});
after(() => fs.rmSync(temp, { recursive: true, force: true }));

let counter = 0;
/** A fresh copy of a tree (tests edit it) and a cache folder that does not exist yet. */
function workspace(tree) {
  const dir = path.join(temp, String(++counter));
  fs.cpSync(tree, path.join(dir, 'linux'), { recursive: true });
  return { dir, tree: path.join(dir, 'linux'), cache: path.join(dir, 'cache') };
}

const STATS = /lock IR cache .*: (\d+) hits, (\d+) misses, (\d+) dropped, (\d+) written/;

/** Runs a node script (the CLI by default) with VFIO_REVIEW_CACHE_STATS=1; the lock IR stats parsed from stderr. */
function run(args, { env = {}, cwd = temp, script = cliPath, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, VFIO_REVIEW_CACHE_STATS: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(input ?? '');
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hung: ${script} ${args.join(' ')}`));
    }, 180_000);
    child.on('close', (code) => {
      clearTimeout(guard);
      const m = STATS.exec(stderr);
      resolve({ code, stdout, stderr, stats: m && { hits: +m[1], misses: +m[2], dropped: +m[3], written: +m[4] } });
    });
  });
}

const check = (tree, paths, extra) => run(['check', ...paths, '--root', tree, '--format', 'json', '--fail-on', 'never', ...extra]);
const patch = (tree, extra) => run(['patch', exampleSeries, '--tree', tree, '--format', 'json', '--fail-on', 'never', ...extra]);

/** Every file under a folder (none when it does not exist). */
function filesUnder(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true }).map((p) => path.join(dir, p)).filter((p) => fs.statSync(p).isFile());
}

/** The lock IR entries of a cache folder. */
const irEntries = (cache) => filesUnder(path.join(cache, 'lock-ir')).filter((f) => f.endsWith('.v8'));

/** Deletes the findings cache's entries (everything but lock-ir/), so that `check` runs the lock analysis again. */
function forgetFindings(cache) {
  if (!fs.existsSync(cache)) return;
  for (const name of fs.readdirSync(cache)) if (name !== 'lock-ir') fs.rmSync(path.join(cache, name), { recursive: true, force: true });
}

const indexFileCount = (tree) => ['drivers/vfio', 'include/linux']
  .flatMap((d) => fs.readdirSync(path.join(tree, d), { recursive: true }).map((p) => `${d}/${p}`))
  .filter((p) => /\.[ch]$/.test(p) && (p.startsWith('drivers/') || /^include\/linux\/vfio[^/]*\.h$/.test(p))).length;

for (const [name, source] of [['devset', devset], ['example', example]]) {
  test(`${name} tree: check prints the same findings without the lock IR cache, cold and warm; the warm run parses no file of the index`, async () => {
    const ws = workspace(source);
    const indexed = indexFileCount(ws.tree);
    assert.ok(indexed >= 3, `${indexed} index files`);
    for (const jobs of ['1', '2']) {
      const plain = await check(ws.tree, [ws.tree], ['--no-cache', '--jobs', jobs]);
      assert.equal(plain.code, 0, plain.stderr);
      assert.equal(plain.stats, null, '--no-cache reports no cache');
      if (source === devset) assert.ok(JSON.parse(plain.stdout).findings.some((f) => f.rule.startsWith('lock-')), 'the tree has lock findings');
      fs.rmSync(ws.cache, { recursive: true, force: true });
      const cold = await check(ws.tree, [ws.tree], ['--cache', ws.cache, '--jobs', jobs]);
      assert.equal(cold.stdout, plain.stdout, cold.stderr);
      // With two workers, the second may read what the first wrote.
      if (jobs === '1') assert.equal(cold.stats.hits, 0, cold.stderr);
      assert.ok(cold.stats.written >= indexed, cold.stderr);
      assert.equal(irEntries(ws.cache).length, indexed, 'one entry per file of the index');
      forgetFindings(ws.cache);
      const warm = await check(ws.tree, [ws.tree], ['--cache', ws.cache, '--jobs', jobs]);
      assert.equal(warm.stdout, plain.stdout, warm.stderr);
      assert.equal(warm.stats.misses, 0, warm.stderr);
      assert.equal(warm.stats.written, 0, warm.stderr);
      assert.ok(warm.stats.hits >= indexed, warm.stderr);
    }
  });
}

test('example series: patch prints the same findings without the lock IR cache, cold and warm; reply drafts the same mail', async () => {
  const ws = workspace(example);
  const plain = await patch(ws.tree, ['--no-cache']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stats, null);
  const rules = JSON.parse(plain.stdout).findings.map((f) => f.rule);
  assert.ok(rules.includes('lock-not-held'), `the series removes a lock: ${rules}`);
  const cold = await patch(ws.tree, ['--cache', ws.cache]);
  assert.equal(cold.stdout, plain.stdout, cold.stderr);
  assert.equal(cold.stats.hits, 0, cold.stderr);
  assert.ok(cold.stats.written >= 2, cold.stderr);
  const warm = await patch(ws.tree, ['--cache', ws.cache]);
  assert.equal(warm.stdout, plain.stdout, warm.stderr);
  // What the tree has on disk is read back; the patched versions (in memory only) are not kept.
  assert.equal(warm.stats.hits, cold.stats.written, warm.stderr);
  assert.equal(warm.stats.written, 0, warm.stderr);
  const replyPlain = await run(['reply', exampleSeries, '--tree', ws.tree, '--no-cache']);
  const replyWarm = await run(['reply', exampleSeries, '--tree', ws.tree, '--cache', ws.cache]);
  assert.equal(replyPlain.code, 0, replyPlain.stderr);
  assert.equal(replyWarm.stdout, replyPlain.stdout, replyWarm.stderr);
  assert.equal(replyWarm.stats.misses, cold.stats.misses - cold.stats.written, replyWarm.stderr);
  // b4 counts any stderr line as a failure: the stats stay off in its formats.
  const b4 = await run(['patch', '-', '--tree', ws.tree, '--format', 'b4', '--cache', ws.cache], { input: fs.readFileSync(exampleSeries) });
  assert.equal(b4.stderr, '');
});

test('corrupt, truncated and foreign entries are dropped and rebuilt, never trusted', async () => {
  const ws = workspace(devset);
  const file = path.join(ws.tree, 'drivers/vfio/pci/hot_reset_bad.c');
  const plain = await check(ws.tree, [file], ['--no-cache', '--jobs', '1']);
  await check(ws.tree, [file], ['--cache', ws.cache, '--jobs', '1']);
  const entries = irEntries(ws.cache);
  const originals = entries.map((f) => v8.deserialize(fs.readFileSync(f)));
  assert.ok(entries.length >= 10, `${entries.length} entries`);
  assert.ok(originals.every((e) => typeof e.file === 'string' && e.ir.file === e.file));
  const other = (i) => originals[(i + 1) % originals.length];
  const damage = [
    () => Buffer.from('not a v8 serialisation'),
    (bytes) => bytes.subarray(0, bytes.length >> 1), // a torn write
    () => Buffer.alloc(0),
    (_b, e) => Buffer.from(JSON.stringify(e)),
    (_b, e) => v8.serialize({ ...e, format: 'someone-else/1' }),
    (_b, e) => v8.serialize({ ...e, stamp: 'an older build' }),
    (_b, e) => v8.serialize({ ...e, hash: '0'.repeat(40) }), // another content of the file
    (_b, _e, i) => v8.serialize(other(i)), // another file's entry in this one's place
    (_b, e) => v8.serialize({ ...e, ir: { ...e.ir, functions: 'planted' } }),
    (_b, e) => v8.serialize({ ...e, ir: { ...e.ir, structs: Object.fromEntries(e.ir.structs) } }), // a Map flattened as JSON would
    // A function without its graph (a header with no functions gets one planted).
    (_b, e) => v8.serialize({ ...e, ir: { ...e.ir, functions: (e.ir.functions.length ? e.ir.functions : [{ name: 'planted', file: e.file, at: { file: e.file } }]).map((fn) => ({ ...fn, cfg: null })) } }),
    () => v8.serialize(null),
  ];
  entries.forEach((f, i) => fs.writeFileSync(f, damage[i % damage.length](fs.readFileSync(f), originals[i], i)));
  forgetFindings(ws.cache);
  const rebuilt = await check(ws.tree, [file], ['--cache', ws.cache, '--jobs', '1']);
  assert.equal(rebuilt.code, 0, rebuilt.stderr);
  assert.equal(rebuilt.stdout, plain.stdout);
  assert.equal(rebuilt.stats.dropped, entries.length, rebuilt.stderr);
  assert.equal(rebuilt.stats.hits, 0, rebuilt.stderr);
  assert.equal(rebuilt.stats.written, entries.length, rebuilt.stderr);
  // Rebuilt in place: each entry reads back as its own file's, and the next run parses nothing.
  const again = irEntries(ws.cache);
  assert.deepEqual(again.sort(), [...entries].sort());
  for (const f of again) {
    const e = v8.deserialize(fs.readFileSync(f));
    assert.equal(e.format, 'vfio-review-lock-ir/2');
    assert.ok(e.ir.structs instanceof Map && e.ir.skippedFields instanceof Set);
  }
  forgetFindings(ws.cache);
  const warm = await check(ws.tree, [file], ['--cache', ws.cache, '--jobs', '1']);
  assert.equal(warm.stats.hits, entries.length, warm.stderr);
  assert.equal(warm.stats.misses + warm.stats.dropped, 0, warm.stderr);
  assert.equal(warm.stdout, plain.stdout);
});

test('an edited file misses its entry: the contract it no longer asserts is gone from the findings', async () => {
  const ws = workspace(devset);
  const checked = path.join(ws.tree, 'drivers/vfio/pci/hot_reset_bad.c');
  const main = path.join(ws.tree, 'drivers/vfio/vfio_main.c');
  const before = await check(ws.tree, [checked], ['--cache', ws.cache, '--jobs', '1']);
  const notHeld = (r) => JSON.parse(r.stdout).findings.filter((f) => f.rule === 'lock-not-held').length;
  assert.equal(notHeld(before), 1, before.stdout);
  const count = irEntries(ws.cache).length;
  // vfio_main.c is read for its contracts, never checked here: only its entry could carry the old assertion.
  const text = fs.readFileSync(main, 'utf8');
  assert.ok(text.includes('\tlockdep_assert_held(&dev_set->lock);\n'));
  fs.writeFileSync(main, text.replace('\tlockdep_assert_held(&dev_set->lock);\n', '\t/* the caller holds dev_set->lock */\n'));
  const plain = await check(ws.tree, [checked], ['--no-cache', '--jobs', '1']);
  const after = await check(ws.tree, [checked], ['--cache', ws.cache, '--jobs', '1']);
  assert.equal(after.stdout, plain.stdout, after.stderr);
  assert.equal(notHeld(after), 0, after.stdout);
  assert.deepEqual(after.stats, { hits: count - 1, misses: 1, dropped: 0, written: 1 }, after.stderr);
  assert.equal(irEntries(ws.cache).length, count + 1, 'the old content keeps its entry');
  // Back to the old content: its entry is still there and still right.
  fs.writeFileSync(main, text);
  forgetFindings(ws.cache);
  const reverted = await check(ws.tree, [checked], ['--cache', ws.cache, '--jobs', '1']);
  assert.equal(reverted.stdout, before.stdout);
  assert.equal(reverted.stats.misses, 0, reverted.stderr);
});

test('a file edited many times keeps only its newest entries', async () => {
  const ws = workspace(devset);
  const checked = path.join(ws.tree, 'drivers/vfio/pci/hot_reset_bad.c');
  const main = path.join(ws.tree, 'drivers/vfio/vfio_main.c');
  const text = fs.readFileSync(main, 'utf8');
  let last;
  for (let i = 0; i < 9; i++) {
    fs.writeFileSync(main, `${text}\n/* revision ${i} */\n`);
    last = await check(ws.tree, [checked], ['--cache', ws.cache, '--jobs', '1']);
    assert.equal(last.stats.misses, i === 0 ? irEntries(ws.cache).length : 1, last.stderr);
  }
  const ofMain = irEntries(ws.cache).filter((f) => v8.deserialize(fs.readFileSync(f)).file === main);
  assert.ok(ofMain.length >= 2 && ofMain.length <= 6, `${ofMain.length} entries of vfio_main.c`);
  const newest = v8.deserialize(fs.readFileSync(ofMain.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0]));
  assert.equal(newest.file, main);
  forgetFindings(ws.cache);
  const warm = await check(ws.tree, [checked], ['--cache', ws.cache, '--jobs', '1']);
  assert.equal(warm.stats.misses, 0, 'the current content is among the kept ones');
  assert.equal(warm.stdout, last.stdout);
});

test('concurrent runs on one cache folder: each prints the right findings, no temporary file is left', async () => {
  const ws = workspace(example);
  const plainCheck = await check(ws.tree, [ws.tree], ['--no-cache', '--jobs', '1']);
  const plainPatch = await patch(ws.tree, ['--no-cache']);
  const runs = await Promise.all([
    check(ws.tree, [ws.tree], ['--cache', ws.cache, '--jobs', '2']),
    check(ws.tree, [ws.tree], ['--cache', ws.cache, '--jobs', '1']),
    patch(ws.tree, ['--cache', ws.cache]),
    patch(ws.tree, ['--cache', ws.cache]),
  ]);
  for (const r of runs.slice(0, 2)) assert.equal(r.stdout, plainCheck.stdout, r.stderr);
  for (const r of runs.slice(2)) assert.equal(r.stdout, plainPatch.stdout, r.stderr);
  assert.deepEqual(filesUnder(ws.cache).filter((f) => f.endsWith('.tmp')), []);
  forgetFindings(ws.cache);
  const warm = await check(ws.tree, [ws.tree], ['--cache', ws.cache, '--jobs', '1']);
  assert.equal(warm.stats.misses, 0, warm.stderr);
  assert.equal(warm.stdout, plainCheck.stdout);
});

test('--no-cache writes nothing; without it the default folder is $XDG_CACHE_HOME/vfio-review', async () => {
  const ws = workspace(example);
  const xdg = path.join(ws.dir, 'xdg');
  const home = path.join(ws.dir, 'home');
  fs.mkdirSync(xdg);
  fs.mkdirSync(home);
  const env = { XDG_CACHE_HOME: xdg, HOME: home };
  const runs = [
    await run(['check', ws.tree, '--root', ws.tree, '--fail-on', 'never', '--no-cache', '--jobs', '2'], { env }),
    await run(['check', ws.tree, '--root', ws.tree, '--fail-on', 'never', '--no-cache', '--jobs', '1'], { env }),
    await run(['patch', exampleSeries, '--tree', ws.tree, '--fail-on', 'never', '--no-cache'], { env }),
    await run(['reply', exampleSeries, '--tree', ws.tree, '--no-cache'], { env }),
  ];
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(xdg), []);
  assert.deepEqual(fs.readdirSync(home), []);
  const r = await run(['patch', exampleSeries, '--tree', ws.tree, '--fail-on', 'never'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(irEntries(path.join(xdg, 'vfio-review')).length >= 2, 'the default folder is used');
  assert.deepEqual(fs.readdirSync(home), []);
  const bad = await run(['patch', exampleSeries, '--tree', ws.tree, '--cache', path.join(ws.tree, 'Kbuild')], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--cache .*Kbuild: not a directory/);
  const both = await run(['reply', exampleSeries, '--tree', ws.tree, '--cache', xdg, '--no-cache'], { env });
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--cache and --no-cache together/);
});

/** A script that checks one file through the engine library, in a process of its own (the in-memory caches are per process). */
const ENGINE_SCRIPT = `
import { createEngine } from ${JSON.stringify(enginePath)};
const { root, file, cacheDir, overlay } = JSON.parse(process.argv[2]);
const engine = await createEngine({ root, ...(cacheDir ? { cacheDir } : {}) });
if (overlay) engine.openDocument(overlay.file, overlay.text, 1);
process.stdout.write(JSON.stringify(engine.check(file)));
engine.dispose();
`;

test('the engine library: no cacheDir, nothing written; cacheDir, the same findings and the IR kept, but not an open document\'s', async () => {
  const ws = workspace(devset);
  const script = path.join(ws.dir, 'engine-check.mjs');
  fs.writeFileSync(script, ENGINE_SCRIPT);
  const xdg = path.join(ws.dir, 'xdg');
  const home = path.join(ws.dir, 'home');
  fs.mkdirSync(xdg);
  fs.mkdirSync(home);
  const env = { XDG_CACHE_HOME: xdg, HOME: home };
  const file = path.join(ws.tree, 'drivers/vfio/pci/walk_wrapper_bad.c');
  const main = path.join(ws.tree, 'drivers/vfio/vfio_main.c');
  const engineCheck = (options) => run([JSON.stringify({ root: ws.tree, file, ...options })], { script, env, cwd: ws.dir });
  const plain = await engineCheck({});
  assert.equal(plain.code, 0, plain.stderr);
  assert.ok(JSON.parse(plain.stdout).some((f) => f.rule === 'lock-not-held'));
  assert.deepEqual(fs.readdirSync(xdg), []);
  assert.deepEqual(fs.readdirSync(home), []);
  assert.deepEqual(filesUnder(ws.dir).filter((f) => !f.startsWith(ws.tree) && f !== script), []);
  const cold = await engineCheck({ cacheDir: ws.cache });
  const warm = await engineCheck({ cacheDir: ws.cache });
  assert.equal(cold.stdout, plain.stdout);
  assert.equal(warm.stdout, plain.stdout);
  const written = irEntries(ws.cache).map((f) => v8.deserialize(fs.readFileSync(f)).file).sort();
  assert.equal(written.length, indexFileCount(ws.tree));
  assert.ok(written.includes(main));
  // An editor's buffer of vfio_main.c (its assertion removed): analysed, not written.
  const edited = fs.readFileSync(main, 'utf8').replace('\tlockdep_assert_held(&dev_set->lock);\n', '\n');
  const open = await engineCheck({ cacheDir: ws.cache, overlay: { file: main, text: edited } });
  assert.equal(open.code, 0, open.stderr);
  assert.ok(!JSON.parse(open.stdout).some((f) => f.rule === 'lock-not-held'), 'the open text is what was analysed');
  assert.deepEqual(irEntries(ws.cache).map((f) => v8.deserialize(fs.readFileSync(f)).file).sort(), written);
});
