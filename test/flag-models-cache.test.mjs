// The flag model of each uapi header kept in the cache folder (engine/cache/flag-models.ts,
// `flag-models/`; on where keepFlagModels(true) says so: `patch` and `reply`). A "process" here
// is a fresh load of one bundle of the engine (its own module state: header models, units, parser; the same
// file, so the same tool stamp): the first one with a cache folder writes the entries, the next
// reads them instead of preprocessing the headers, and both must give what the engine gives
// without a cache folder: the whole kernel flag index (macros, fields, dependencies,
// discriminants), the values its evaluator computes (built lazily on a hit) and the findings of
// `check`. Damaged entries are dropped and rebuilt; an entry whose inputs changed (an included
// header edited, or a header appearing where an include now resolves first) is not used.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { buildEngineBundle } from './support/engine-bundle.mjs';
import { kernel612 } from './support/kernel-612.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

let temp;
let bundle;
before(async () => {
  temp = mkdtempSync(path.join(tmpdir(), 'vfio-review-flag-models-'));
  bundle = await buildEngineBundle(temp, {
    'analyses/flags/kernel.ts': ['kernelFlagIndex', 'keepFlagModels'],
    'cache/flag-models.ts': ['flagModelStats', 'FLAG_MODEL_FOLDER'],
  });
});
after(() => rmSync(temp, { recursive: true, force: true }));

/** A fresh module state of the engine, as a new process would have. */
function freshProcess() {
  delete require.cache[bundle];
  const mod = require(bundle);
  // As `patch` and `reply` do (off by default).
  mod.keepFlagModels(true);
  return mod;
}

let counter = 0;
/** A copy of `tree` (tests edit it) and a cache folder that does not exist yet. */
function workspace(tree) {
  const dir = path.join(temp, `w${++counter}`);
  cpSync(tree, path.join(dir, 'linux'), { recursive: true });
  return { tree: path.join(dir, 'linux'), cache: path.join(dir, 'cache') };
}

/** The index as text: Maps and Sets as entry lists, bigints as strings, functions left out. */
function canonical(index) {
  const { macros, fields, dependencies, discriminants } = index;
  return JSON.stringify({ macros, fields, dependencies, discriminants }, (_k, v) => {
    if (v instanceof Map) return [...v];
    if (v instanceof Set) return [...v];
    if (typeof v === 'bigint') return `${v}n`;
    return v;
  });
}

/** kernelFlagIndex of `file` as the rules build it, and what its evaluator says of every owner and flag. */
function indexOf(mod, analyser, file, cacheDir) {
  return analyser.withTree(file, (tree, text) => {
    const src = analyser.store.read(file);
    const facts = analyser.store.factsOf(src);
    const root = analyser.rootFor(file);
    const project = { store: analyser.store, root, options: { root, ...(cacheDir ? { cacheDir } : {}) } };
    project.uapiUnit = (header, abi) => (analyser.isUapi(header) && analyser.rootFor(header) === root ? analyser.unit(header, abi) : undefined);
    const ctx = {
      file, uapi: false, arches: analyser.arches, layouts: new Map(), models: new Map(), parseProblems: [], unitProblems: [], memo: new Map(),
      source: { text, tree, blank: facts.blank, directives: facts.directives },
      project,
    };
    const index = mod.kernelFlagIndex(ctx);
    const evaluated = [...index.fields.values()].map((f) => {
      const size = index.evaluate(f.owner, `sizeof(${f.owner})`);
      const flags = [...index.macros.values()].filter((m) => m.field === f).map((m) => index.evaluate(f.owner, `${m.name} | 0`));
      return [f.owner, f.member, size ? `${size.v}` : null, flags.map((v) => (v ? `${v.v}${v.unsigned ? 'u' : ''}` : null))];
    });
    return `${canonical(index)}\n${JSON.stringify(evaluated)}`;
  });
}

/** One "process": the index of every file, the findings of `check` on them, and the cache's stats. */
async function runOnce(root, files, cacheDir, { findings = true } = {}) {
  const mod = freshProcess();
  const engine = await mod.createEngine({ root, arches: ['x86_64'], ...(cacheDir ? { cacheDir } : {}) });
  try {
    const indexes = files.map((f) => indexOf(mod, engine, f, cacheDir));
    const checked = findings ? files.map((f) => JSON.stringify(engine.check(f))) : [];
    return { indexes, checked, stats: { ...mod.flagModelStats() }, folder: mod.FLAG_MODEL_FOLDER };
  } finally {
    engine.dispose();
  }
}

const cFiles = (dir) => readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && /\.c$/.test(e.name)).map((e) => path.join(e.parentPath ?? e.path, e.name)).sort();

const entriesOf = (cache, folder) => readdirSync(path.join(cache, folder)).filter((n) => n.endsWith('.v8')).map((n) => path.join(cache, folder, n)).sort();

function assertSame(actual, expected, what) {
  assert.deepEqual(actual.indexes, expected.indexes, `${what}: the flag index`);
  assert.deepEqual(actual.checked, expected.checked, `${what}: the findings`);
}

const fixtures = path.join(here, 'fixtures/flags/linux');

test('fixtures: written cold, read warm, the same index, values and findings as without a cache', { timeout: 120_000 }, async () => {
  const { tree, cache } = workspace(fixtures);
  const files = cFiles(tree);
  const reference = await runOnce(tree, files);
  assert.ok(reference.indexes.every((i) => !i.startsWith('{"macros":[]')), 'every fixture reaches flags');
  assert.ok(reference.checked.some((c) => /"rule":"(flag|union)-/.test(c)), 'the fixtures have flag findings');
  const cold = await runOnce(tree, files, cache);
  assertSame(cold, reference, 'cold');
  assert.ok(cold.stats.written >= 2 && cold.stats.hits === 0, JSON.stringify(cold.stats));
  const warm = await runOnce(tree, files, cache);
  assertSame(warm, reference, 'warm');
  assert.equal(warm.stats.misses, 0, JSON.stringify(warm.stats));
  assert.equal(warm.stats.hits, cold.stats.written);
  assert.equal(warm.stats.written, 0);
});

test('off by default (check, the language server): nothing written, nothing read', { timeout: 120_000 }, async () => {
  const { tree, cache } = workspace(fixtures);
  const files = cFiles(tree);
  await runOnce(tree, files, cache);
  delete require.cache[bundle];
  const mod = require(bundle);
  const engine = await mod.createEngine({ root: tree, arches: ['x86_64'], cacheDir: cache });
  try {
    for (const f of files) engine.check(f);
    assert.deepEqual(mod.flagModelStats(), { hits: 0, misses: 0, dropped: 0, written: 0, writeErrors: 0 });
  } finally {
    engine.dispose();
  }
});

/** Rewrites an entry's payload (deserialised, changed by `edit`, serialised) with a correct checksum. */
function rewritePayload(file, edit) {
  const bytes = readFileSync(file);
  const payload = bytes.subarray(bytes.indexOf(10) + 1);
  const value = v8.deserialize(payload);
  edit(value);
  const next = v8.serialize(value);
  writeFileSync(file, Buffer.concat([Buffer.from(`${createHash('sha1').update(next).digest('hex')}\n`), next]));
}

const DAMAGE = {
  'empty file': (f) => writeFileSync(f, ''),
  'truncated': (f) => writeFileSync(f, readFileSync(f).subarray(0, 200)),
  'a payload byte flipped': (f) => {
    const b = readFileSync(f);
    b[b.length - 20] ^= 0x41;
    writeFileSync(f, b);
  },
  'the checksum line damaged': (f) => {
    const b = readFileSync(f);
    b[3] = b[3] === 0x30 ? 0x31 : 0x30;
    writeFileSync(f, b);
  },
  'JSON instead of v8': (f) => writeFileSync(f, '{"format":"vfio-review-flag-model/1"}'),
  'another format': (f) => rewritePayload(f, (v) => { v.format = 'vfio-review-flag-model/0'; }),
  'another slot': (f) => rewritePayload(f, (v) => { v.slot = `${v.slot} `; }),
  'a macro under another name': (f) => rewritePayload(f, (v) => {
    const [name, macro] = [...v.model.macros][0];
    v.model.macros.set(`${name}_X`, macro);
  }),
  'a value as a number': (f) => rewritePayload(f, (v) => {
    for (const m of v.model.macros.values()) if (m.value) m.value.v = Number(m.value.v);
  }),
  'a field under another key': (f) => rewritePayload(f, (v) => {
    const [key, field] = [...v.model.fields][0];
    v.model.fields.delete(key);
    v.model.fields.set(`${key}x`, field);
  }),
  'inputs without hashes': (f) => rewritePayload(f, (v) => { v.inputs.files = v.inputs.files.map(([p]) => [p]); }),
  'a discriminant without evidence': (f) => rewritePayload(f, (v) => { v.commentDiscriminants.push({ owner: 'struct x', member: 'y', flag: 'Z', when: 'set' }); }),
};

test('damaged entries are dropped and rebuilt, never trusted', { timeout: 300_000 }, async () => {
  const { tree, cache } = workspace(fixtures);
  const files = cFiles(tree);
  const reference = await runOnce(tree, files, undefined, { findings: false });
  const cold = await runOnce(tree, files, cache, { findings: false });
  const entries = entriesOf(cache, cold.folder);
  assert.equal(entries.length, cold.stats.written);
  const pristine = new Map(entries.map((e) => [e, readFileSync(e)]));
  for (const [name, damage] of Object.entries(DAMAGE)) {
    for (const [e, bytes] of pristine) writeFileSync(e, bytes);
    // Every entry damaged the same way: each must be dropped.
    for (const e of entries) damage(e);
    const run = await runOnce(tree, files, cache, { findings: false });
    assert.deepEqual(run.indexes, reference.indexes, name);
    assert.equal(run.stats.hits, 0, `${name}: ${JSON.stringify(run.stats)}`);
    assert.equal(run.stats.dropped, entries.length, `${name}: ${JSON.stringify(run.stats)}`);
    assert.equal(run.stats.written, entries.length, `${name}: rebuilt`);
    const again = await runOnce(tree, files, cache, { findings: false });
    assert.equal(again.stats.hits, entries.length, `${name}: the rebuilt entries are read`);
  }
});

test('an entry whose inputs changed is not used: an included header edited, a header shadowing an include', { timeout: 120_000 }, async () => {
  const { tree, cache } = workspace(fixtures);
  // A uapi header whose field width comes from <asm/fx_width.h>: include/uapi/asm-generic's until
  // the architecture has its own, as the kernel's asm headers do.
  writeFileSync(path.join(tree, 'include/uapi/asm-generic/fx_width.h'), '#ifndef _ASM_GENERIC_FX_WIDTH_H\n#define _ASM_GENERIC_FX_WIDTH_H\ntypedef __u32 __fx_word;\n#define FX_WIDTH_MAX 0xffffffff\n#endif\n');
  writeFileSync(path.join(tree, 'include/uapi/linux/fx_width.h'), [
    '#ifndef _UAPI_FX_WIDTH_H', '#define _UAPI_FX_WIDTH_H', '#include <linux/types.h>', '#include <asm/fx_width.h>', '',
    'struct fx_width_info {', '\t__u32\targsz;', '\t__fx_word\tflags;', '#define FX_WIDTH_FLAG_ON\t(1 << 0)', '#define FX_WIDTH_FLAG_ALL\tFX_WIDTH_MAX', '\t__u32\tindex;', '};', '#endif', '',
  ].join('\n'));
  writeFileSync(path.join(tree, 'drivers/vfio/fx_width.c'), [
    '#include <linux/fx_width.h>', '#include <linux/fx_irq.h>', '',
    'static long fx_width_ioctl(void __user *arg)', '{', '\tstruct fx_width_info info;', '',
    '\tif (copy_from_user(&info, arg, sizeof(info)))', '\t\treturn -EFAULT;', '\tif (info.flags & FX_IRQ_INFO_MASKABLE)', '\t\treturn -EINVAL;', '\treturn info.flags & FX_WIDTH_FLAG_ON;', '}', '',
  ].join('\n'));
  const files = [path.join(tree, 'drivers/vfio/fx_width.c'), ...cFiles(path.join(tree, 'drivers/vfio')).filter((f) => !f.endsWith('fx_width.c'))];
  const cold = await runOnce(tree, files, cache);
  assertSame(cold, await runOnce(tree, files), 'before the edits');

  // The architecture gets its own header, found before asm-generic's: the field is 16 bits now.
  mkdirSync(path.join(tree, 'arch/x86/include/uapi/asm'), { recursive: true });
  writeFileSync(path.join(tree, 'arch/x86/include/uapi/asm/fx_width.h'), '#ifndef _ASM_X86_FX_WIDTH_H\n#define _ASM_X86_FX_WIDTH_H\ntypedef __u16 __fx_word;\n#define FX_WIDTH_MAX 0xffff\n#endif\n');
  const shadowed = await runOnce(tree, files, cache);
  const shadowedReference = await runOnce(tree, files);
  assertSame(shadowed, shadowedReference, 'with the arch header');
  assert.notDeepEqual(shadowed.indexes[0], cold.indexes[0], 'the arch header changes the index');
  assert.equal(shadowed.stats.misses, 1, `only fx_width.h's entry is stale: ${JSON.stringify(shadowed.stats)}`);

  // An included header edited: every header including linux/types.h is stale.
  const types = path.join(tree, 'include/uapi/linux/types.h');
  writeFileSync(types, readFileSync(types, 'utf8').replace('#define __aligned_u64', '#define __fx_edited 1\n#define __aligned_u64'));
  const edited = await runOnce(tree, files, cache);
  assertSame(edited, await runOnce(tree, files), 'with types.h edited');
  assert.equal(edited.stats.hits, 0, JSON.stringify(edited.stats));
  const warm = await runOnce(tree, files, cache);
  assert.equal(warm.stats.misses, 0, JSON.stringify(warm.stats));
  assertSame(warm, edited, 'warm again');
});

const kernel = kernel612();

test('6.12: the same index read back as built, on every C file of drivers/vfio and drivers/iommu/iommufd', { skip: !kernel && 'no 6.12 tree', timeout: 600_000 }, async () => {
  const cache = path.join(temp, 'cache-612');
  const files = [...cFiles(path.join(kernel, 'drivers/vfio')), ...cFiles(path.join(kernel, 'drivers/iommu/iommufd'))];
  const reference = await runOnce(kernel, files, undefined, { findings: false });
  const cold = await runOnce(kernel, files, cache, { findings: false });
  const warm = await runOnce(kernel, files, cache, { findings: false });
  assert.equal(warm.stats.misses, 0, JSON.stringify(warm.stats));
  assert.ok(warm.stats.hits >= 8, JSON.stringify(warm.stats));
  for (let i = 0; i < files.length; i++) {
    assert.equal(cold.indexes[i], reference.indexes[i], `cold ${path.relative(kernel, files[i])}`);
    assert.equal(warm.indexes[i], reference.indexes[i], `warm ${path.relative(kernel, files[i])}`);
  }
});
