// preprocessUnit replays the processing of an included file recorded in an earlier unit when the
// macros, files and includes it depends on are the same (server/src/engine/preprocess/unit.ts).
// The replayed units must equal those processed file by file: every variant text, declaration
// and attribute macro, pack state, depth, the macro table in its order, the inputs and problems.
// Checked on fixtures written for the awkward cases (pack pragmas, #pragma once, include cycles,
// an include chosen by a macro, headers met at several depths, #undef of an included macro, a
// header without a guard) and
// on 6.12's uapi headers and some kernel C when the tree is on this machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { repoRoot } from './support/lsp-client.mjs';
import { kernel612 } from './support/kernel-612.mjs';

let engine;
let temp;

before(async () => {
  temp = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-replay-'));
  const entry = path.join(temp, 'entry.ts');
  const src = (p) => JSON.stringify(path.join(repoRoot, 'server', 'src', 'engine', p));
  fs.writeFileSync(entry, `export { preprocessUnit } from ${src('preprocess/unit')};\nexport { SourceStore } from ${src('workspace')};\nexport { ABIS } from ${src('layout/abi')};\n`);
  await build({ entryPoints: [entry], outfile: path.join(temp, 'unit.cjs'), bundle: true, platform: 'node', format: 'cjs', logLevel: 'silent' });
  engine = createRequire(import.meta.url)(path.join(temp, 'unit.cjs'));
});

after(() => {
  if (temp) fs.rmSync(temp, { recursive: true, force: true });
});

/** Everything a unit says, in order, as plain data. */
function outline(unit) {
  return {
    files: unit.files.map((v) => ({ path: v.path, text: v.text, sourceHash: v.sourceHash, depth: v.depth, declarations: v.declarations, attributes: v.attributes, packs: v.packs })),
    macros: [...unit.macros.values()].map((m) => [m.name, m.params, m.variadic, m.body, m.file, m.line, m.character]),
    inputs: [...unit.inputs],
    problems: unit.problems,
  };
}

/**
 * Every (file, ABI, mode) of `jobs` through one store with replays, twice in two orders, against
 * each processed alone with replay off; returns how many units were compared.
 */
function compareAll(root, jobs) {
  const store = new engine.SourceStore(true);
  const unitOf = (job, replay, withStore) => {
    const abi = engine.ABIS[job.abi];
    const predefined = { ...abi.predefined };
    if (!job.uapi) predefined.__KERNEL__ = '1';
    return engine.preprocessUnit(path.join(root, job.file), { store: withStore, include: { root, abi, uapi: job.uapi, extra: [] }, predefined, scanOnly: job.scanOnly, replay });
  };
  const slow = jobs.map((job) => JSON.stringify(outline(unitOf(job, false, new engine.SourceStore(true)))));
  let compared = 0;
  for (const order of [jobs.map((_, i) => i), jobs.map((_, i) => jobs.length - 1 - i)]) {
    for (const i of order) {
      const fast = JSON.stringify(outline(unitOf(jobs[i], true, store)));
      if (fast !== slow[i]) assert.deepEqual(JSON.parse(fast), JSON.parse(slow[i]), `${jobs[i].file} (${jobs[i].abi}${jobs[i].scanOnly ? ', scan only' : ''})`);
      compared++;
    }
  }
  return compared;
}

const FIXTURE = {
  'Kbuild': '# a tree root\n',
  'include/uapi/linux/types.h': `#ifndef _UAPI_LINUX_TYPES_H
#define _UAPI_LINUX_TYPES_H
#include <asm/bitsperlong.h>
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define __aligned_u64 __u64 __attribute__((aligned(8)))
#define __DECLARE_FLEX_ARRAY(T, m) struct { struct { } __empty_ ## m; T m[]; }
#define HELPER 1
#endif
`,
  'include/uapi/asm-generic/bitsperlong.h': `#ifndef __ASM_GENERIC_BITS_PER_LONG
#define __ASM_GENERIC_BITS_PER_LONG
#ifndef __BITS_PER_LONG
#if defined(__x86_64__) || defined(__aarch64__)
#define __BITS_PER_LONG 64
#else
#define __BITS_PER_LONG 32
#endif
#endif
#endif
`,
  'include/uapi/linux/packed.h': `#ifndef _PACKED_H
#define _PACKED_H
#include <linux/types.h>
#pragma pack(push, 4)
struct in_pack { __u32 a; __u64 b; };
#pragma pack(pop)
#endif
`,
  'include/uapi/linux/once.h': `#pragma once
#include <linux/types.h>
struct once { __u32 x; };
`,
  'include/uapi/linux/cycle_a.h': `#include <linux/cycle_b.h>
struct cycle_a { int a; };
`,
  'include/uapi/linux/cycle_b.h': `#include <linux/cycle_a.h>
struct cycle_b { int b; };
`,
  'include/uapi/linux/chooser.h': `#ifndef _CHOOSER_H
#define _CHOOSER_H
#ifdef WANT_PACKED
#include <linux/packed.h>
#else
#include <linux/types.h>
#endif
#include <linux/nested.h>
#endif
`,
  'include/uapi/linux/nested.h': `#ifndef _NESTED_H
#define _NESTED_H
#include <linux/types.h>
struct nested { __aligned_u64 v; __DECLARE_FLEX_ARRAY(__u32, data); };
#if __BITS_PER_LONG == 64
struct wide { long l; };
#endif
#endif
`,
  'include/uapi/linux/user_a.h': `#ifndef _USER_A_H
#define _USER_A_H
#include <linux/types.h>
#undef HELPER
#include <linux/nested.h>
#include <linux/once.h>
#include <linux/once.h>
struct user_a { __u32 x; };
#endif
`,
  'include/uapi/linux/user_b.h': `#ifndef _USER_B_H
#define _USER_B_H
#define WANT_PACKED
#include <linux/chooser.h>
#include <linux/types.h>
#if HELPER
struct helper_on { __u32 y; };
#endif
#endif
`,
  'include/uapi/linux/user_c.h': `#ifndef _USER_C_H
#define _USER_C_H
#include <linux/chooser.h>
#include <linux/cycle_a.h>
#include <linux/user_a.h>
#include <linux/missing.h>
#endif
`,
  // No guard: a second inclusion runs again but adds no variant, so what includes it depends on
  // whether it was met before, which no macro tells.
  'include/uapi/linux/noguard.h': `#define NOGUARD 1
struct noguard { int n; };
`,
  'include/uapi/linux/wrapper.h': `#include <linux/noguard.h>
struct wrapper { int w; };
`,
  'include/uapi/linux/user_e.h': `#include <linux/noguard.h>
#include <linux/wrapper.h>
`,
  'include/uapi/linux/user_f.h': `#include <linux/wrapper.h>
`,
  'include/uapi/linux/user_d.h': `#pragma pack(push, 2)
#include <linux/nested.h>
#pragma pack(pop)
#include <linux/packed.h>
#include <linux/user_b.h>
`,
};

test('replayed units equal units processed file by file: fixtures of the awkward cases', () => {
  const root = path.join(temp, 'tree');
  for (const [rel, text] of Object.entries(FIXTURE)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  const headers = Object.keys(FIXTURE).filter((f) => f.startsWith('include/uapi/linux/'));
  const jobs = [];
  for (const abi of ['x86_64', 'i386']) for (const file of headers) for (const scanOnly of [false, true]) jobs.push({ file, abi, uapi: true, scanOnly });
  assert.equal(compareAll(root, jobs), jobs.length * 2);
});

const tree = kernel612();

test('replayed units equal units processed file by file: 6.12 uapi headers and kernel C', { skip: tree ? false : 'no 6.12 tree on this machine', timeout: 600_000 }, () => {
  const headers = fs.readdirSync(path.join(tree, 'include/uapi/linux')).filter((f) => f.endsWith('.h')).sort().map((f) => `include/uapi/linux/${f}`);
  const jobs = [];
  for (const abi of ['x86_64', 'i386']) for (const file of headers) jobs.push({ file, abi, uapi: true });
  // Another ABI's include folders, and kernel C with __KERNEL__ through the kernel's headers.
  for (const file of headers.filter((_, i) => i % 8 === 0)) jobs.push({ file, abi: 'arm64', uapi: true });
  for (const file of ['drivers/vfio/vfio_main.c', 'drivers/vfio/group.c', 'drivers/vfio/pci/vfio_pci_core.c', 'drivers/iommu/iommufd/main.c']) {
    jobs.push({ file, abi: 'x86_64', uapi: false }, { file, abi: 'x86_64', uapi: false, scanOnly: true });
  }
  assert.equal(compareAll(tree, jobs), jobs.length * 2);
});
