// The lock index is configurable (EngineOptions.lockIndex: globs relative to the root, matched
// with picomatch). Default: drivers/vfio/**, drivers/iommu/iommufd/**, include/linux/vfio*.h.
// The fixture's driver breaks two contracts: one under drivers/iommu/iommufd (in the default
// index), one under drivers/misc (seen only when the index is configured to include it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../dist/engine.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, 'fixtures/locks/index');
const user = path.join(root, 'drivers/vfio/pci/fx_user.c');

async function notHeld(lockIndex) {
  const engine = await createEngine(lockIndex ? { root, lockIndex } : { root });
  const findings = engine.check(user).filter((f) => f.rule.startsWith('lock-'));
  engine.dispose();
  assert.ok(findings.every((f) => f.rule === 'lock-not-held'), JSON.stringify(findings));
  return findings.map((f) => `${f.range.start.line + 1}:${/-> (\w+) -> lockdep/.exec(f.message)?.[1]}`);
}

test('default index: the iommufd contract is checked, the drivers/misc one is not seen', async () => {
  assert.deepEqual(await notHeld(), ['19:fxcore_member_count']);
});

test('configured index: globs outside the default add their contracts', async () => {
  assert.deepEqual(await notHeld(['drivers/vfio/**', 'drivers/iommu/iommufd/**', 'drivers/misc/fxcore/*.c', 'include/linux/fxcore.h']), [
    '12:fxcore_find', '19:fxcore_member_count',
  ]);
  // A plain file path works as well as a glob; the struct's header gives the lock its class.
  const engine = await createEngine({ root, lockIndex: ['drivers/misc/fxcore/core.c', 'include/linux/fxcore.h'] });
  const [f, ...rest] = engine.check(user).filter((x) => x.rule === 'lock-not-held');
  engine.dispose();
  assert.equal(rest.length, 0);
  assert.match(f.message, /fx_user_is_member -> fxcore_find -> lockdep_assert_held\(&set->lock\) at drivers\/misc\/fxcore\/core\.c:9 \(lock class struct fxcore_set::lock\)/);
});

test('configured index replaces the default: leaving iommufd out drops its contract', async () => {
  assert.deepEqual(await notHeld(['drivers/vfio/**', 'drivers/misc/**']), ['12:fxcore_find']);
  // An empty index: only the checked file itself.
  assert.deepEqual(await notHeld([]), []);
});

test('globs that leave the root are ignored', async () => {
  assert.deepEqual(await notHeld(['../index/drivers/misc/**', '/etc/**']), []);
});

test('the lock index does not follow links out of the tree: a contract there is not read', async () => {
  const { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync, cpSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const fixture = path.join(here, 'fixtures/locks/devset');
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-locklink-'));
  const outside = mkdtempSync(path.join(tmpdir(), 'vfio-review-outside-'));
  try {
    for (const rel of ['Kbuild', 'include', 'drivers/vfio/pci/hot_reset_common.h']) cpSync(path.join(fixture, rel), path.join(root, rel), { recursive: true });
    // The helper that asserts the lock lives outside the tree, linked in as a file and as a folder.
    writeFileSync(path.join(outside, 'helper.c'), '#include <linux/vfio.h>\nvoid needs_lock(struct vfio_device_set *s)\n{\n\tlockdep_assert_held(&s->lock);\n}\n');
    mkdirSync(path.join(root, 'drivers/vfio/linked'), { recursive: true });
    symlinkSync(path.join(outside, 'helper.c'), path.join(root, 'drivers/vfio/helper.c'));
    symlinkSync(outside, path.join(root, 'drivers/vfio/linked/dir'));
    const file = path.join(root, 'drivers/vfio/pci/caller.c');
    writeFileSync(file, '#include "hot_reset_common.h"\nstruct vfio_device_set *vfio_get_dev_set(void *id);\nvoid needs_lock(struct vfio_device_set *s);\nvoid caller(void *id)\n{\n\tstruct vfio_device_set *s = vfio_get_dev_set(id);\n\tneeds_lock(s);\n}\n');
    const engine = await createEngine({ root });
    assert.deepEqual(engine.check(file).filter((f) => f.rule.startsWith('lock-')), []);
    engine.dispose();
    // The same helper inside the tree is read, and the call is reported.
    cpSync(path.join(outside, 'helper.c'), path.join(root, 'drivers/vfio/helper_in_tree.c'));
    const engine2 = await createEngine({ root });
    assert.deepEqual(engine2.check(file).filter((f) => f.rule.startsWith('lock-')).map((f) => f.rule), ['lock-not-held']);
    engine2.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});
