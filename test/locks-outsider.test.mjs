// A file outside the lock index is analysed against the index's result (analyse.ts
// analyseOutsider: only the file's functions, the index's summaries taken round by round), unless
// the index reads something of the file; then the whole program (index and file) is analysed.
// Either way, what the rules read must be exactly what analysing the whole program gives
// (lockAnalysisOf with `wholeProgram`): same summaries, violations, findings, held locks and
// accesses, on every file of the lock fixture trees and the example tree checked as an outsider,
// on an outsider the index calls into, on an edited outsider, and on a sample of 6.12's
// drivers/pci and drivers/iommu when that tree is on this machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Analyser, createEngine, lockAnalysisOf, unprotectedAccesses } from '../dist/engine.js';
import { kernel612 } from './support/kernel-612.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.dirname(here);

/** Everything a result says, as text: functions named by file, name and line; the stats left out. */
function canonical(result) {
  const { stats, ...rest } = result;
  return JSON.stringify(rest, (_k, v) => {
    if (v && typeof v === 'object' && 'cfg' in v && 'params' in v) return `fn ${v.file}:${v.name}:${v.at.line}`;
    if (v instanceof Map) return { map: [...v] };
    if (v instanceof Set) return { set: [...v] };
    return v === undefined ? '<undefined>' : v;
  });
}

function firstDifference(a, b) {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at ${i}:\n  against the index: …${a.slice(Math.max(0, i - 200), i + 200)}\n  whole program:     …${b.slice(Math.max(0, i - 200), i + 200)}`;
}

/** The program's functions, by name and file, in order (what the rules walk besides the result). */
const functionsOf = (program) => program.functions.map((f) => `${f.file}:${f.name}`).join('\n');

/**
 * Checks `file` both ways and asserts the same analysis; returns the fast path's stats and
 * what the whole program reports on the file.
 */
function checkBothWays(store, root, file, lockIndex, what) {
  const fast = lockAnalysisOf({ store, root, file, lockIndex });
  const whole = lockAnalysisOf({ store, root, file, lockIndex, wholeProgram: true });
  assert.ok(!whole.result.stats.againstIndex, `${what}: the reference must analyse the whole program`);
  assert.equal(functionsOf(fast.program), functionsOf(whole.program), `${what}: programs`);
  const a = canonical(fast.result);
  const b = canonical(whole.result);
  assert.ok(a === b, `${what}: the results differ ${firstDifference(a, b)}`);
  const own = (list) => list.filter((x) => x.fn.file === file).length;
  return { stats: fast.result.stats, reported: own(whole.result.violations) + own(whole.result.findings) };
}

/** Every .c/.h file under `dir`, sorted. */
function cFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...cFiles(p));
    else if (/\.[ch]$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

const trees = [
  ...readdirSync(path.join(here, 'fixtures/locks')).map((d) => path.join(here, 'fixtures/locks', d)),
  path.join(repo, 'examples/linux'),
];

test('every file of the fixture trees and the example tree, checked outside an index of all the others, equals the whole program', async (t) => {
  await createEngine({});
  let against = 0;
  let fellBack = 0;
  let reported = 0;
  for (const root of trees) {
    const { store } = new Analyser({ root });
    const all = cFiles(root);
    for (const file of all) {
      // The index: every other file of the tree, by its relative path.
      const lockIndex = all.filter((f) => f !== file).map((f) => path.relative(root, f).split(path.sep).join('/'));
      const what = path.relative(repo, file);
      const r = checkBothWays(store, root, file, lockIndex, what);
      if (r.stats.againstIndex) against++;
      else if (r.stats.wholeProgramBecause) fellBack++;
      reported += r.reported;
    }
  }
  // Both ways are taken (files the others call fall back), and the files break contracts:
  // equal results on files with nothing to say would prove little.
  t.diagnostic(`${against} against the index, ${fellBack} with the whole program, ${reported} violations and findings`);
  assert.ok(against >= 10, `${against} files analysed against the index`);
  assert.ok(fellBack >= 5, `${fellBack} files fell back to the whole program`);
  assert.ok(reported >= 5, `${reported} violations and findings on the outsider files`);
});

// lock-unprotected-access judges, for a file outside the index, only the field classes that file
// accesses (its findings are at its own accesses), and builds the entry graph only when one of
// them has a lock to judge: the same findings as judging the whole program and keeping the file's.
test('unprotected accesses of an outsider: judging only its classes gives what the whole judgement gives for it', async (t) => {
  await createEngine({});
  const described = (list) => JSON.stringify(list.map((u) => ({
    fn: `${u.fn.file}:${u.fn.name}`, at: u.access.event.at, cls: u.access.cls, lock: u.lockClass, display: u.lockDisplay,
    counts: [u.protectedCount, u.total], evidence: u.evidence.map((e) => [e.fn.name, e.at, e.how]),
    path: [u.path.root.name, u.path.external, u.path.hops.map((h) => [h.kind, h.caller.name, h.via, h.field])],
  })));
  let outsiders = 0;
  let found = 0;
  for (const root of trees) {
    const { store } = new Analyser({ root });
    const all = cFiles(root);
    for (const file of all) {
      const lockIndex = all.filter((f) => f !== file).map((f) => path.relative(root, f).split(path.sep).join('/'));
      const a = lockAnalysisOf({ store, root, file, lockIndex });
      if (!a.outsider) continue;
      outsiders++;
      // The file's own judgement first: the whole one, once cached, would answer it.
      const own = unprotectedAccesses(a.program, a.result, file);
      const whole = unprotectedAccesses(a.program, a.result).filter((u) => u.fn.file === file);
      assert.equal(described(own), described(whole), path.relative(repo, file));
      found += own.length;
    }
  }
  t.diagnostic(`${outsiders} outsiders, ${found} unprotected accesses`);
  assert.ok(outsiders >= 10 && found >= 1, `${outsiders} outsiders, ${found} findings`);
  // 6.12's drivers/pci (its .c files, not the subfolders) against the default index.
  const k = kernel612();
  if (!k) return;
  const { store } = new Analyser({ root: k });
  const pci = readdirSync(path.join(k, 'drivers/pci')).filter((f) => f.endsWith('.c')).sort().map((f) => path.join(k, 'drivers/pci', f));
  let judged = 0;
  for (const file of pci) {
    const a = lockAnalysisOf({ store, root: k, file });
    if (!a.outsider) continue;
    judged++;
    const own = unprotectedAccesses(a.program, a.result, file);
    assert.equal(described(own), described(unprotectedAccesses(a.program, a.result).filter((u) => u.fn.file === file)), path.relative(k, file));
  }
  t.diagnostic(`6.12 drivers/pci: ${judged} outsiders`);
  assert.ok(judged >= 20, `${judged} outsiders in drivers/pci`);
});

const indexTree = path.join(here, 'fixtures/locks/index');
const fxcore = path.join(indexTree, 'drivers/misc/fxcore/core.c');

test('an outsider whose functions the index calls (fxcore_find under the default index) falls back and still equals the whole program', async () => {
  await createEngine({});
  const { store } = new Analyser({ root: indexTree });
  assert.match(readFileSync(path.join(indexTree, 'drivers/vfio/pci/fx_user.c'), 'utf8'), /fxcore_find\(/);
  const { stats } = checkBothWays(store, indexTree, fxcore, undefined, 'fxcore/core.c');
  assert.ok(!stats.againstIndex, 'the index calls fxcore_find: the file cannot be analysed against the index alone');
  // The contract of fxcore_find reaches the index's callers only through the whole program.
  const { result } = lockAnalysisOf({ store, root: indexTree, file: fxcore });
  assert.ok(result.violations.some((v) => v.req.origin.fn === 'fxcore_find' && v.fn.file !== fxcore), 'a caller in the index is reported against fxcore_find');
});

test('an outsider the index does not read is analysed against the index: its own functions only', async () => {
  await createEngine({});
  const root = path.join(here, 'fixtures/locks/devset');
  const { store } = new Analyser({ root });
  // Everything but one driver: the driver's functions are its own, nothing of the index calls them.
  const all = cFiles(root);
  const file = path.join(root, 'drivers/vfio/pci/double_acquire_bad.c');
  const lockIndex = all.filter((f) => f !== file).map((f) => path.relative(root, f).split(path.sep).join('/'));
  const { stats, reported } = checkBothWays(store, root, file, lockIndex, 'double_acquire_bad.c');
  assert.ok(stats.againstIndex, 'analysed against the index');
  const { program } = lockAnalysisOf({ store, root, file, lockIndex });
  const own = program.functions.filter((f) => f.file === file).length;
  assert.ok(own > 0 && reported > 0, `${own} functions, ${reported} findings in the file`);
  // Each of the file's functions once per round at most, none of the index's.
  assert.ok(stats.analysed <= own * stats.rounds, `${stats.analysed} analyses for ${own} functions over ${stats.rounds} rounds`);
});

test('an outsider edited in memory (a lock dropped, a helper added that the file calls) equals the whole program after each edit', async () => {
  await createEngine({});
  const root = path.join(here, 'fixtures/locks/devset');
  const analyser = new Analyser({ root });
  const all = cFiles(root);
  const file = path.join(root, 'drivers/vfio/pci/hot_reset_good.c');
  const lockIndex = all.filter((f) => f !== file).map((f) => path.relative(root, f).split(path.sep).join('/'));
  const LOCK = '\tmutex_lock(&vdev->vdev.dev_set->lock);\n';
  let text = readFileSync(file, 'utf8');
  assert.ok(text.includes(LOCK) && text.includes('long vfio_pci_good_ioctl('));
  const edits = [
    (t) => t.replace(LOCK, ''),
    (t) => t.replace('long vfio_pci_good_ioctl(', 'static void good_assert(struct vfio_device_set *dev_set)\n{\n\tlockdep_assert_held(&dev_set->lock);\n}\n\nstatic void good_touch(struct vfio_pci_core_device *vdev)\n{\n\tgood_assert(vdev->vdev.dev_set);\n}\n\nlong vfio_pci_good_ioctl('),
  ];
  const seen = new Set([checkBothWays(analyser.store, root, file, lockIndex, 'hot_reset_good.c').stats.againstIndex]);
  let version = 1;
  const results = new Set([canonical(lockAnalysisOf({ store: analyser.store, root, file, lockIndex }).result)]);
  for (const [i, edit] of edits.entries()) {
    text = edit(text);
    analyser.openDocument(file, text, ++version);
    seen.add(checkBothWays(analyser.store, root, file, lockIndex, `hot_reset_good.c after edit ${i + 1}`).stats.againstIndex);
    results.add(canonical(lockAnalysisOf({ store: analyser.store, root, file, lockIndex }).result));
  }
  assert.deepEqual([...seen], [true], 'every version analysed against the index');
  assert.equal(results.size, edits.length + 1, 'each edit changes the analysis');
  analyser.dispose?.();
});

const kernel = kernel612();

// Calls through an ops table reach the functions assigned to that field in initializers of the
// receiver's struct type (or of a type not known): `drv->probe(mdev)` with `struct mdev_driver
// *drv` does not reach a `struct pci_driver`'s .probe. Before, every `.probe = f` of any table was
// a callee, so every PCI driver outside the index sent its file to the whole program.
const opsTree = path.join(here, 'fixtures/locks/ops');
const opsFile = (rel) => path.join(opsTree, rel);
/** Violations in the bus's mdev_probe (index) of the lock fx_mdev_probe asserts. */
const busViolations = (result) => result.violations.filter((v) => v.fn.name === 'mdev_probe' && v.req.origin.fn === 'fx_mdev_probe');

test('ops tables by type: a PCI driver outside the index is analysed against it; the bus still breaks the mdev_driver probe contract', async () => {
  await createEngine({});
  const { store } = new Analyser({ root: opsTree });
  const file = opsFile('drivers/misc/fxpci/fxpci.c');
  assert.match(readFileSync(file, 'utf8'), /static struct pci_driver fxpci_driver = \{[^}]*\.probe = fxpci_probe/);
  const { stats } = checkBothWays(store, opsTree, file, undefined, 'fxpci.c');
  assert.ok(stats.againstIndex, `analysed against the index (fell back: ${stats.wholeProgramBecause})`);
  const { result } = lockAnalysisOf({ store, root: opsTree, file, wholeProgram: true });
  assert.equal(busViolations(result).length, 1, 'fxpci_probe requires nothing, and is no callee of drv->probe: the contract stands');
});

test('ops tables by type: a second mdev_driver outside the index is a callee of drv->probe (whole program; its probe needs no lock)', async () => {
  await createEngine({});
  const { store } = new Analyser({ root: opsTree });
  const file = opsFile('drivers/misc/fxmdev/fxmdev.c');
  const { stats } = checkBothWays(store, opsTree, file, undefined, 'fxmdev.c');
  assert.match(stats.wholeProgramBecause ?? '', /the index calls through struct mdev_driver::probe/);
  const { result } = lockAnalysisOf({ store, root: opsTree, file, wholeProgram: true });
  assert.equal(busViolations(result).length, 0, 'not every probe drv->probe reaches asserts the lock');
  // Alone, the index reports it.
  const alone = lockAnalysisOf({ store, root: opsTree, file: opsFile('drivers/vfio/mdev/mdev_driver.c') });
  assert.equal(busViolations(alone.result).length, 1);
});

test('ops tables by type: a .probe in a nested initializer (type not known) counts for every .probe call', async () => {
  await createEngine({});
  const { store } = new Analyser({ root: opsTree });
  const file = opsFile('drivers/misc/fxwrap/fxwrap.c');
  const { stats } = checkBothWays(store, opsTree, file, undefined, 'fxwrap.c');
  assert.match(stats.wholeProgramBecause ?? '', /the index calls through struct mdev_driver::probe/);
  const { result } = lockAnalysisOf({ store, root: opsTree, file, wholeProgram: true });
  assert.equal(busViolations(result).length, 0);
});

test('6.12: a sample of drivers/pci and drivers/iommu (not iommufd) checked as outsiders equals the whole program', { skip: !kernel && 'no 6.12 tree', timeout: 1_800_000 }, async (t) => {
  await createEngine({});
  const { store } = new Analyser({ root: kernel });
  // Every fifth file of each folder, pci.c and iommu.c (the index calls their functions: they fall back).
  const sample = (dir) => readdirSync(path.join(kernel, dir)).filter((f) => f.endsWith('.c')).sort().filter((_f, i) => i % 5 === 0).map((f) => path.join(kernel, dir, f));
  const files = [...new Set([...sample('drivers/pci'), path.join(kernel, 'drivers/pci/pci.c'), ...sample('drivers/iommu'), path.join(kernel, 'drivers/iommu/iommu.c')])];
  const ways = { against: 0, whole: 0, index: 0 };
  for (const file of files) {
    const { stats } = checkBothWays(store, kernel, file, undefined, path.relative(kernel, file));
    // A file with no function or initializer is answered by the index's own analysis.
    const way = stats.againstIndex ? 'against' : stats.wholeProgramBecause ? 'whole' : 'index';
    ways[way]++;
    const how = way === 'against' ? 'against the index' : way === 'whole' ? `whole program (${stats.wholeProgramBecause})` : "the index's answer";
    t.diagnostic(`${path.relative(kernel, file)}: ${how}, ${stats.analysed} analysed, ${stats.rounds} rounds`);
  }
  // Both ways are taken: pci.c and iommu.c define functions the index calls.
  assert.ok(ways.against >= 3 && ways.whole >= 2, JSON.stringify(ways));
});
