// `vfio-review patch` with its cache folder: the findings of the tree's own files (the "before" of
// a series' first patch, of every patch when b4 runs one process per patch) are read back from
// the findings cache, and the lock analysis of the tree is read back from its entry
// (cache/lock-program.ts) instead of being computed again. Each shortcut must print what the
// run without any cache prints, byte for byte: on the example series and on the bench's series
// against Debian's 6.12 tree, one process per patch as b4 runs it and the series in one run,
// with the cache empty (it is filled) and full (it answers).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import v8 from 'node:v8';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernel612 } from './support/kernel-612.mjs';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const cliPath = path.join(repo, 'dist', 'cli.js');
const example = path.join(repo, 'examples', 'linux');
const exampleSeries = path.join(repo, 'examples', 'patches', 'vfio-example-v2.mbox');
const kernel = kernel612();

let temp;
before(() => {
  temp = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-patch-cache-'));
});
after(() => fs.rmSync(temp, { recursive: true, force: true }));

const FINDINGS_STATS = /findings cache .*: (\d+) hits, (\d+) misses, (\d+) dropped, (\d+) written/;
const PROGRAM_STATS = /lock program cache .*: (\d+) hits, (\d+) misses, (\d+) dropped, (\d+) written/;
const statsOf = (re, stderr) => {
  const m = re.exec(stderr);
  return m && { hits: +m[1], misses: +m[2], dropped: +m[3], written: +m[4] };
};

/** `vfio-review patch` with the mail(s) on stdin, as b4 runs it; the findings cache's stats from stderr (json format only). */
function patch(tree, input, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, 'patch', '-', '--tree', tree, '--fail-on', 'never', ...args], { cwd: temp, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, VFIO_REVIEW_CACHE_STATS: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(input);
    // A hang guard only: 6.12 patches take seconds each.
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hung: patch ${args.join(' ')}`));
    }, 600_000);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr, findingsStats: statsOf(FINDINGS_STATS, stderr), programStats: statsOf(PROGRAM_STATS, stderr) });
    });
  });
}

/** The mails of a `git format-patch` mbox, one string each, the cover letter left out. */
function mailsOf(mbox) {
  return mbox.split(/^(?=From [0-9a-f]{40} )/m).filter((m) => m.trim() && !/^Subject: \[PATCH[^\]]* 0+\//m.test(m));
}

/**
 * Every mail as its own process (b4) in both formats, then the whole series, each without a
 * cache and twice with one folder (filled, then answering): the outputs must be equal.
 */
async function samePrintsWithCache(tree, mbox, cache, { formats = ['b4', 'json'] } = {}) {
  const mails = mailsOf(mbox);
  const hits = [];
  for (const format of formats) {
    for (const [i, mail] of mails.entries()) {
      const plain = await patch(tree, mail, ['--format', format, '--no-cache']);
      assert.equal(plain.code, 0, plain.stderr);
      for (const round of ['filling', 'warm']) {
        const cached = await patch(tree, mail, ['--format', format, '--cache', cache]);
        assert.equal(cached.stdout, plain.stdout, `patch ${i + 1}, ${format}, cache ${round}: ${cached.stderr}`);
        if (format === 'json' && round === 'warm') hits.push(cached.findingsStats.hits);
      }
    }
  }
  const plain = await patch(tree, mbox, ['--format', 'json', '--no-cache']);
  for (const round of ['filling', 'warm']) {
    const cached = await patch(tree, mbox, ['--format', 'json', '--cache', cache]);
    assert.equal(cached.stdout, plain.stdout, `series in one run, cache ${round}: ${cached.stderr}`);
  }
  return { plain: JSON.parse(plain.stdout), hits };
}

test('example series: per patch and in one run, the findings and lock caches print what no cache prints', async () => {
  const mbox = fs.readFileSync(exampleSeries, 'utf8');
  const { plain, hits } = await samePrintsWithCache(example, mbox, path.join(temp, 'example-cache'));
  assert.ok(plain.findings.some((f) => f.rule === 'lock-not-held'), 'the series removes a lock');
  // Each patch's "before" is the tree's own text: a second process reads its findings back.
  assert.ok(hits.every((h) => h >= 1), `findings cache hits per patch: ${hits}`);
});

test('the lock program entry: written once for the tree, read by the next process; damaged or foreign entries are dropped, never trusted', async () => {
  const tree = path.join(temp, 'devset');
  fs.cpSync(path.join(repo, 'test', 'fixtures', 'locks', 'devset'), tree, { recursive: true });
  const cache = path.join(temp, 'devset-cache');
  // A patch that removes the lock around the reset: its finding comes from the lock analysis.
  const file = 'drivers/vfio/pci/hot_reset_good.c';
  const text = fs.readFileSync(path.join(tree, file), 'utf8');
  const lockLine = text.split('\n').findIndex((l) => /mutex_lock\(/.test(l));
  assert.ok(lockLine > 0, 'the fixture takes a mutex');
  const lines = text.split('\n');
  const mail = [
    'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001',
    'From: Test <test@example.org>',
    'Subject: [PATCH] vfio/pci: drop the lock',
    '',
    '---',
    `diff --git a/${file} b/${file}`,
    `--- a/${file}`,
    `+++ b/${file}`,
    `@@ -${lockLine},3 +${lockLine},2 @@`,
    ` ${lines[lockLine - 1]}`,
    `-${lines[lockLine]}`,
    ` ${lines[lockLine + 1]}`,
    '',
  ].join('\n');
  const plain = await patch(tree, mail, ['--format', 'json', '--no-cache']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.ok(JSON.parse(plain.stdout).findings.some((f) => f.rule.startsWith('lock-')), plain.stdout);
  const first = await patch(tree, mail, ['--format', 'json', '--cache', cache]);
  assert.equal(first.stdout, plain.stdout);
  assert.deepEqual([first.programStats.hits, first.programStats.written], [0, 1], first.stderr);
  const entries = fs.readdirSync(path.join(cache, 'lock-program')).map((f) => path.join(cache, 'lock-program', f));
  assert.equal(entries.length, 1);
  const good = fs.readFileSync(entries[0]);
  const second = await patch(tree, mail, ['--format', 'json', '--cache', cache]);
  assert.equal(second.stdout, plain.stdout);
  assert.deepEqual([second.programStats.hits, second.programStats.written], [1, 0], second.stderr);
  // An entry is the sha1 of its payload, a newline, then the v8 serialisation.
  const newline = good.indexOf(10);
  const entry = v8.deserialize(good.subarray(newline + 1));
  const sealed = (value) => {
    const payload = v8.serialize(value);
    return Buffer.concat([Buffer.from(`${createHash('sha1').update(payload).digest('hex')}\n`), payload]);
  };
  const damage = [
    () => Buffer.from('not an entry'),
    () => good.subarray(0, good.length >> 1), // a torn write
    () => Buffer.concat([good.subarray(0, newline + 1), Buffer.from('x'), good.subarray(newline + 2)]), // one byte changed
    () => sealed({ ...entry, format: 'someone-else/1' }),
    () => sealed({ ...entry, stamp: 'an older build' }),
    () => sealed({ ...entry, slot: '/another/tree' }),
    () => sealed({ ...entry, hashes: new Map([...entry.hashes].slice(1)) }), // a file without its hash
    () => sealed({ ...entry, program: { ...entry.program, functions: entry.program.functions.slice(1) } }),
    () => sealed({ ...entry, result: { ...entry.result, summaries: Object.fromEntries(entry.result.summaries) } }),
    () => sealed({ ...entry, warm: null }),
  ];
  for (const [i, make] of damage.entries()) {
    fs.writeFileSync(entries[0], make());
    const run = await patch(tree, mail, ['--format', 'json', '--cache', cache]);
    assert.equal(run.stdout, plain.stdout, `damage ${i}`);
    assert.deepEqual([run.programStats.hits, run.programStats.dropped], [0, 1], `damage ${i}: ${run.stderr}`);
  }
});

test('6.12: the bench series per patch and in one run prints the same with the caches', { skip: !kernel && 'no 6.12 tree', timeout: 3_600_000 }, async () => {
  const { makeSeries } = await import(path.join(repo, 'bench', 'patch.mjs'));
  const work = path.join(temp, 'series-612');
  const { mbox } = makeSeries(kernel, work);
  const { plain, hits } = await samePrintsWithCache(kernel, fs.readFileSync(mbox, 'utf8'), path.join(temp, 'cache-612'), { formats: ['json'] });
  const rules = new Set(plain.findings.map((f) => f.rule));
  assert.ok(rules.has('lock-not-held') && [...rules].some((r) => r.startsWith('abi-')), `rules: ${[...rules]}`);
  // Comment-only patches check nothing; every other patch reads its "before" back.
  assert.ok(hits.filter((h) => h >= 1).length >= 5, `findings cache hits per patch: ${hits}`);
});
