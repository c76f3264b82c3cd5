// The lock index is built once per thread, by the first file whose lock rules need it. That time is
// not charged to that file's budget (EngineOptions.fileBudgetMs): with --jobs N, which file comes
// first depends on N and on the machine, and its lock rules must not be cut for it. A file outside
// the index with no function or initializer of its own needs no index at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEngine, lockIndexBuildMs } from '../../dist/engine.js';

/** A tree whose index (drivers/vfio) is large enough to take a while: `files` x `functions` helpers that assert their set's lock. */
function treeWithLargeIndex(t, files, functions) {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-budget-index-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const w = (rel, text) => {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  };
  w('Kbuild', '');
  w('include/linux/vfio.h', '#ifndef _LINUX_VFIO_H\n#define _LINUX_VFIO_H\nstruct vfio_device_set {\n\tstruct mutex lock;\n\tunsigned int count;\n};\n#endif\n');
  for (let f = 0; f < files; f++) {
    const body = Array.from({ length: functions }, (_, i) => `
int fx_helper_${f}_${i}(struct vfio_device_set *dev_set, int n)
{
	int ret = 0;

	lockdep_assert_held(&dev_set->lock);
	if (n > ${i})
		ret = fx_helper_${f}_${(i + 1) % functions}(dev_set, n - 1);
	else if (dev_set->count)
		ret = -EBUSY;
	return ret;
}
`).join('');
    w(`drivers/vfio/fx_index_${f}.c`, `// SPDX-License-Identifier: GPL-2.0-only\n#include <linux/vfio.h>\n${body}`);
  }
  // Outside the index: a caller that looks a set up and calls a helper without its lock (lock-not-held), and a header with no function.
  w('drivers/misc/fx_caller.c', '// SPDX-License-Identifier: GPL-2.0-only\n#include <linux/vfio.h>\n\nint fx_caller(unsigned long id)\n{\n\tstruct vfio_device_set *dev_set = fx_find_set(id);\n\n\treturn fx_helper_0_0(dev_set, 1);\n}\n');
  w('include/linux/fx_plain.h', '#ifndef _LINUX_FX_PLAIN_H\n#define _LINUX_FX_PLAIN_H\nstruct fx_plain {\n\tint a;\n};\nint fx_plain_get(struct fx_plain *p);\n#endif\n');
  return root;
}

test('the first file to need the lock index keeps its lock rules when building the index takes longer than its budget', async (t) => {
  const root = treeWithLargeIndex(t, 30, 40);
  const budgetMs = 150;
  const engine = await createEngine({ root, fileBudgetMs: budgetMs });
  const before = lockIndexBuildMs();
  const findings = engine.check(path.join(root, 'drivers/misc/fx_caller.c'));
  const built = lockIndexBuildMs() - before;
  // The test means something only if the index alone took longer than the budget.
  assert.ok(built > budgetMs, `the index took ${built.toFixed(0)} ms, within the ${budgetMs} ms budget: make it larger`);
  assert.deepEqual(findings.filter((f) => f.rule === 'analysis-incomplete').map((f) => f.message), []);
  const notHeld = findings.filter((f) => f.rule === 'lock-not-held');
  assert.equal(notHeld.length, 1, JSON.stringify(findings.map((f) => f.rule)));
  assert.match(notHeld[0].message, /`dev_set->lock` is not held here/);
  engine.dispose();
});

test('a header outside the index with no function of its own does not build the index; a C file does', async (t) => {
  const root = treeWithLargeIndex(t, 2, 3);
  const engine = await createEngine({ root });
  const before = lockIndexBuildMs();
  const header = engine.check(path.join(root, 'include/linux/fx_plain.h'));
  assert.equal(lockIndexBuildMs(), before, 'no time spent on the index for the header');
  assert.deepEqual(header.filter((f) => f.rule.startsWith('lock-')), []);
  const caller = engine.check(path.join(root, 'drivers/misc/fx_caller.c'));
  assert.ok(lockIndexBuildMs() > before);
  assert.equal(caller.filter((f) => f.rule === 'lock-not-held').length, 1);
  engine.dispose();
});
