// `.vfio-review.json` as the analyser uses it: severities under the user's settings, ignore globs,
// problems reported, and not read at all when the front end says the tree is not trusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEngine } from '../../dist/engine.js';

function tree(config) {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-config-'));
  mkdirSync(path.join(root, 'include/uapi/linux'), { recursive: true });
  writeFileSync(path.join(root, 'Kbuild'), '');
  writeFileSync(path.join(root, 'include/uapi/linux/a.h'), 'struct a {\n\tint\tx;\n};\n');
  writeFileSync(path.join(root, 'include/uapi/linux/skip.h'), 'struct s {\n\tint\tx;\n};\n');
  if (config !== undefined) writeFileSync(path.join(root, '.vfio-review.json'), config);
  return root;
}

test('configured severities apply under the user settings, and ignore globs skip files', async () => {
  const root = tree(JSON.stringify({ rules: { 'uapi-non-fixed-type': 'error' }, ignore: ['include/uapi/linux/skip.h'] }));
  try {
    const a = path.join(root, 'include/uapi/linux/a.h');
    const engine = await createEngine({ root, arches: ['x86_64'] });
    assert.deepEqual(engine.check(a).map((f) => [f.rule, f.severity]), [['uapi-non-fixed-type', 'error']]);
    assert.deepEqual(engine.check(path.join(root, 'include/uapi/linux/skip.h')), []);
    engine.configure({ severities: { 'uapi-non-fixed-type': 'info' } });
    assert.deepEqual(engine.check(a).map((f) => f.severity), ['info'], 'the user setting wins');
    const untrusted = await createEngine({ root, arches: ['x86_64'], readProjectConfig: false });
    assert.deepEqual(untrusted.check(a).map((f) => f.severity), ['warning'], 'not read in an untrusted tree');
    assert.equal(untrusted.check(path.join(root, 'include/uapi/linux/skip.h')).length, 1);
  } finally {
    rmSync(root, { recursive: true });
  }
});

test('a bad configuration is reported with its file and key, and never stops the checks', async () => {
  const root = tree('{ "rules": { "uapi-non-fixed-type": "loud" }, "colour": 1 }');
  try {
    const engine = await createEngine({ root, arches: ['x86_64'] });
    const problems = engine.configProblems(path.join(root, 'include/uapi/linux/a.h'));
    assert.ok(problems.some((p) => p.key === 'colour' && p.file.endsWith('.vfio-review.json')), JSON.stringify(problems));
    assert.ok(problems.some((p) => p.key.startsWith('rules')), JSON.stringify(problems));
    assert.equal(engine.check(path.join(root, 'include/uapi/linux/a.h')).length, 1);
  } finally {
    rmSync(root, { recursive: true });
  }
});
