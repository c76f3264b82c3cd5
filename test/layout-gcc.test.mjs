// The engine's struct layouts of the fixture headers, checked member by member against what gcc
// itself computes for x86_64 (-m64) and i386 (-m32). Runs against the bundled dist/ (npm run build).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliLayouts, compareWithGcc, declaredTypes, formatDisagreement, probeTarget, uapiIncludeDirs, withMemberAlign } from './support/gcc-layout.mjs';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const FIXTURE = path.join(repo, 'test/fixtures/layout');
const CLI = path.join(repo, 'dist/cli.js');
const ENGINE = path.join(repo, 'dist/engine.js');
const ARCHES = ['x86_64', 'i386'];

// Include names (as gcc sees them) of the headers whose types are compared.
const HEADERS = [
  'linux/vrt_scalars.h',
  'linux/vrt_arrays.h',
  'linux/vrt_nested.h',
  'linux/vrt_bitfields.h',
  'linux/vrt_attrs.h',
  'linux/vrt_cond.h',
  'linux/posix_types.h',
  'asm-generic/posix_types.h',
];
// Constructs beyond the attribute set that real uapi headers use (#pragma pack, members made by
// macros); checked the same way, reported by a test of their own.
const QUIRKS = ['linux/vrt_quirks.h'];
const ALL_HEADERS = [...HEADERS, ...QUIRKS];

let reports; // include -> CLI report (with member alignments from the library)
let result;

before(async () => {
  assert.ok(existsSync(CLI) && existsSync(ENGINE), 'dist/ is missing: run `npm run build` first');
  // gcc -m32 links only with the 32-bit libc and libgcc of gcc-multilib: fail loudly, never skip.
  for (const arch of ARCHES) {
    const p = await probeTarget(arch);
    assert.ok(p.ok, p.message);
  }
  const require = createRequire(import.meta.url);
  const engine = await require(ENGINE).createEngine({ root: FIXTURE, arches: ARCHES });
  reports = new Map();
  await Promise.all(ALL_HEADERS.map(async (inc) => {
    const file = path.join(FIXTURE, 'include/uapi', inc);
    const cli = await cliLayouts({ cli: CLI, file, root: FIXTURE, arches: ARCHES });
    reports.set(inc, { cli, lib: engine.layouts(file, [], ARCHES) });
  }));
  engine.dispose();
  const headers = ALL_HEADERS.map((inc) => {
    const { cli, lib } = reports.get(inc);
    const merged = withMemberAlign(structuredClone(cli), lib);
    const expect = declaredTypes(readFileSync(path.join(FIXTURE, 'include/uapi', inc), 'utf8'));
    return { include: inc, expect, layouts: Object.fromEntries(ARCHES.map((a) => [a, merged.arches[a]?.types ?? []])) };
  });
  result = await compareWithGcc({ headers, arches: ARCHES, includeDirs: (arch) => uapiIncludeDirs(FIXTURE, arch) });
});

const types = (inc, arch) => reports.get(inc).cli.arches[arch]?.types ?? [];
const typeNamed = (inc, arch, name) => types(inc, arch).find((t) => t.name === name);

test('gcc compiles every fixture header on both ABIs', () => {
  assert.deepEqual(result.skipped, [], result.skipped.map((s) => `[${s.arch}] ${s.header}: ${s.reason}`).join('\n'));
});

test('engine and gcc agree on every size, alignment, offset and bit position', () => {
  const lines = result.disagreements.filter((d) => !QUIRKS.includes(d.header)).map(formatDisagreement);
  assert.equal(lines.length, 0, `${lines.length} disagreement(s) with gcc:\n${lines.join('\n')}`);
});

test('#pragma pack, macro-made members and member-named macros match gcc', () => {
  const lines = result.disagreements.filter((d) => QUIRKS.includes(d.header)).map(formatDisagreement);
  assert.equal(lines.length, 0, `${lines.length} disagreement(s) with gcc:\n${lines.join('\n')}`);
});

test('the comparison covered every construct of the fixtures', (t) => {
  for (const arch of ARCHES) {
    const s = result.stats[arch];
    t.diagnostic(`${arch}: ${JSON.stringify(s)}`);
    assert.equal(s.headers, ALL_HEADERS.length, `${arch}: headers compared`);
    assert.ok(s.types >= 60, `${arch}: only ${s.types} types compared`);
    assert.ok(s.checks >= 900, `${arch}: only ${s.checks} values compared`);
    assert.ok(s.bitfields >= 40, `${arch}: only ${s.bitfields} bit-fields compared`);
    assert.ok(s.flexible >= 6, `${arch}: only ${s.flexible} flexible arrays seen`);
  }
});

test('per-ABI types follow the #if branches', () => {
  const names = (inc, arch) => new Set(types(inc, arch).map((t) => t.name));
  const cond64 = names('linux/vrt_cond.h', 'x86_64');
  const cond32 = names('linux/vrt_cond.h', 'i386');
  for (const n of ['struct vrt_only_x86_64', 'struct vrt_lp64_only']) assert.ok(cond64.has(n) && !cond32.has(n), n);
  for (const n of ['struct vrt_not_x86_64', 'struct vrt_ilp32_only']) assert.ok(cond32.has(n) && !cond64.has(n), n);
  assert.ok(!cond64.has('struct vrt_never') && !cond32.has('struct vrt_never'), '#if 0 block laid out');
  assert.ok(names('linux/vrt_scalars.h', 'x86_64').has('struct vrt_int128'));
  assert.ok(!names('linux/vrt_scalars.h', 'i386').has('struct vrt_int128'));
  const paths = (arch) => typeNamed('linux/vrt_cond.h', arch, 'struct vrt_cond_inside').members.map((m) => m.path);
  assert.deepEqual(paths('x86_64'), ['a', 'only64', 'ptr', 'words', 'tail']);
  assert.deepEqual(paths('i386'), ['a', 'only32', 'ptr', 'ptr_pad', 'words', 'tail']);
});

test('flattening: anonymous members by name, named nested ones as a.b, typedefs of anonymous aggregates', () => {
  const dep = typeNamed('linux/vrt_nested.h', 'x86_64', 'struct vrt_dependent_device');
  assert.deepEqual(dep.members.map((m) => [m.path, m.offset, m.size]), [
    ['group_id', 0, 4], ['devid', 0, 4], ['segment', 4, 2], ['bus', 6, 1], ['devfn', 7, 1],
  ]);
  assert.equal(dep.file, 'include/uapi/linux/vrt_nested.h');
  assert.equal(dep.line, 18, 'CLI lines are 1-based');
  const nn = typeNamed('linux/vrt_nested.h', 'x86_64', 'struct vrt_named_nested').members.map((m) => m.path);
  for (const p of ['hdr', 'hdr.a', 'hdr.b', 'u', 'u.parts', 'u.parts.lo', 'tagged.y']) assert.ok(nn.includes(p), p);
  const deep = typeNamed('linux/vrt_nested.h', 'x86_64', 'struct vrt_deep').members.map((m) => m.path);
  for (const p of ['outer.inner.w', 'anon_a', 'anon_named.q', 'k1', 'k_all']) assert.ok(deep.includes(p), p);
  for (const n of ['vrt_anon_struct_t', 'vrt_anon_union_t']) assert.ok(typeNamed('linux/vrt_nested.h', 'i386', n), n);
  const fsid = typeNamed('asm-generic/posix_types.h', 'i386', '__kernel_fsid_t');
  assert.ok(fsid, '__kernel_fsid_t listed under its typedef name');
  assert.equal(fsid.kind, 'struct');
  assert.ok(typeNamed('linux/posix_types.h', 'x86_64', '__kernel_fd_set'));
  // A typedef of a named struct is listed under the struct's name only.
  assert.ok(typeNamed('linux/vrt_nested.h', 'x86_64', 'struct vrt_named_td'));
  assert.ok(!typeNamed('linux/vrt_nested.h', 'x86_64', 'vrt_named_td_t'));
});

test('bit-fields, flexible arrays and holes are reported as the contract says', () => {
  const bits = typeNamed('linux/vrt_bitfields.h', 'i386', 'struct vrt_bits_u64');
  const big = bits.members.find((m) => m.path === 'big');
  assert.deepEqual([big.bitOffset, big.bitSize], [32, 40]);
  const flex = typeNamed('linux/vrt_arrays.h', 'x86_64', 'struct vrt_flex_u64').members.find((m) => m.path === 'data');
  assert.equal(flex.flexible, true);
  assert.equal(flex.offset, 8);
  const mixed64 = typeNamed('linux/vrt_scalars.h', 'x86_64', 'struct vrt_fixed_mixed');
  const mixed32 = typeNamed('linux/vrt_scalars.h', 'i386', 'struct vrt_fixed_mixed');
  const holes = (t) => t.holes.map((h) => [h.offset, h.size]);
  assert.deepEqual(holes(mixed64), [[4, 4], [17, 7], [34, 6]]);
  assert.deepEqual(holes(mixed32), [[13, 3], [26, 2]]);
  for (const [inc, r] of reports) {
    if (QUIRKS.includes(inc)) continue; // reported by the quirks test
    for (const arch of ARCHES) {
      for (const t of r.cli.arches[arch].types) {
        for (const m of t.members) assert.equal(m.unknown, undefined, `${arch} ${inc} ${t.name}.${m.path}: unknown (${m.unknown})`);
      }
    }
  }
});

test('the CLI JSON and the library agree (lines 1-based vs 0-based)', () => {
  for (const [inc, { cli, lib }] of reports) {
    for (const arch of ARCHES) {
      const lt = lib.arches[arch].types;
      const ct = cli.arches[arch].types;
      assert.deepEqual(ct.map((t) => t.name), lt.map((t) => t.name), `${arch} ${inc}: type lists`);
      ct.forEach((t, i) => {
        const l = lt[i];
        assert.equal(t.line, l.line + 1, `${t.name}: line`);
        // The library reports absolute paths, the CLI paths relative to the root.
        const libFile = path.isAbsolute(l.file) ? path.relative(FIXTURE, l.file) : l.file;
        assert.deepEqual([t.size, t.align, t.kind, t.file], [l.size, l.align, l.kind, libFile], `${t.name}`);
        const pick = (m) => [m.path, m.type, m.offset, m.size, m.bitOffset, m.bitSize, m.flexible];
        assert.deepEqual(t.members.map(pick), l.members.map(pick), `${arch} ${t.name}: members`);
      });
    }
  }
});
