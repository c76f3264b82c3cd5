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
