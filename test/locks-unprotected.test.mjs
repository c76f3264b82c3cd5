// lock-unprotected-access: a field that every other access of the index makes under its struct's
// lock, read or iterated once without it, on a path from an entry point that holds nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../dist/engine.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, 'fixtures/locks/unprotected');
const badFile = path.join(fixture, 'drivers/vfio/pci/devset_walk_bad.c');
const goodFile = path.join(fixture, 'drivers/vfio/pci/devset_walk_good.c');

const lockFindings = (findings) => findings.filter((f) => f.rule.startsWith('lock-') || f.rule === 'reset-without-devset-lock' || f.rule === 'dma-owner-violation');

test('lock-unprotected-access: the ioctl walks dev_set->device_list without the lock every other access holds', async () => {
  const engine = await createEngine({ root: fixture });
  const findings = lockFindings(engine.check(badFile));
  assert.deepEqual(findings.map((f) => [f.rule, f.severity, f.range.start.line + 1]), [['lock-unprotected-access', 'warning', 15]], JSON.stringify(findings, null, 1));
  const [f] = findings;
  // The list head inside list_for_each_entry(cur, &dev_set->device_list, ...).
  assert.equal(f.range.start.character, 27);
  assert.match(f.message, /^`dev_set->device_list` is iterated without `dev_set->lock`: 5 of 6 accesses hold dev_set->lock \(struct vfio_device_set::device_list under struct vfio_device_set::lock/);
  assert.match(f.message, /vfio_device_fops_unl_ioctl -> fx_walk_ioctl \(through device->ops->ioctl\) -> fx_walk_count_open\.$/);
  // Two protected accesses in other functions (one taken, one asserted), then the entry point.
  assert.deepEqual(f.related.map((r) => [path.basename(r.file), r.range.start.line + 1]), [
    ['devset_walk_good.c', 15], ['vfio_main.c', 34], ['vfio_main.c', 75],
  ]);
  assert.match(f.related[0].message, /fx_locked_count_open .*`dev_set->lock` taken at line 14/);
  assert.match(f.related[1].message, /vfio_device_set_open_count .*lockdep_assert_held/);
  assert.match(f.related[2].message, /entry point vfio_device_fops_unl_ioctl: \.unlocked_ioctl of struct file_operations/);
  engine.dispose();
});

test('lock-unprotected-access: the corrected twin and the core report nothing', async () => {
  const engine = await createEngine({ root: fixture });
  assert.deepEqual(lockFindings(engine.check(goodFile)), []);
  assert.deepEqual(lockFindings(engine.check(path.join(fixture, 'drivers/vfio/vfio_main.c'))), []);
  engine.dispose();
});

/** The fixture's core (headers, vfio_main.c) plus one driver file, in a temporary tree. */
async function unprotectedIn(driver, extra = {}) {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-unprotected-'));
  try {
    for (const rel of ['Kbuild', 'include', 'drivers/vfio/vfio_main.c']) cpSync(path.join(fixture, rel), path.join(root, rel), { recursive: true });
    const file = path.join(root, 'drivers/vfio/pci/driver.c');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, driver);
    for (const [rel, text] of Object.entries(extra)) writeFileSync(path.join(root, rel), text);
    const engine = await createEngine({ root });
    const all = [file, 'drivers/vfio/vfio_main.c', ...Object.keys(extra)].flatMap((f) => engine.check(path.resolve(root, f)));
    engine.dispose();
    return all.filter((f) => f.rule === 'lock-unprotected-access').map((f) => `${path.basename(f.file)}:${f.range.start.line + 1}:${/(\d+ of \d+)/.exec(f.message)?.[1]}`);
  } finally {
    rmSync(root, { recursive: true });
  }
}

const bad = readFileSync(badFile, 'utf8');

test('lock-unprotected-access: three protected accesses are enough, two are not', async () => {
  // Alone with the core: open_count (asserted), set_empty (taken), open_device (its callers hold it).
  assert.deepEqual(await unprotectedIn(bad), ['driver.c:15:3 of 4']);
  // Without open_device: two protected accesses only.
  const noOpen = bad.replace(/static int fx_walk_open_device[\s\S]*?\n}\n/, '').replace(/\t\.open_device\t= fx_walk_open_device,\n/, '');
  assert.deepEqual(await unprotectedIn(noOpen), []);
});

test('lock-unprotected-access: the only unprotected access, or nothing', async () => {
  // A second read without the lock (in the ioctl itself): 3 of 5, not reported.
  const twice = bad.replace('\treturn fx_walk_count_open(vdev);', '\tif (list_empty(&vdev->dev_set->device_list))\n\t\treturn 0;\n\treturn fx_walk_count_open(vdev);');
  assert.deepEqual(await unprotectedIn(twice), []);
  // The same second access inside WARN_ON is a sanity check: not counted.
  const warned = bad.replace('\treturn fx_walk_count_open(vdev);', '\tWARN_ON(list_empty(&vdev->dev_set->device_list));\n\treturn fx_walk_count_open(vdev);');
  assert.deepEqual(await unprotectedIn(warned), ['driver.c:15:3 of 4']);
});

test('lock-unprotected-access: writes, and functions nobody is seen to call, are not reported', async () => {
  // The unprotected access is a write (the list head is re-initialised): counted, not reported.
  const write = bad.replace('\tlist_for_each_entry(cur, &dev_set->device_list, dev_set_list)\n\t\tif (cur->open_count)\n\t\t\tn++;', '\tdev_set->device_list.next = NULL;');
  assert.deepEqual(await unprotectedIn(write), []);
  // The ioctl is not in the ops table: no path from an entry point shows the walk without the lock.
  const unreached = bad.replace('\t.ioctl\t\t= fx_walk_ioctl,\n', '');
  assert.deepEqual(await unprotectedIn(unreached), []);
  // Handed to a function outside the index (which may call it with anything held): nothing.
  const handedOut = bad.replace('\t.ioctl\t\t= fx_walk_ioctl,\n', '').replace(/\nstatic const struct vfio_device_ops/, '\nvoid fx_walk_register(void)\n{\n\tsome_registry_add(fx_walk_ioctl);\n}\n\nstatic const struct vfio_device_ops');
  assert.deepEqual(await unprotectedIn(handedOut), []);
});

test('lock-unprotected-access: an ops table naming a static inline of a header the file includes is an entry point', async () => {
  // The walk and the ioctl move to a driver-local header as static inlines; the table in driver.c
  // names the ioctl.
  const moved = /static unsigned int fx_walk_count_open[\s\S]*?\n}\n/.exec(bad)[0];
  const ioctl = /static long fx_walk_ioctl[\s\S]*?\n}\n/.exec(bad)[0];
  const header = `/* SPDX-License-Identifier: GPL-2.0-only */\n#ifndef FX_WALK_H\n#define FX_WALK_H\n${moved.replace('static unsigned', 'static inline unsigned')}\n${ioctl.replace('static long', 'static inline long')}#endif\n`;
  const driver = bad.replace(moved, '').replace(ioctl, '').replace('#include <linux/vfio.h>\n', '#include <linux/vfio.h>\n#include "fx_walk.h"\n');
  const found = await unprotectedIn(driver, { 'drivers/vfio/pci/fx_walk.h': header });
  assert.deepEqual(found, ['fx_walk.h:10:3 of 4']);
});

test('lock-unprotected-access: objects being created or torn down are not shared', async () => {
  // The walk happens on a set the function frees: teardown, nothing else can reach it.
  const teardown = bad.replace('\treturn n;\n}', '\tkfree(dev_set);\n\treturn n;\n}');
  assert.deepEqual(await unprotectedIn(teardown), []);
  // A helper that asserts the lock moves the obligation to its callers (lock-not-held's business).
  const asserted = bad.replace('\tunsigned int n = 0;\n\n\tlist_for_each_entry', '\tunsigned int n = 0;\n\n\tlockdep_assert_held(&dev_set->lock);\n\tlist_for_each_entry');
  assert.deepEqual(await unprotectedIn(asserted), []);
});
