// Lock contracts checked at call sites: lockdep_assert_held in a core helper, reached through an
// iterator and its callback, from an ioctl that does (or does not) take the dev_set lock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../dist/engine.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, 'fixtures/locks/devset');

const lockFindings = (findings) => findings.filter((f) => f.rule.startsWith('lock-') || f.rule === 'reset-without-devset-lock' || f.rule === 'dma-owner-violation');

test('lock-not-held: the ioctl calls the iterator with a callback that needs the dev_set lock, without it', async () => {
  const engine = await createEngine({ root: fixture });
  const findings = lockFindings(engine.check(path.join(fixture, 'drivers/vfio/pci/hot_reset_bad.c')));
  assert.equal(findings.length, 1, JSON.stringify(findings, null, 1));
  const [f] = findings;
  assert.equal(f.rule, 'lock-not-held');
  assert.equal(f.severity, 'error');
  // At the iterator call in the ioctl (line 47, 1-based).
  assert.equal(f.range.start.line, 46);
  assert.match(f.message, /vfio_pci_ioctl_get_pci_hot_reset_info -> vfio_pci_for_each_slot_or_bus -> vfio_pci_fill_devs -> vfio_find_device_in_devset -> lockdep_assert_held\(&dev_set->lock\) at drivers\/vfio\/vfio_main\.c:10/);
  assert.match(f.message, /struct vfio_device_set::lock/);
  // Related: the callback call in the iterator, the helper call in the callback, the assertion.
  assert.deepEqual(f.related.map((r) => [path.basename(r.file), r.range.start.line + 1]), [
    ['hot_reset_bad.c', 29], ['hot_reset_bad.c', 13], ['vfio_main.c', 10],
  ]);
  engine.dispose();
});

test('lock-not-held: the corrected twin (mutex_lock/unlock around the walk) reports nothing', async () => {
  const engine = await createEngine({ root: fixture });
  assert.deepEqual(lockFindings(engine.check(path.join(fixture, 'drivers/vfio/pci/hot_reset_good.c'))), []);
  assert.deepEqual(lockFindings(engine.check(path.join(fixture, 'drivers/vfio/vfio_main.c'))), []);
  engine.dispose();
});

test('lock-not-held: the root is found from the file when not configured', async () => {
  const engine = await createEngine({});
  const findings = lockFindings(engine.check(path.join(fixture, 'drivers/vfio/pci/hot_reset_bad.c')));
  assert.deepEqual(findings.map((f) => f.rule), ['lock-not-held']);
  engine.dispose();
});

/** A copy of the fixture's headers and core file, plus one driver file. */
function treeWith(driver) {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-locks-'));
  for (const rel of ['Kbuild', 'include', 'drivers/vfio/vfio_main.c', 'drivers/vfio/pci/hot_reset_common.h']) {
    cpSync(path.join(fixture, rel), path.join(root, rel), { recursive: true });
  }
  const file = path.join(root, 'drivers/vfio/pci/driver.c');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `#include "hot_reset_common.h"\n\nstruct vfio_device_set *vfio_get_dev_set(void *id);\n\n${driver}`);
  return { root, file };
}

/** Lines (1-based, within `driver`) of the lock-not-held findings. */
async function notHeldLines(driver) {
  const { root, file } = treeWith(driver);
  try {
    const engine = await createEngine({ root });
    const f = engine.check(file).filter((x) => x.rule === 'lock-not-held');
    engine.dispose();
    return f.map((x) => x.range.start.line + 1 - 4);
  } finally {
    rmSync(root, { recursive: true });
  }
}

const fn = (name, body) => `static int ${name}(void *id, struct device *dev, int x)\n{\n\tstruct vfio_device_set *dev_set = vfio_get_dev_set(id);\n\tint ret = 0;\n${body}\n\treturn ret;\n}\n`;
// The line (1-based in the snippet) of `find(...)` in a body built by fn(): header is 4 lines.
const find = '\tif (vfio_find_device_in_devset(dev_set, dev))\n\t\tret = 1;';

test('dataflow: plain lock, unlock before the call, and locks taken on one branch only', async () => {
  assert.deepEqual(await notHeldLines(fn('a', `\tmutex_lock(&dev_set->lock);\n${find}\n\tmutex_unlock(&dev_set->lock);`)), []);
  assert.deepEqual(await notHeldLines(fn('b', `\tmutex_lock(&dev_set->lock);\n\tmutex_unlock(&dev_set->lock);\n${find}`)), [7]);
  assert.deepEqual(await notHeldLines(fn('c', `\tif (x)\n\t\tmutex_lock(&dev_set->lock);\n${find}\n\tif (x)\n\t\tmutex_unlock(&dev_set->lock);`)), [7]);
  assert.deepEqual(await notHeldLines(fn('d', find)), [5]);
});

test('dataflow: trylock and interruptible locks are held only where they succeeded', async () => {
  assert.deepEqual(await notHeldLines(fn('a', `\tif (mutex_lock_interruptible(&dev_set->lock))\n\t\treturn -EINTR;\n${find}\n\tmutex_unlock(&dev_set->lock);`)), []);
  assert.deepEqual(await notHeldLines(fn('b', `\tret = mutex_lock_killable(&dev_set->lock);\n\tif (ret)\n\t\treturn ret;\n${find}\n\tmutex_unlock(&dev_set->lock);`)), []);
  assert.deepEqual(await notHeldLines(fn('c', `\tif (!mutex_trylock(&dev_set->lock))\n\t\treturn -EBUSY;\n${find}\n\tmutex_unlock(&dev_set->lock);`)), []);
  // The call is on the branch where the trylock failed.
  assert.deepEqual(await notHeldLines(fn('d', `\tif (!mutex_trylock(&dev_set->lock)) {\n${find}\n\t\treturn -EBUSY;\n\t}\n\tmutex_unlock(&dev_set->lock);`)), [6]);
  assert.deepEqual(await notHeldLines(fn('e', `\tif (mutex_lock_interruptible(&dev_set->lock)) {\n${find}\n\t}`)), [6]);
});

test('dataflow: goto error paths, loops with break/continue, switch fall-through', async () => {
  assert.deepEqual(await notHeldLines(fn('a', `\tmutex_lock(&dev_set->lock);\n\tif (x)\n\t\tgoto out;\n${find}\nout:\n\tmutex_unlock(&dev_set->lock);`)), []);
  // The unlock is before the label: the goto path reaches the call without the lock.
  assert.deepEqual(await notHeldLines(fn('b', `\tif (x)\n\t\tgoto again;\n\tmutex_lock(&dev_set->lock);\n\tmutex_unlock(&dev_set->lock);\nagain:\n${find}`)), [10]);
  assert.deepEqual(await notHeldLines(fn('c', `\twhile (x--) {\n\t\tmutex_lock(&dev_set->lock);\n\t\tif (x == 3) {\n\t\t\tmutex_unlock(&dev_set->lock);\n\t\t\tcontinue;\n\t\t}\n${find}\n\t\tmutex_unlock(&dev_set->lock);\n\t}`)), []);
  assert.deepEqual(await notHeldLines(fn('d', `\tfor (;;) {\n\t\tmutex_lock(&dev_set->lock);\n\t\tif (x)\n\t\t\tbreak;\n\t\tmutex_unlock(&dev_set->lock);\n\t}\n${find}\n\tmutex_unlock(&dev_set->lock);`)), []);
  assert.deepEqual(await notHeldLines(fn('e', `\tswitch (x) {\n\tcase 1:\n\t\tmutex_lock(&dev_set->lock);\n\t\tfallthrough;\n\tcase 2:\n${find}\n\t\tbreak;\n\t}`)), [10]);
  assert.deepEqual(await notHeldLines(fn('f', `\tmutex_lock(&dev_set->lock);\n\tswitch (x) {\n\tcase 1:\n\t\tret = 2;\n\t\tbreak;\n\tdefault:\n\t\tbreak;\n\t}\n${find}\n\tmutex_unlock(&dev_set->lock);`)), []);
});

test('dataflow: guard() holds to the end of its block, scoped_guard inside its block', async () => {
  assert.deepEqual(await notHeldLines(fn('a', `\tguard(mutex)(&dev_set->lock);\n${find}`)), []);
  assert.deepEqual(await notHeldLines(fn('b', `\tif (x) {\n\t\tguard(mutex)(&dev_set->lock);\n\t\tret = 2;\n\t}\n${find}`)), [9]);
  assert.deepEqual(await notHeldLines(fn('c', `\tscoped_guard(mutex, &dev_set->lock) {\n${find}\n\t}`)), []);
  assert.deepEqual(await notHeldLines(fn('d', `\tscoped_guard(mutex, &dev_set->lock) {\n\t\tret = 3;\n\t}\n${find}`)), [8]);
});

test('contracts: aliases, __must_hold, and requirements inherited through parameters', async () => {
  const helper = `static int helper(struct vfio_device_set *set, struct device *dev)\n{\n\treturn !!vfio_find_device_in_devset(set, dev);\n}\n`;
  const annotated = `static int annotated(struct vfio_device_set *set, struct device *dev)\n\t__must_hold(&set->lock)\n{\n\treturn 0;\n}\n`;
  const body = (name, inner) => `static int ${name}(void *id, struct device *dev)\n{\n\tstruct vfio_device_set *dev_set = vfio_get_dev_set(id);\n\tstruct vfio_device_set *same = dev_set;\n\tint ret;\n${inner}\n\treturn ret;\n}\n`;
  // helper inherits the requirement; callers are checked. Lines count from the snippet start.
  const lines = await notHeldLines(helper + annotated +
    body('takes_alias', '\tmutex_lock(&same->lock);\n\tret = helper(dev_set, dev);\n\tmutex_unlock(&dev_set->lock);') +
    body('forgets', '\tret = helper(dev_set, dev);') +
    body('forgets_annotated', '\tret = annotated(same, dev);'));
  // helper (4 lines) and annotated (5) come first; takes_alias is 10 lines, forgets 8; the call
  // is the 6th line of each body.
  assert.deepEqual(lines, [9 + 10 + 6, 9 + 10 + 8 + 6]);
});

test('functions whose body does not parse get no lock findings', async () => {
  assert.deepEqual(await notHeldLines(fn('a', `\tint = = 3;\n${find}`)), []);
});

// Each rule's fixture reports it (at the given 1-based line) and its corrected twin reports nothing.
const PAIRS = [
  ['lock-double-acquire', 'double_acquire', 12, 1],
  ['lock-release-not-held', 'release_twice', 19, 1],
  ['lock-held-at-return', 'held_at_return', 11, 1],
  ['reset-without-devset-lock', 'reset', 11, 0],
  // At `.driver_managed_dma = true`; related: the helper call in probe, pci_set_master in the helper.
  ['dma-owner-violation', 'dma_stub', 26, 2],
];

for (const [rule, name, line, related] of PAIRS) {
  test(`${rule}: ${name}_bad.c reports it, ${name}_good.c does not`, async () => {
    const engine = await createEngine({ root: fixture });
    const bad = lockFindings(engine.check(path.join(fixture, `drivers/vfio/pci/${name}_bad.c`)));
    assert.deepEqual(bad.map((f) => [f.rule, f.range.start.line + 1]), [[rule, line]], JSON.stringify(bad, null, 1));
    assert.equal(bad[0].related?.length ?? 0, related);
    assert.deepEqual(lockFindings(engine.check(path.join(fixture, `drivers/vfio/pci/${name}_good.c`))), []);
    engine.dispose();
  });
}

test('dma-owner-violation names the callback chain down to the forbidden call', async () => {
  const engine = await createEngine({ root: fixture });
  const [f] = engine.check(path.join(fixture, 'drivers/vfio/pci/dma_stub_bad.c')).filter((x) => x.rule === 'dma-owner-violation');
  assert.match(f.message, /fx_stub_driver .* \.probe callback reaches pci_set_master\(\): fx_stub_probe -> fx_stub_enable -> pci_set_master at drivers\/vfio\/pci\/dma_stub_bad\.c:10/);
  engine.dispose();
});

test('locksHeldAt: the locks held at a position, for hovers', async () => {
  const { Analyser, lockAnalysisOf, locksHeldAt } = await import('../dist/engine.js');
  await createEngine({});
  const { store } = new Analyser({ root: fixture });
  const file = path.join(fixture, 'drivers/vfio/pci/hot_reset_good.c');
  const { result } = lockAnalysisOf({ store, root: fixture, file });
  // Inside the locked walk (line 48) and after the unlock (line 53), 1-based.
  assert.deepEqual(locksHeldAt(result, file, { line: 47, character: 10 }).map((h) => h.path.display), ['vdev->vdev.dev_set->lock']);
  assert.deepEqual(locksHeldAt(result, file, { line: 53, character: 10 }).map((h) => h.path.display), []);
});

test('callbacks through pci_walk_bus: a wrapper calling the callback stored in a struct field, and a direct callback', async () => {
  const engine = await createEngine({ root: fixture });
  const bad = lockFindings(engine.check(path.join(fixture, 'drivers/vfio/pci/walk_wrapper_bad.c')));
  assert.deepEqual(bad.map((f) => [f.rule, f.range.start.line + 1]), [['lock-not-held', 54], ['lock-not-held', 74]], JSON.stringify(bad, null, 1));
  // At the iterator call: the callback stored in walk.fn and called by the wrapper, through pci_walk_bus (line 44).
  assert.match(bad[0].message, /^`fill\.vdev->dev_set->lock` is not held here, but the call requires it: fx_wrap_hot_reset_info -> fx_wrap_for_each -> fx_wrap_fill -> vfio_find_device_in_devset -> lockdep_assert_held/);
  assert.deepEqual(bad[0].related.map((r) => [path.basename(r.file), r.range.start.line + 1]), [['walk_wrapper_bad.c', 44], ['walk_wrapper_bad.c', 21], ['vfio_main.c', 10]]);
  // At pci_walk_bus itself, for a callback handed to it directly.
  assert.match(bad[1].message, /^`dev_set->lock` is not held here, but the call requires it: fx_wrap_all_in_set -> pci_walk_bus -> fx_wrap_in_set -> vfio_find_device_in_devset/);
  assert.deepEqual(lockFindings(engine.check(path.join(fixture, 'drivers/vfio/pci/walk_wrapper_good.c'))), []);
  engine.dispose();
});

test('callbacks: a static callback of the caller\'s file, handed to a walker defined in another file of the index', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-locks-'));
  try {
    cpSync(path.join(fixture, 'Kbuild'), path.join(root, 'Kbuild'));
    cpSync(path.join(fixture, 'include'), path.join(root, 'include'), { recursive: true });
    cpSync(path.join(fixture, 'drivers/vfio/vfio_main.c'), path.join(root, 'drivers/vfio/vfio_main.c'));
    cpSync(path.join(fixture, 'drivers/vfio/pci/hot_reset_common.h'), path.join(root, 'drivers/vfio/pci/hot_reset_common.h'));
    // The walker calls its function parameter directly; the callback is static in driver.c.
    writeFileSync(path.join(root, 'drivers/vfio/pci/walk.c'), [
      '#include "hot_reset_common.h"',
      'int walk_slot(struct pci_dev *pdev, int (*fn)(struct pci_dev *, void *), void *data)',
      '{',
      '\treturn fn(pdev, data);',
      '}',
      '',
    ].join('\n'));
    const driver = (locked) => [
      '#include "hot_reset_common.h"',
      'int walk_slot(struct pci_dev *pdev, int (*fn)(struct pci_dev *, void *), void *data);',
      'struct fill { struct vfio_device *vdev; };',
      'static int fill_one(struct pci_dev *pdev, void *data)',
      '{',
      '\tstruct fill *f = data;',
      '\tvfio_find_device_in_devset(f->vdev->dev_set, &pdev->dev);',
      '\treturn 0;',
      '}',
      'static int get_info(struct vfio_device *vdev, struct pci_dev *pdev)',
      '{',
      '\tstruct fill f = { .vdev = vdev };',
      '\tint ret;',
      '',
      locked ? '\tmutex_lock(&vdev->dev_set->lock);' : '',
      '\tret = walk_slot(pdev, fill_one, &f);',
      locked ? '\tmutex_unlock(&vdev->dev_set->lock);' : '',
      '\treturn ret;',
      '}',
      '',
    ].join('\n');
    const file = path.join(root, 'drivers/vfio/pci/driver.c');
    writeFileSync(file, driver(false));
    const engine = await createEngine({ root });
    const found = lockFindings(engine.check(file));
    assert.deepEqual(found.map((f) => [f.rule, f.range.start.line + 1]), [['lock-not-held', 16]]);
    assert.match(found[0].message, /get_info -> walk_slot -> fill_one -> vfio_find_device_in_devset/);
    engine.dispose();
    writeFileSync(file, driver(true));
    const engine2 = await createEngine({ root });
    assert.deepEqual(lockFindings(engine2.check(file)), []);
    engine2.dispose();
  } finally {
    rmSync(root, { recursive: true });
  }
});
