// The lock index's file list is kept between checks while the folders it read keep their
// modification times. One engine, one tree: files added to the index (in a listed folder, in a
// new sub-folder), renamed out of it and removed must change what the next check sees, exactly as
// a fresh process sees it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../dist/engine.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, 'fixtures/locks/index');

/** Every folder of the tree dated an hour back, as in a checked-out tree (a fresh folder is never kept). */
function ageFolders(dir) {
  const old = new Date(Date.now() - 3600_000);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) ageFolders(path.join(dir, e.name));
  fs.utimesSync(dir, old, old);
}

// lockAnalysisOf answers the same file unchanged for a second without looking at the index.
const pastRecentAnswer = () => new Promise((resolve) => setTimeout(resolve, 1100));

async function contracts(engine, user) {
  return engine.check(user).filter((f) => f.rule === 'lock-not-held').map((f) => `${f.range.start.line + 1}:${/-> (\w+) -> lockdep/.exec(f.message)?.[1]}`);
}

async function fresh(tree, user) {
  const engine = await createEngine({ root: tree });
  try {
    return await contracts(engine, user);
  } finally {
    engine.dispose();
  }
}

test('the index listing follows files added, moved and removed between checks of one engine', async () => {
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-listing-'));
  try {
    fs.cpSync(fixture, tree, { recursive: true });
    ageFolders(tree);
    const user = path.join(tree, 'drivers/vfio/pci/fx_user.c');
    const library = fs.readFileSync(path.join(tree, 'drivers/misc/fxcore/core.c'), 'utf8');
    const engine = await createEngine({ root: tree });
    try {
      const steps = [
        ['as checked out', () => {}, ['19:fxcore_member_count']],
        ['library copied into drivers/vfio', () => fs.writeFileSync(path.join(tree, 'drivers/vfio/fxcore.c'), library), ['12:fxcore_find', '19:fxcore_member_count']],
        ['renamed to a name the index does not take', () => fs.renameSync(path.join(tree, 'drivers/vfio/fxcore.c'), path.join(tree, 'drivers/vfio/fxcore.txt')), ['19:fxcore_member_count']],
        ['a new sub-folder with the library', () => {
          fs.mkdirSync(path.join(tree, 'drivers/vfio/lib'));
          fs.writeFileSync(path.join(tree, 'drivers/vfio/lib/fxcore.c'), library);
        }, ['12:fxcore_find', '19:fxcore_member_count']],
        ['the sub-folder removed', () => fs.rmSync(path.join(tree, 'drivers/vfio/lib'), { recursive: true }), ['19:fxcore_member_count']],
        ['the iommufd contract removed', () => fs.rmSync(path.join(tree, 'drivers/iommu/iommufd/fx_dev.c')), []],
      ];
      for (const [what, change, expected] of steps) {
        change();
        // Dated back again: the listing of this step is kept, and the next change must show.
        ageFolders(tree);
        await pastRecentAnswer();
        assert.deepEqual(await contracts(engine, user), expected, what);
        assert.deepEqual(await fresh(tree, user), expected, `${what} (fresh engine)`);
      }
    } finally {
      engine.dispose();
    }
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
  }
});
