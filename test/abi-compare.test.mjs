// ABI comparison of two versions of a uapi header, one fixture pair per class of change. Both
// versions are also laid out by gcc (-m64 and -m32), so the verdicts rest on measured layouts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compareWithGcc, formatDisagreement, probeTarget, uapiIncludeDirs } from './support/gcc-layout.mjs';
import { PAIRS, TYPES_H } from './fixtures/abi/pairs.mjs';

const require = createRequire(import.meta.url);
const { createEngine } = require('../dist/engine.js');
const ALL = ['x86_64', 'i386', 'arm64', 'arm', 'riscv64', 'ppc64le', 's390x'];
const GCC_ARCHES = ['x86_64', 'i386'];
let work;

function tree(dir, caseText) {
  mkdirSync(path.join(dir, 'include/uapi/linux'), { recursive: true });
  writeFileSync(path.join(dir, 'Kbuild'), '');
  writeFileSync(path.join(dir, 'include/uapi/linux/types.h'), TYPES_H);
  writeFileSync(path.join(dir, 'include/uapi/linux/case.h'), caseText);
  return path.join(dir, 'include/uapi/linux/case.h');
}

before(() => {
  work = mkdtempSync(path.join(tmpdir(), 'vfio-review-abi-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

test('both versions of every pair are laid out as gcc lays them out', async () => {
  for (const arch of GCC_ARCHES) {
    const p = await probeTarget(arch);
    assert.ok(p.ok, p.message);
  }
  const engine = await createEngine({ arches: GCC_ARCHES });
  const headers = [];
  const roots = [];
  for (const pair of PAIRS) {
    for (const side of ['old', 'new']) {
      const root = path.join(work, 'gcc', pair.name, side);
      const file = tree(root, pair[side]);
      const report = engine.layouts(file, [], GCC_ARCHES);
      if (!report.arches.x86_64.types.length) continue; // macro-only pairs
      roots.push(root);
      headers.push({ include: 'linux/case.h', layouts: Object.fromEntries(GCC_ARCHES.map((a) => [a, report.arches[a].types])), root });
    }
  }
  engine.dispose();
  // One gcc run per tree: each version of the header is compiled on its own.
  const results = await Promise.all(headers.map((h) => compareWithGcc({ headers: [h], arches: GCC_ARCHES, includeDirs: (arch) => uapiIncludeDirs(h.root, arch), jobs: 1 })));
  const lines = results.flatMap((r, i) => [...r.disagreements.map(formatDisagreement), ...r.skipped.map((s) => `${roots[i]}: ${s.reason}`)]);
  assert.deepEqual(lines, []);
});

for (const pair of PAIRS) {
  test(`verdicts: ${pair.name}`, async () => {
    const file = tree(path.join(work, 'cmp', pair.name), pair.new);
    const engine = await createEngine({ root: path.join(work, 'cmp', pair.name) });
    engine.setBase(file, { text: pair.old, label: `old/${pair.name}.h`, location: `/old/${pair.name}.h` });
    const findings = engine.compare(file);
    const summary = findings.map((f) => `${f.rule}/${f.severity}: ${f.message}`).join('\n');
    for (const e of pair.expect) {
      const hits = findings.filter((f) => f.rule === e.rule && f.severity === e.severity);
      assert.equal(hits.length, e.count ?? 1, `${e.rule}/${e.severity} expected ${e.count ?? 1}, got:\n${summary}`);
      for (const h of hits) {
        if (e.abis === 'every') assert.match(h.message, /every ABI/, h.message);
        else {
          const verdict = /\((?:incompatible|API break) on ([^;]*?)( only)?;/.exec(h.message)?.[1] ?? /\((?:compatible|review) on ([^;]*);/.exec(h.message)?.[1];
          assert.equal(verdict, e.abis.join(', ').replace(/, ([^,]*)$/, ' and $1'), h.message);
        }
        if (e.line !== undefined) assert.equal(h.range.start.line, e.line, h.message);
        assert.match(h.message, new RegExp(`compared with old/${pair.name}\\.h`));
      }
    }
    const unexpected = findings.filter((f) => !pair.expect.some((e) => e.rule === f.rule && e.severity === f.severity));
    assert.deepEqual(unexpected.map((f) => `${f.rule}: ${f.message}`), []);
    // check() includes the comparison while a base is set, and related points at the old version.
    const all = engine.check(file);
    for (const f of findings) assert.ok(all.some((g) => g.rule === f.rule && g.message === f.message));
    for (const f of findings.filter((x) => x.related)) assert.equal(f.related[0].file, `/old/${pair.name}.h`);
    engine.setBase(file, undefined);
    assert.deepEqual(engine.compare(file), []);
    engine.dispose();
  });
}

test('every ABI is compared, and a verdict that holds on some ABIs names them', async () => {
  const pair = PAIRS.find((p) => p.name === 'moved-on-i386-only');
  const file = tree(path.join(work, 'abis'), pair.new);
  const engine = await createEngine({ root: path.join(work, 'abis') });
  engine.setBase(file, { text: pair.old, label: 'old', location: 'old' });
  const moved = engine.compare(file).find((f) => f.rule === 'abi-member-offset-changed');
  assert.match(moved.message, /from offset 4 to offset 8 on i386 \(incompatible on i386 only/);
  assert.equal(engine.compare(file, ALL.filter((a) => a !== 'i386')).length, 0, 'no other ABI moves __u64 to 8 from 4');
  engine.dispose();
});

test('hover on a changed struct shows the old and new layout side by side; an unchanged one says so', async () => {
  const pair = PAIRS.find((p) => p.name === 'moved-on-i386-only');
  const file = tree(path.join(work, 'hover'), pair.new + 'struct vfio_foo_same { __u32 a; };\n');
  const engine = await createEngine({ root: path.join(work, 'hover'), arches: ['x86_64', 'i386'] });
  engine.setBase(file, { text: pair.old + 'struct vfio_foo_same { __u32 a; };\n', label: 'HEAD:case.h', location: 'HEAD:case.h' });
  const changed = engine.hover(file, { line: 4, character: 9 });
  assert.match(changed.contents, /compared with `HEAD:case.h`/);
  assert.match(changed.contents, /\| i386 \| `iova` \| 4 \/ 8 \| 8 \/ 8 \(__u64 → __aligned_u64\) ⚠ \|/);
  assert.doesNotMatch(changed.contents, /\| x86_64 \| `iova`.*⚠/, 'x86_64 did not move: its type spelling is shown only where the layout changed');
  const lines = (pair.new + 'struct vfio_foo_same { __u32 a; };\n').split('\n');
  const same = engine.hover(file, { line: lines.findIndex((l) => l.includes('vfio_foo_same')), character: 10 });
  assert.match(same.contents, /unchanged since `HEAD:case.h`/);
  engine.dispose();
});
