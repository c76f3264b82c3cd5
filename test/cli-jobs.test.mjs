// `check --jobs N`: the files are checked by N worker threads (dist/check-worker.js), and the
// output is the same, byte for byte and in every format, whatever N is. A worker thread that dies
// fails the file it had, like any engine failure, and the run still ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './support/cli-run.mjs';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const trees = {
  example: path.join(repo, 'examples', 'linux'),
  fixture: path.join(repo, 'test', 'fixtures', 'jobs', 'linux'),
};
const FORMATS = ['text', 'json', 'sarif', 'github'];

const run = runCli;

for (const [name, tree] of Object.entries(trees)) {
  test(`check ${name} tree: --jobs 1, 2 and 3 print the same bytes in every format`, async () => {
    for (const format of FORMATS) {
      const outputs = [];
      for (const jobs of [1, 2, 3]) {
        const r = await run(['check', tree, '--root', tree, '--format', format, '--jobs', String(jobs), '--no-cache', '--fail-on', 'warning']);
        assert.equal(r.code, 1, `${format} --jobs ${jobs}: ${r.stderr}`);
        assert.equal(r.stderr, '', `${format} --jobs ${jobs}`);
        outputs.push(r.stdout);
      }
      assert.ok(outputs[0].length > 0);
      assert.equal(outputs[1], outputs[0], `${format}: --jobs 2 differs from --jobs 1`);
      assert.equal(outputs[2], outputs[0], `${format}: --jobs 3 differs from --jobs 1`);
    }
  });
}

test('check --jobs 2 on the fixture tree finds what each file holds: uapi layouts, locks in and outside the index', async () => {
  const tree = trees.fixture;
  const r = await run(['check', tree, '--root', tree, '--format', 'json', '--jobs', '2', '--no-cache', '--fail-on', 'never']);
  assert.equal(r.code, 0, r.stderr);
  const found = JSON.parse(r.stdout).findings.map((f) => `${f.file}:${f.line}:${f.rule}`);
  for (const expected of [
    'test/fixtures/jobs/linux/include/uapi/linux/vfio_jobs.h:19:uapi-arch-dependent-layout',
    'test/fixtures/jobs/linux/include/uapi/linux/vfio_jobs.h:33:uapi-implicit-padding',
    'test/fixtures/jobs/linux/include/uapi/linux/vfio_jobs.h:42:uapi-non-fixed-type',
    'test/fixtures/jobs/linux/drivers/vfio/jobs_user.c:16:lock-held-at-return',
    'test/fixtures/jobs/linux/drivers/vfio/jobs_user.c:26:lock-double-acquire',
  ]) assert.ok(found.includes(expected), `${expected} missing from\n${found.join('\n')}`);
  // Sorted by file, then position: the merge of the workers' answers.
  const keys = JSON.parse(r.stdout).findings.map((f) => [f.file, f.line, f.column]);
  const sorted = [...keys].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1] || a[2] - b[2]));
  assert.deepEqual(keys, sorted);
});

test('check --jobs rejects what is not a whole number of at least 1 (exit 2)', async () => {
  for (const bad of ['0', '-1', 'two', '1.5', '']) {
    const r = await run(['check', trees.fixture, '--root', trees.fixture, '--jobs', bad, '--no-cache']);
    assert.equal(r.code, 2, `--jobs '${bad}'`);
    assert.match(r.stderr, /--jobs .*whole number of at least 1|--jobs/);
    assert.equal(r.stdout, '');
  }
});

test('a worker thread that dies fails its file (exit 2, named on stderr); the other files are still reported, and the run ends', async () => {
  // A copy of the CLI whose worker bundle is the real one behind a wrapper that ends the thread
  // when it is given one particular file.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-jobs-'));
  try {
    for (const f of ['cli.js', 'web-tree-sitter.wasm', 'tree-sitter-c.wasm']) fs.copyFileSync(path.join(repo, 'dist', f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, 'check-worker.js'), `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => { if (m.kind === 'check' && m.file.endsWith('jobs_core.c')) process.exit(7); });
require(${JSON.stringify(path.join(repo, 'dist', 'check-worker.js'))});
`);
    const tree = trees.fixture;
    const r = await run(['check', tree, '--root', tree, '--format', 'json', '--jobs', '2', '--no-cache', '--fail-on', 'never'], { cli: path.join(dir, 'cli.js') });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /internal error while checking test\/fixtures\/jobs\/linux\/drivers\/vfio\/jobs_core\.c: the worker thread stopped \(exit code 7\)/);
    // Only that file: the others a dead worker had been sent are checked by its replacement.
    assert.deepEqual(r.stderr.match(/internal error while checking \S+/g), ['internal error while checking test/fixtures/jobs/linux/drivers/vfio/jobs_core.c:']);
    const files = new Set(JSON.parse(r.stdout).findings.map((f) => f.file));
    assert.ok(files.has('test/fixtures/jobs/linux/drivers/vfio/jobs_user.c'), [...files].join(', '));
    assert.ok(files.has('test/fixtures/jobs/linux/include/uapi/linux/vfio_jobs.h'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
