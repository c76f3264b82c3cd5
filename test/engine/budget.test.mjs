// The per-file time budget: after it, no further ABI or rule starts on the file, and an
// analysis-incomplete finding says what was left out. Without a budget, everything is done.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEngine, ALL_ABIS } from '../../dist/engine.js';

function bigHeader(t, members) {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-budget-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'include/uapi/linux'), { recursive: true });
  writeFileSync(path.join(root, 'Kbuild'), '');
  writeFileSync(path.join(root, 'include/uapi/linux/types.h'), 'typedef unsigned char __u8;\ntypedef unsigned int __u32;\n');
  const body = Array.from({ length: members }, (_, i) => `\t__u32\tr${i};`).join('\n');
  const file = path.join(root, 'include/uapi/linux/regs.h');
  // A hole after the __u8 member, so the uapi rules have something to report when they run.
  writeFileSync(file, `#include <linux/types.h>\nstruct regs {\n\t__u8\tfirst;\n${body}\n};\n`);
  return { root, file };
}

test('over budget: the first ABI is laid out, the rest and the remaining rules are named as left out', async (t) => {
  const { root, file } = bigHeader(t, 3000);
  const engine = await createEngine({ root, fileBudgetMs: 1 });
  const findings = engine.check(file);
  const note = findings.find((f) => f.rule === 'analysis-incomplete');
  assert.ok(note, JSON.stringify(findings.map((f) => f.rule)));
  assert.equal(note.severity, 'info');
  assert.match(note.message, new RegExp(`not laid out on ${ALL_ABIS.slice(1).join(', ')}`));
  assert.match(note.message, /rules not run: /);
  engine.dispose();
  // A fresh engine: the check's units are cached, and laying out a cached unit takes less than
  // the budget's millisecond, so the next ABI would start in time.
  const layoutEngine = await createEngine({ root, fileBudgetMs: 1 });
  const report = layoutEngine.layouts(file);
  assert.deepEqual(Object.keys(report.arches), [ALL_ABIS[0]]);
  assert.match(report.incomplete, /not laid out on i386/);
  layoutEngine.dispose();
  // The note follows the rule's severity setting, like every finding.
  const quiet = await createEngine({ root, fileBudgetMs: 1, severities: { 'analysis-incomplete': 'off' } });
  assert.ok(!quiet.check(file).some((f) => f.rule === 'analysis-incomplete'));
  quiet.dispose();
});

test('within budget (or none): every ABI and rule, no analysis-incomplete', async (t) => {
  const { root, file } = bigHeader(t, 300);
  for (const fileBudgetMs of [0, 60_000]) {
    const engine = await createEngine({ root, fileBudgetMs });
    const findings = engine.check(file);
    assert.ok(!findings.some((f) => f.rule === 'analysis-incomplete'));
    assert.ok(findings.some((f) => f.rule === 'uapi-implicit-padding'));
    const report = engine.layouts(file);
    assert.deepEqual(Object.keys(report.arches), ALL_ABIS);
    assert.equal(report.incomplete, undefined);
    engine.dispose();
  }
});
