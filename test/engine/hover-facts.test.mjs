// Hovers that join the layout with the lock and flag facts of the same place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../../dist/engine.js';

const repo = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
const ROOT = path.join(repo, 'test/fixtures/locks/devset');
const GOOD = path.join(ROOT, 'drivers/vfio/pci/hot_reset_good.c');

const positionOf = (text, needle, from = 0) => {
  const lines = text.split('\n');
  const line = lines.findIndex((l, i) => i >= from && l.includes(needle));
  return { line, character: lines[line].indexOf(needle) + 1 };
};

test('hover on a call shows the callee lock contract, and in a body the locks held there', async () => {
  const engine = await createEngine({ root: ROOT, arches: ['x86_64'] });
  const text = readFileSync(GOOD, 'utf8');
  const onCall = engine.hover(GOOD, positionOf(text, 'vfio_find_device_in_devset('));
  assert.match(onCall.contents, /requires `dev_set->lock`: lockdep_assert_held\(&dev_set->lock\) in vfio_find_device_in_devset at drivers\/vfio\/vfio_main\.c:\d+/);
  const lockLine = positionOf(text, 'mutex_lock(&vdev->vdev.dev_set->lock)').line;
  const afterLock = engine.hover(GOOD, positionOf(text, 'good_for_each_slot_or_bus(', lockLine));
  assert.match(afterLock.contents, /held here: `vdev->vdev\.dev_set->lock` \(mutex_lock, taken at line \d+\)/);
  engine.dispose();
});

test('hover on a flag #define shows its value and the field it belongs to', async () => {
  const root = path.join(repo, 'test/fixtures/flags/linux');
  const file = path.join(root, 'include/uapi/linux/fx_overlap_fixed.h');
  const engine = await createEngine({ root, arches: ['x86_64'] });
  const text = readFileSync(file, 'utf8');
  const h = engine.hover(file, positionOf(text, 'FX_OPEN_FLAG_WRITE'));
  assert.match(h.contents, /\*\*FX_OPEN_FLAG_WRITE\*\* = `0x2` \(bit 1\)/);
  assert.match(h.contents, /Flag of `struct fx_open\.flags`/);
  engine.dispose();
});
