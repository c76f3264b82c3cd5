// Each file has a time budget after which rules are skipped (EngineOptions.fileBudgetMs). The lock
// index is extracted and analysed once per thread, by the first file that needs it, and that time
// is not charged to the file's budget: with --jobs 2 the largest files come first, and on a busy machine
// vfio_pci_core.c and kvm_main.c used to lose their lock rules to the index's few seconds
// ("analysis stopped after its budget"), so the output depended on N and on the load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './support/cli-run.mjs';
import { kernel612 } from './support/kernel-612.mjs';

const run = (args, cwd) => runCli(args, { cwd, timeoutMs: 600_000 });

const kernel = kernel612();

test('6.12 virt and drivers/vfio/pci: --jobs 1 and 2 print the same findings, none cut short by the budget', { skip: !kernel && 'no 6.12 tree', timeout: 1_200_000 }, async () => {
  const args = ['check', 'virt', 'drivers/vfio/pci', '--root', kernel, '--no-cache', '--fail-on', 'never', '--format', 'json'];
  const one = await run([...args, '--jobs', '1'], kernel);
  const two = await run([...args, '--jobs', '2'], kernel);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(two.code, 0, two.stderr);
  const rules = (r) => JSON.parse(r.stdout).findings.map((f) => f.rule);
  assert.deepEqual(rules(two).filter((r) => r === 'analysis-incomplete'), []);
  assert.deepEqual(rules(one).filter((r) => r === 'analysis-incomplete'), []);
  assert.equal(two.stdout, one.stdout);
  assert.ok(rules(one).includes('union-member-type-mismatch'), 'kernel rules report there');
});
