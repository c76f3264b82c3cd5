// The incremental lock analysis (analyse.ts analyseProgram: each function analysed again only when
// something it read changed, and a warm start from the previous result of lockAnalysisOf) must
// give exactly what the round-based fixed point gives (analyseProgramByRounds, every function
// analysed every round): same summaries, violations, findings, held locks and accesses.
// analyse.ts is bundled here on its own (the engine bundle exports only lockAnalysisOf); the
// programs come from the engine bundle's lockAnalysisOf, over real files and in-memory edits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Analyser, createEngine, lockAnalysisOf } from '../dist/engine.js';
import { kernel612 } from './support/kernel-612.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.dirname(here);

let bundled;
/** analyse.ts as a module of its own: analyseProgram and analyseProgramByRounds. */
async function analyseModule() {
  if (bundled) return bundled;
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-analyse-'));
  try {
    const outfile = path.join(dir, 'analyse.cjs');
    await build({ entryPoints: [path.join(repo, 'server/src/engine/analyses/locks/analyse.ts')], bundle: true, platform: 'node', format: 'cjs', outfile, logLevel: 'warning' });
    bundled = createRequire(import.meta.url)(outfile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return bundled;
}

/**
 * Everything a result says, as text: functions named by file, name and line; Maps and Sets kept;
 * the stats (how the result was reached) left out.
 */
function canonical(result) {
  const { stats, ...rest } = result;
  return JSON.stringify(rest, (_k, v) => {
    if (v && typeof v === 'object' && 'cfg' in v && 'params' in v) return `fn ${v.file}:${v.name}:${v.at.line}`;
    if (v instanceof Map) return { map: [...v] };
    if (v instanceof Set) return { set: [...v] };
    return v === undefined ? '<undefined>' : v;
  });
}

/** The first place two canonical texts differ, for a readable failure. */
function firstDifference(a, b) {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at ${i}:\n  incremental: …${a.slice(Math.max(0, i - 200), i + 200)}\n  rounds:      …${b.slice(Math.max(0, i - 200), i + 200)}`;
}

function assertSameResult(actual, reference, what) {
  const a = canonical(actual);
  const b = canonical(reference);
  assert.ok(a === b, `${what}: the results differ ${firstDifference(a, b)}`);
}

const trees = [
  ...readdirSync(path.join(here, 'fixtures/locks')).map((d) => path.join(here, 'fixtures/locks', d)),
  path.join(repo, 'examples/linux'),
];

/** Every .c/.h file of a tree, for an index that takes in the whole tree. */
function cFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...cFiles(p));
    else if (/\.[ch]$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

test('cold: the incremental fixed point equals the rounds on every lock fixture tree and the example tree', async () => {
  const { analyseProgram, analyseProgramByRounds } = await analyseModule();
  await createEngine({});
  let violations = 0;
  let findings = 0;
  for (const root of trees) {
    // The default index, and the whole tree as the index (fixtures keep helpers outside drivers/vfio).
    for (const lockIndex of [undefined, ['**/*.c', '**/*.h']]) {
      const { store } = new Analyser({ root });
      for (const file of cFiles(root)) {
        const { program, result } = lockAnalysisOf({ store, root, file, lockIndex });
        const reference = analyseProgramByRounds(program);
        const cold = analyseProgram(program);
        const what = `${path.relative(repo, file)} (index ${lockIndex ? 'whole tree' : 'default'})`;
        assertSameResult(cold, reference, what);
        // What the rules read (the engine's own call, warm from the file checked before).
        assertSameResult(result, reference, `${what}, through lockAnalysisOf`);
        assert.equal(cold.stats.rounds, reference.stats.rounds, what);
        assert.ok(cold.stats.analysed <= reference.stats.analysed, `${what}: ${cold.stats.analysed} analyses, rounds ${reference.stats.analysed}`);
        violations += reference.violations.length;
        findings += reference.findings.length;
      }
    }
  }
  // The comparison means something only if the trees break contracts.
  assert.ok(violations > 0 && findings > 0, `${violations} violations, ${findings} findings`);
});

const devset = path.join(here, 'fixtures/locks/devset');
const mainC = path.join(devset, 'drivers/vfio/vfio_main.c');
const goodC = path.join(devset, 'drivers/vfio/pci/hot_reset_good.c');
const vfioH = path.join(devset, 'include/linux/vfio.h');
const LOCK = '\tmutex_lock(&vdev->vdev.dev_set->lock);\n';
const UNLOCK = '\tmutex_unlock(&vdev->vdev.dev_set->lock);\n';

/** Edits applied one after the other; each replaces `find` in the current text of `file`. */
const EDITS = [
  { what: 'remove a mutex_lock line', file: goodC, find: LOCK, replace: '' },
  { what: 'remove the mutex_unlock line too', file: goodC, find: UNLOCK, replace: '' },
  { what: 'add the mutex_lock line back', file: goodC, find: '\tret = good_for_each_slot_or_bus', replace: `${LOCK}\tret = good_for_each_slot_or_bus` },
  { what: 'add the mutex_unlock line back', file: goodC, find: '\tif (ret)\n\t\treturn ret;\n\n\treturn copy_to_user', replace: `${UNLOCK}\tif (ret)\n\t\treturn ret;\n\n\treturn copy_to_user` },
  { what: 'add lockdep_assert_held to a callback', file: goodC, find: '\tif (vfio_find_device_in_devset(dev_set, &pdev->dev))', replace: '\tlockdep_assert_held(&dev_set->lock);\n\tif (vfio_find_device_in_devset(dev_set, &pdev->dev))' },
  { what: 'add a helper asserting the lock', file: mainC, find: '#include <linux/vfio.h>\n', replace: '#include <linux/vfio.h>\n\nvoid vfio_devset_touch(struct vfio_device_set *dev_set)\n{\n\tlockdep_assert_held(&dev_set->lock);\n}\n' },
  { what: 'rename a callee', file: mainC, find: 'struct vfio_device *vfio_find_device_in_devset(', replace: 'struct vfio_device *vfio_find_device_in_devset_locked(' },
  {
    what: 'add new callers, one without the lock',
    file: goodC,
    find: 'long vfio_pci_good_ioctl(',
    replace: [
      'static void good_touch_unlocked(struct vfio_pci_core_device *vdev)',
      '{',
      '\tstruct vfio_device_set *dev_set = vdev->vdev.dev_set;',
      '',
      '\tvfio_devset_touch(dev_set);',
      '\tvfio_find_device_in_devset_locked(dev_set, NULL);',
      '}',
      '',
      'static void good_touch_locked(struct vfio_pci_core_device *vdev)',
      '{',
      '\tmutex_lock(&vdev->vdev.dev_set->lock);',
      '\tvfio_devset_touch(vdev->vdev.dev_set);',
      '\tmutex_unlock(&vdev->vdev.dev_set->lock);',
      '}',
      '',
      'long vfio_pci_good_ioctl(',
    ].join('\n'),
  },
  { what: 'rename the callee back', file: mainC, find: 'vfio_find_device_in_devset_locked(', replace: 'vfio_find_device_in_devset(' },
  { what: 'add a struct member (struct types change: cold start)', file: vfioH, find: 'struct vfio_device_set {', replace: 'struct vfio_device_set {\n\tint generation;' },
];

test('warm: after each edit of a sequence, lockAnalysisOf warm from the last result equals a cold run', async () => {
  const { analyseProgram, analyseProgramByRounds } = await analyseModule();
  await createEngine({});
  assert.ok(readFileSync(vfioH, 'utf8').includes('struct vfio_device_set {'));
  const analyser = new Analyser({ root: devset });
  const texts = new Map();
  const checked = path.join(devset, 'drivers/vfio/pci/reset_good.c');
  const first = lockAnalysisOf({ store: analyser.store, root: devset, file: checked });
  let version = 1;
  let differed = 0;
  let previous = canonical(first.result);
  for (const edit of EDITS) {
    const before = texts.get(edit.file) ?? readFileSync(edit.file, 'utf8');
    assert.ok(before.includes(edit.find), `${edit.what}: text to replace not found`);
    const after = before.replace(edit.find, edit.replace);
    texts.set(edit.file, after);
    analyser.openDocument(edit.file, after, ++version);
    for (const file of [checked, edit.file]) {
      const { program, result } = lockAnalysisOf({ store: analyser.store, root: devset, file });
      const reference = analyseProgramByRounds(program);
      assertSameResult(result, reference, `${edit.what} (checking ${path.basename(file)})`);
      assertSameResult(analyseProgram(program), reference, `${edit.what}, cold`);
      if (file !== checked) continue;
      const structsChanged = edit.file === vfioH;
      assert.equal(result.stats.warm, !structsChanged, `${edit.what}: warm start`);
      if (!structsChanged) assert.ok(result.stats.analysed < reference.stats.analysed, `${edit.what}: ${result.stats.analysed} analyses warm, ${reference.stats.analysed} by rounds`);
      const now = canonical(result);
      if (now !== previous) differed++;
      previous = now;
    }
  }
  // The edits change what the analysis says (else equality would prove little).
  assert.ok(differed >= EDITS.length - 2, `${differed} of ${EDITS.length} edits changed the result`);
  analyser.dispose?.();
});

const kernel = kernel612();
const seriesModule = path.join(repo, 'bench/patch.mjs');

test('6.12: warm after each edit of the bench patch series equals the rounds (timings printed)', { skip: !kernel ? 'no 6.12 tree' : !existsSync(seriesModule) ? 'no bench/patch.mjs' : false, timeout: 1_800_000 }, async (t) => {
  const { analyseProgramByRounds } = await analyseModule();
  const { SERIES } = await import(seriesModule);
  await createEngine({});
  const analyser = new Analyser({ root: kernel });
  const core = path.join(kernel, 'drivers/vfio/pci/vfio_pci_core.c');
  let started = performance.now();
  const cold = lockAnalysisOf({ store: analyser.store, root: kernel, file: core });
  t.diagnostic(`cold lockAnalysisOf: ${Math.round(performance.now() - started)} ms, ${cold.program.functions.length} functions, ${JSON.stringify(cold.result.stats)}`);
  const texts = new Map();
  let version = 1;
  for (const edit of SERIES) {
    const file = path.join(kernel, edit.file);
    const before = texts.get(file) ?? readFileSync(file, 'utf8');
    assert.ok(before.includes(edit.find), `${edit.subject}: text to replace not found`);
    const after = before.replace(edit.find, edit.replace);
    texts.set(file, after);
    analyser.openDocument(file, after, ++version);
    started = performance.now();
    const { program, result } = lockAnalysisOf({ store: analyser.store, root: kernel, file: core });
    const warmMs = performance.now() - started;
    started = performance.now();
    const reference = analyseProgramByRounds(program);
    const roundsMs = performance.now() - started;
    assertSameResult(result, reference, edit.subject);
    t.diagnostic(`${edit.subject}: warm ${Math.round(warmMs)} ms (${result.stats.analysed} analysed, ${result.stats.reused} reused), rounds ${Math.round(roundsMs)} ms (${reference.stats.analysed} analysed, ${reference.stats.rounds} rounds)`);
  }
});
