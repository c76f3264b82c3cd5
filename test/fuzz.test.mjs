// Fuzzing in the test suite: every entry point (the engine library in process, the CLI and the
// language server as processes) gets its regression fixtures (test/fixtures/fuzz/<target>/),
// then the structural cases and random mutations of the seeds for a few seconds. The property:
// every input is answered within the hang guard, nothing throws out of the library, processes
// exit with 0/1/2 and no internal error, and the server keeps answering.
//
// The seed is printed; VFIO_REVIEW_FUZZ_SEED=<seed> replays the same inputs.
// VFIO_REVIEW_FUZZ_SECONDS sets the time per target (default 2); `npm run fuzz` runs longer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fuzzTarget, fixturesOf } from './fuzz/harness.mjs';
import { createRng, deepNesting, mutate, MUTATIONS, MUTATION_NAMES, seedFromEnv, structuralCases } from './fuzz/mutate.mjs';
import { TARGET_NAMES, loadSeeds, makeTree, textOf } from './fuzz/targets.mjs';

const require = createRequire(import.meta.url);
const { createEngine } = require('../dist/engine.js');
const seed = seedFromEnv();
const seconds = Number(process.env.VFIO_REVIEW_FUZZ_SECONDS || 2);
console.log(`fuzz seed ${seed} (VFIO_REVIEW_FUZZ_SEED=${seed} replays it), ${seconds} s per target`);

test('mutations are reproducible from the seed and each changes its input', () => {
  const seeds = loadSeeds();
  const run = (s) => {
    const rng = createRng(s);
    return Array.from({ length: 50 }, () => mutate(seeds['.h'], rng));
  };
  const a = run(42);
  const b = run(42);
  assert.deepEqual(a.map((m) => m.bytes.toString('hex')), b.map((m) => m.bytes.toString('hex')));
  assert.notDeepEqual(a.map((m) => m.bytes.toString('hex')), run(43).map((m) => m.bytes.toString('hex')));
  // Over many draws every mutation is used, and most inputs differ from the seed.
  const rng = createRng(7);
  const used = new Set();
  let changed = 0;
  for (let i = 0; i < 2000; i++) {
    const m = mutate(seeds['.c'], rng);
    m.applied.forEach((name) => used.add(name));
    if (!m.bytes.equals(seeds['.c'])) changed++;
  }
  assert.deepEqual([...used].sort(), [...MUTATION_NAMES].sort());
  // patchHostile leaves C alone, so a draw of only that mutation keeps the seed.
  assert.ok(changed > 1800, `${changed} of 2000 mutated inputs differ from the seed`);
});

test('the patch bomb stays within a string\'s maximum length however long the hunk already is', () => {
  // CI once drew a 4 MB hunk (a 1 MB line mutation before it) repeated 20,000 times: the mutator
  // itself threw "Invalid string length". Every draw of the bomb must now produce bytes.
  const hunk = `@@ -1,1 +1,1 @@\n-${'x'.repeat(4 * 1024 * 1024)}\n+y\n`;
  const patch = Buffer.from(`diff --git a/f.h b/f.h\n--- a/f.h\n+++ b/f.h\n${hunk}`, 'latin1');
  let bombs = 0;
  for (let s = 1; s <= 60; s++) {
    const rng = createRng(s);
    const out = MUTATIONS.patchHostile(patch, rng);
    assert.ok(Buffer.isBuffer(out));
    if (out.length > patch.length * 1.5) bombs++;
  }
  assert.ok(bombs > 0, 'some draws chose the patch bomb');
});

test('structural cases: truncation at every 1/16th, 10,000-deep nesting, 1 MB lines, NUL, invalid UTF-8, CRLF, lone CR', () => {
  const seeds = loadSeeds();
  const cases = [...structuralCases(seeds['.h'])];
  const names = cases.map((c) => c.applied[0]);
  for (let i = 0; i < 16; i++) assert.ok(names.includes(`truncate ${i}/16`));
  for (const kind of ['braces', 'parens', 'structs', 'ifdefs', 'ifs']) assert.ok(names.includes(`nesting ${kind} 10000`));
  const long = cases.find((c) => c.applied[0] === '1 MB line');
  assert.ok(long.bytes.toString('latin1').split('\n').some((l) => l.length >= 1024 * 1024));
  assert.ok(cases.find((c) => c.applied[0] === 'NUL bytes').bytes.includes(0));
  assert.throws(() => new TextDecoder('utf-8', { fatal: true }).decode(cases.find((c) => c.applied[0] === 'invalid UTF-8').bytes));
  assert.ok(cases.find((c) => c.applied[0] === 'CRLF').bytes.includes('\r\n'));
  const cr = cases.find((c) => c.applied[0] === 'lone CR').bytes;
  assert.ok(cr.includes('\r') && !cr.includes('\n'));
  assert.equal(deepNesting('braces', 10_000).split('{').length - 1, 10_000);
});

test('10,000 nested structs: the deep aggregate is reported as incomplete, the rest of the header is still laid out', async (t) => {
  const tree = makeTree();
  const engine = await createEngine({ root: tree.root, arches: ['x86_64'] });
  t.after(() => {
    engine.dispose();
    tree.remove();
  });
  const file = tree.inputPath('.h');
  engine.openDocument(file, textOf(Buffer.concat([loadSeeds()['.h'], Buffer.from(deepNesting('structs', 10_000))])), 1);
  const findings = engine.check(file);
  const deep = findings.filter((f) => f.rule === 'parse-incomplete' && /nested more than 128 levels/.test(f.message));
  assert.equal(deep.length, 1, JSON.stringify(findings.map((f) => f.message)));
  const types = engine.layouts(file).arches.x86_64.types;
  assert.equal(types.find((x) => x.name === 'struct fuzz_device_info')?.size, 24);
  assert.equal(types.find((x) => x.name === 'struct deep_outer')?.size ?? null, null);
});

test('2,000 #if blocks nested inside a struct of kernel C: the struct is reported as incomplete, not a stack overflow', async (t) => {
  const tree = makeTree();
  const engine = await createEngine({ root: tree.root, arches: ['x86_64'] });
  t.after(() => {
    engine.dispose();
    tree.remove();
  });
  const file = tree.inputPath('.c');
  const depth = 2000;
  const text = `struct deep_cond {\n${'#ifdef CONFIG_X\n'.repeat(depth)}\tint a;\n${'#endif\n'.repeat(depth)}};\n\nint fx_after(void)\n{\n\treturn sizeof(struct deep_cond);\n}\n`;
  engine.openDocument(file, text, 1);
  const findings = engine.check(file);
  assert.ok(!findings.some((f) => /failed|Maximum call stack/.test(f.message)), JSON.stringify(findings.map((f) => f.message)));
  assert.equal(findings.filter((f) => /#if blocks nested more than 128 levels deep in a struct/.test(f.message)).length, 1, JSON.stringify(findings.map((f) => f.message)));
});

for (const target of TARGET_NAMES) {
  test(`fuzz ${target}: ${fixturesOf(target).length} fixtures, then ${seconds} s of mutations (seed ${seed})`, { timeout: 600_000 }, async () => {
    const result = await fuzzTarget(target, { seed, seconds });
    console.log(`${target}: ${result.inputs} inputs (${result.fixtures} fixtures), ${result.calls} calls in ${result.seconds.toFixed(1)} s; slowest call ${result.slowestMs.toFixed(0)} ms (${result.slowestCall}; ${result.slowestInput})`);
    assert.ok(result.inputs > result.fixtures, 'no mutated input ran');
    const report = result.failures.map((f) => `input ${f.index} (${f.applied.join(' + ')}, ${f.bytes.length} bytes, ${f.hash}${f.ext}), ${f.kind}:\n${f.message.slice(0, 3000)}`);
    assert.deepEqual(report, [], `seed ${seed}: ${report.length} failing inputs (npm run fuzz -- --seed ${seed} --target ${target} saves them as fixtures)`);
  });
}
