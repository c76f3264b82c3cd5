// `check` parses each file of the lock index once: the tree parsed for the index's extraction
// (when the first kernel C file's lock rules run) is kept for that file's own check
// (awaitChecks / takeParsedTree). The findings must be those of checking each file on its own,
// in a process of its own, where nothing is kept: compared here on the example tree, the lock
// fixtures and, when this machine has it, a sample of 6.12's drivers/vfio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './support/cli-run.mjs';
import { kernel612 } from './support/kernel-612.mjs';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

const run = (args) => runCli(args, { timeoutMs: 300_000 });

const findingsOf = (r) => JSON.parse(r.stdout).findings;
const key = (f) => JSON.stringify(f);

/** One run over `files` against one process per file: the same findings. */
async function sameAsAlone(root, files) {
  const options = ['--root', root, '--jobs', '1', '--no-cache', '--fail-on', 'never', '--format', 'json'];
  const together = await run(['check', ...files, ...options]);
  assert.equal(together.code, 0, together.stderr);
  const alone = [];
  for (const file of files) {
    const r = await run(['check', file, ...options]);
    assert.equal(r.code, 0, r.stderr);
    alone.push(...findingsOf(r));
  }
  assert.deepEqual(findingsOf(together).map(key).sort(), alone.map(key).sort());
  return findingsOf(together).length;
}

const cFiles = (dir) => readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && /\.[ch]$/.test(e.name)).map((e) => path.join(e.parentPath ?? e.path, e.name)).sort();

for (const [name, root] of [
  ['example tree', path.join(repo, 'examples/linux')],
  ['lock fixture devset', path.join(repo, 'test/fixtures/locks/devset')],
  ['lock fixture unprotected', path.join(repo, 'test/fixtures/locks/unprotected')],
]) {
  test(`${name}: one run keeping the index's trees finds what each file finds alone`, async () => {
    const files = cFiles(root).filter((f) => !f.includes(`${path.sep}uapi${path.sep}`));
    assert.ok(files.length >= 2);
    assert.ok(await sameAsAlone(root, files) > 0, 'the tree has findings');
  });
}

const kernel = kernel612();

test('6.12: drivers/vfio/pci/*.c and vfio_main.c in one run as each alone', { skip: !kernel && 'no 6.12 tree', timeout: 1_200_000 }, async () => {
  const pci = readdirSync(path.join(kernel, 'drivers/vfio/pci')).filter((f) => /\.c$/.test(f)).map((f) => path.join(kernel, 'drivers/vfio/pci', f));
  const files = [path.join(kernel, 'drivers/vfio/vfio_main.c'), ...pci].sort();
  await sameAsAlone(kernel, files);
});
