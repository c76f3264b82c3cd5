// `check --jobs N` hands each worker thread a contiguous part of the tree in path order, so that
// the headers its files share are preprocessed and modelled in one thread; a worker whose part
// is done takes the back half of the largest part left. Every file is checked exactly once,
// and the output is the bytes of --jobs 1 whatever the split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './support/cli-run.mjs';
import { kernel612 } from './support/kernel-612.mjs';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const kernel = kernel612();

/**
 * A copy of the CLI whose worker bundle is the real one behind a wrapper that logs each file it
 * is given (thread id and path, one line each) to `log`.
 */
function loggingCli(dir, log) {
  for (const f of ['cli.js', 'web-tree-sitter.wasm', 'tree-sitter-c.wasm']) fs.copyFileSync(path.join(repo, 'dist', f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'check-worker.js'), `
const { parentPort, threadId } = require('node:worker_threads');
const fs = require('node:fs');
parentPort.on('message', (m) => { if (m.kind === 'check') fs.appendFileSync(${JSON.stringify(log)}, threadId + ' ' + m.file + '\\n'); });
require(${JSON.stringify(path.join(repo, 'dist', 'check-worker.js'))});
`);
  return path.join(dir, 'cli.js');
}

/** The files each worker was given, in the order it got them. */
function filesByWorker(log) {
  const byWorker = new Map();
  for (const line of fs.readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
    const [id, file] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
    byWorker.set(id, [...(byWorker.get(id) ?? []), file]);
  }
  return [...byWorker.values()];
}

/** How many ascending runs `files` is made of (1 when it is in path order). */
const ascendingRuns = (files) => 1 + files.filter((file, i) => i > 0 && file < files[i - 1]).length;

const trees = [
  ['the example tree', path.join(repo, 'examples', 'linux'), ['.']],
  ...(kernel ? [['6.12 drivers/vfio and include/uapi/linux/vfio*.h', kernel, ['drivers/vfio', 'include/uapi/linux/vfio.h', 'include/uapi/linux/vfio_zdev.h']]] : []),
];

for (const [name, root, paths] of trees) {
  test(`check --jobs 2 and 3 on ${name}: each file once, each worker's files in path order but for what it took over; the output of --jobs 1`, { timeout: 600_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-jobs-queue-'));
    try {
      const args = ['check', ...paths, '--root', root, '--format', 'json', '--no-cache', '--fail-on', 'never'];
      const one = await runCli([...args, '--jobs', '1'], { cwd: root, timeoutMs: 600_000 });
      assert.equal(one.code, 0, one.stderr);
      const checked = JSON.parse(one.stdout);
      assert.ok(checked.findings.length > 0);
      for (const jobs of [2, 3]) {
        const log = path.join(dir, `files-${jobs}.log`);
        const r = await runCli([...args, '--jobs', String(jobs)], { cli: loggingCli(dir, log), cwd: root, timeoutMs: 600_000 });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, one.stdout, `--jobs ${jobs} differs from --jobs 1`);
        const workers = filesByWorker(log);
        const all = workers.flat();
        assert.equal(new Set(all).size, all.length, `--jobs ${jobs}: a file was checked twice`);
        assert.ok(workers.length >= 2 && workers.length <= jobs, `--jobs ${jobs}: ${workers.length} workers`);
        // Every worker starts at the beginning of its own part, and only a take-over starts a new run.
        const steals = workers.reduce((sum, files) => sum + ascendingRuns(files) - 1, 0);
        assert.ok(steals <= jobs * Math.ceil(Math.log2(all.length + 1)), `--jobs ${jobs}: ${steals} take-overs for ${all.length} files`);
        const firsts = workers.map((files) => files[0]).sort();
        assert.equal(firsts[0], [...all].sort()[0], 'the first file in path order starts a part');
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
