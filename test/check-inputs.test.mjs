// The files `vfio-review check` is given (server/src/files.ts, collectInputs): each file once
// whatever path reaches it. Plain entries of a walked folder take their real path from the
// folder's (no realpath per file); links are still resolved, so a tree given twice, a link to a
// folder inside the tree, a link to a file of the tree and a link cycle give each file once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { buildTestBundle } from './support/engine-bundle.mjs';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

test('each file once: a tree given twice, through a link, with a linked inner folder, a linked file and a link cycle', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-inputs-'));
  try {
    const { collectInputs } = createRequire(import.meta.url)(await buildTestBundle(path.join(repo, 'server/src/files.ts'), dir, 'files.cjs'));
    const tree = path.join(dir, 'tree');
    fs.mkdirSync(path.join(tree, 'a', 'b'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'a', 'one.c'), 'int one;\n');
    fs.writeFileSync(path.join(tree, 'a', 'b', 'two.h'), 'int two;\n');
    fs.writeFileSync(path.join(tree, 'notes.txt'), 'not C\n');
    // A link to an inner folder (its files are already in the tree), and a cycle back to the root.
    fs.symlinkSync(path.join(tree, 'a', 'b'), path.join(tree, 'also-b'));
    fs.symlinkSync(tree, path.join(tree, 'a', 'b', 'loop'));
    // A link to a file of the tree: the same file.
    fs.symlinkSync(path.join(tree, 'a', 'one.c'), path.join(tree, 'z-link.c'));
    // The whole tree again under another name.
    fs.symlinkSync(tree, path.join(dir, 'same-tree'));

    const got = collectInputs([tree, path.join(dir, 'same-tree'), path.join(tree, 'a', 'one.c')]);
    assert.deepEqual(got.skipped, []);
    // In walk order (entries sorted by name); the link names come after the real ones they repeat.
    assert.deepEqual(got.files.map((f) => path.relative(dir, f)), ['tree/a/b/two.h', 'tree/a/one.c']);

    // Through the link first: the same files, named as given (the linked file is one.c, whose real
    // path is known from the real path of the folder walked).
    const viaLink = collectInputs([path.join(dir, 'same-tree'), tree]);
    assert.deepEqual(viaLink.files.map((f) => path.relative(dir, f)), ['same-tree/a/b/two.h', 'same-tree/a/one.c']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
