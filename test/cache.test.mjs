// The persistent findings cache of `check` (--cache DIR, --no-cache, XDG_CACHE_HOME): the same
// output with and without it; a second run served from it; an edited file, an edited header and a
// new file of the lock index re-checked; corrupt or foreign entries dropped and rebuilt, never
// trusted; concurrent runs on one folder. VFIO_REVIEW_CACHE_STATS=1 makes the CLI print its
// hits and misses on stderr.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './support/cli-run.mjs';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const fixture = path.join(repo, 'test', 'fixtures', 'jobs', 'linux');
const example = path.join(repo, 'examples', 'linux');

let temp;
before(() => {
  temp = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-cache-'));
});
after(() => fs.rmSync(temp, { recursive: true, force: true }));

let counter = 0;
/** A fresh copy of a tree (tests edit it) and an empty cache folder. */
function workspace(tree = fixture) {
  const dir = path.join(temp, String(++counter));
  fs.cpSync(tree, path.join(dir, 'linux'), { recursive: true });
  return { tree: path.join(dir, 'linux'), cache: path.join(dir, 'cache') };
}

async function run(args, { env = {}, cwd = temp } = {}) {
  const r = await runCli(args, { cwd, env: { VFIO_REVIEW_CACHE_STATS: '1', ...env } });
  const m = /cache .*: (\d+) hits, (\d+) misses, (\d+) dropped, (\d+) written/.exec(r.stderr);
  return { ...r, stats: m && { hits: +m[1], misses: +m[2], dropped: +m[3], written: +m[4] } };
}

const check = (tree, extra) => run(['check', tree, '--root', tree, '--format', 'json', '--fail-on', 'never', ...extra]);

/** Every findings entry of a cache folder (the lock analysis keeps its IR in lock-ir/ beside them). */
function entries(cache) {
  if (!fs.existsSync(cache)) return [];
  return fs.readdirSync(cache, { recursive: true }).filter((p) => !p.startsWith('lock-ir')).map((p) => path.join(cache, p)).filter((p) => fs.statSync(p).isFile());
}

const countFiles = (tree) => fs.readdirSync(tree, { recursive: true }).filter((p) => /\.[ch]$/.test(p)).length;

for (const [name, tree] of [['example', example], ['fixture', fixture]]) {
  test(`${name} tree: findings with the cache, cold and warm, are those without it; the warm run is all hits`, async () => {
    const ws = workspace(tree);
    const files = countFiles(ws.tree);
    for (const jobs of ['1', '2']) {
      const cache = `${ws.cache}-${jobs}`;
      const plain = await check(ws.tree, ['--no-cache', '--jobs', jobs]);
      assert.equal(plain.code, 0, plain.stderr);
      assert.equal(plain.stats, null, '--no-cache reports no cache');
      const cold = await check(ws.tree, ['--cache', cache, '--jobs', jobs]);
      assert.deepEqual(cold.stats, { hits: 0, misses: files, dropped: 0, written: files }, cold.stderr);
      assert.equal(entries(cache).length, files);
      const warm = await check(ws.tree, ['--cache', cache, '--jobs', jobs]);
      assert.deepEqual(warm.stats, { hits: files, misses: 0, dropped: 0, written: 0 }, warm.stderr);
      assert.ok(JSON.parse(plain.stdout).findings.length > 0);
      assert.equal(cold.stdout, plain.stdout, `--jobs ${jobs}: cold run with the cache`);
      assert.equal(warm.stdout, plain.stdout, `--jobs ${jobs}: warm run with the cache`);
    }
  });
}

test('an edited uapi header is re-checked, and so is the kernel C that reads it; the others are hits', async () => {
  const ws = workspace();
  await check(ws.tree, ['--cache', ws.cache, '--jobs', '1']);
  const header = path.join(ws.tree, 'include/uapi/linux/vfio_jobs.h');
  // Spell out vfio_jobs_irq's padding: the two uapi-implicit-padding findings on it go.
  fs.writeFileSync(header, fs.readFileSync(header, 'utf8').replace('\t__u16\tindex;\n\t__u32\tcount;\n\t__u8\tkind;\n', '\t__u16\tindex;\n\t__u16\tpad;\n\t__u32\tcount;\n\t__u8\tkind;\n\t__u8\tpad2[3];\n'));
  const plain = await check(ws.tree, ['--no-cache', '--jobs', '1']);
  const cached = await check(ws.tree, ['--cache', ws.cache, '--jobs', '1']);
  assert.equal(cached.stdout, plain.stdout);
  const found = JSON.parse(cached.stdout).findings;
  assert.ok(!found.some((f) => f.message.includes('struct vfio_jobs_irq')), 'the fixed struct is no longer reported');
  assert.ok(found.some((f) => f.message.includes('struct vfio_jobs_dma')), 'the others still are');
  // The header itself, and the C files whose flag checks read it through <linux/vfio_jobs.h>.
  assert.ok(cached.stats.misses >= 2, cached.stderr);
  assert.ok(cached.stats.hits >= 1, cached.stderr);
  assert.equal(cached.stats.hits + cached.stats.misses, countFiles(ws.tree));
});

test('an edited C file is re-checked with its new findings; a file added to the lock index re-checks the kernel C', async () => {
  const ws = workspace();
  await check(ws.tree, ['--cache', ws.cache, '--jobs', '1']);
  const user = path.join(ws.tree, 'drivers/vfio/jobs_user.c');
  // Take away the second mutex_lock: the double acquire goes.
  fs.writeFileSync(user, fs.readFileSync(user, 'utf8').replace('\tmutex_lock(&jdev->set->lock);\n\tmutex_lock(&jdev->set->lock);\n', '\tmutex_lock(&jdev->set->lock);\n'));
  let plain = await check(ws.tree, ['--no-cache', '--jobs', '1']);
  let cached = await check(ws.tree, ['--cache', ws.cache, '--jobs', '1']);
  assert.equal(cached.stdout, plain.stdout);
  assert.ok(!JSON.parse(cached.stdout).findings.some((f) => f.rule === 'lock-double-acquire'));
  // Every file whose lock analysis covered jobs_user.c (the kernel C of the tree) was re-checked.
  assert.ok(cached.stats.misses >= 1 && cached.stats.hits >= 1, cached.stderr);

  fs.writeFileSync(path.join(ws.tree, 'drivers/vfio/jobs_more.c'), [
    '// SPDX-License-Identifier: GPL-2.0-only',
    '#include <linux/vfio_jobs.h>',
    '',
    'static void vfio_jobs_more(struct vfio_jobs_device *jdev)',
    '{',
    '\tmutex_lock(&jdev->set->lock);',
    '\tvfio_jobs_remove(jdev);',
    '}',
    '',
  ].join('\n'));
  plain = await check(ws.tree, ['--no-cache', '--jobs', '1']);
  cached = await check(ws.tree, ['--cache', ws.cache, '--jobs', '1']);
  assert.equal(cached.stdout, plain.stdout);
  const kernelC = fs.readdirSync(ws.tree, { recursive: true }).filter((p) => /^drivers\/.*\.c$/.test(p)).length;
  // The new file, and every kernel C file (their lock index changed); the uapi headers are hits.
  assert.equal(cached.stats.misses, kernelC + fs.readdirSync(path.join(ws.tree, 'include/linux')).length, cached.stderr);
});

test('corrupt, foreign and wrongly shaped entries are dropped and rebuilt, never trusted', async () => {
  const ws = workspace();
  const plain = await check(ws.tree, ['--no-cache', '--jobs', '1']);
  await check(ws.tree, ['--cache', ws.cache, '--jobs', '1']);
  const files = entries(ws.cache);
  assert.ok(files.length >= 5);
  const originals = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
  const damage = [
    () => 'not json at all',
    (e) => JSON.stringify(e).slice(0, 40), // a torn write
    (e) => JSON.stringify({ ...e, key: originals[(originals.indexOf(e) + 1) % originals.length].key }), // another entry's key
    (e) => JSON.stringify({ ...e, format: 'someone-else/1' }), // a foreign file
    (e) => JSON.stringify({ ...e, findings: [{ file: e.file, severity: 'fatal', rule: 'x', message: 'planted', range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } }] }),
    (e) => JSON.stringify({ ...e, findings: [{ file: e.file, severity: 'error', rule: 'x', message: 'planted', range: { start: { line: -1, character: 0 }, end: { line: 0 } } }] }),
    (e) => JSON.stringify({ ...e, deps: { not: 'a list' } }),
    () => 'null',
  ];
  files.forEach((f, i) => fs.writeFileSync(f, damage[i % damage.length](originals[i])));
  const rebuilt = await check(ws.tree, ['--cache', ws.cache, '--jobs', '2']);
  assert.equal(rebuilt.stdout, plain.stdout);
  assert.ok(!rebuilt.stdout.includes('planted'));
  assert.equal(rebuilt.stats.dropped, files.length, rebuilt.stderr);
  assert.equal(rebuilt.stats.hits, 0);
  // Rebuilt in place: every entry parses again, and the next run is served from them.
  for (const f of entries(ws.cache)) assert.equal(JSON.parse(fs.readFileSync(f, 'utf8')).format, 'vfio-review-findings/1');
  const warm = await check(ws.tree, ['--cache', ws.cache, '--jobs', '2']);
  assert.equal(warm.stats.hits, files.length);
  assert.equal(warm.stdout, plain.stdout);
});

test('concurrent runs on one cache folder: each prints the right findings, no temporary file is left', async () => {
  const ws = workspace();
  const plain = await check(ws.tree, ['--no-cache', '--jobs', '1']);
  const runs = await Promise.all([1, 2, 3].map(() => check(ws.tree, ['--cache', ws.cache, '--jobs', '2'])));
  for (const r of runs) assert.equal(r.stdout, plain.stdout, r.stderr);
  assert.deepEqual(entries(ws.cache).filter((f) => f.endsWith('.tmp')), []);
  const warm = await check(ws.tree, ['--cache', ws.cache, '--jobs', '1']);
  assert.equal(warm.stats.misses, 0, warm.stderr);
  assert.equal(warm.stdout, plain.stdout);
});

test('without --cache the folder is $XDG_CACHE_HOME/vfio-review', async () => {
  const ws = workspace();
  const xdg = path.join(path.dirname(ws.tree), 'xdg');
  const withXdg = await run(['check', ws.tree, '--root', ws.tree, '--format', 'json', '--fail-on', 'never', '--jobs', '1'], { env: { XDG_CACHE_HOME: xdg } });
  assert.equal(withXdg.code, 0, withXdg.stderr);
  assert.match(withXdg.stderr, new RegExp(`cache ${path.join(xdg, 'vfio-review').replace(/[/.]/g, '\\$&')}: 0 hits`));
  assert.equal(entries(path.join(xdg, 'vfio-review')).length, countFiles(ws.tree));
});

test('--cache mistakes are usage errors; a cache that cannot be written is a note, the findings unaffected', async () => {
  const ws = workspace();
  const plain = await check(ws.tree, ['--no-cache', '--jobs', '1']);
  const aFile = path.join(ws.tree, 'Kbuild');
  let r = await check(ws.tree, ['--cache', aFile]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--cache .*Kbuild: not a directory/);
  r = await check(ws.tree, ['--cache', path.join(aFile, 'sub')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--cache .*ENOTDIR/);
  r = await check(ws.tree, ['--cache', ws.cache, '--no-cache']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--cache and --no-cache together/);
  // Every sub-folder name taken by a file: no entry can be written.
  fs.mkdirSync(ws.cache);
  for (let i = 0; i < 256; i++) fs.writeFileSync(path.join(ws.cache, i.toString(16).padStart(2, '0')), '');
  r = await check(ws.tree, ['--cache', ws.cache, '--jobs', '2']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /note: the cache in .* was not written \(.*\); findings are unaffected/);
  assert.equal(r.stdout, plain.stdout);
});
