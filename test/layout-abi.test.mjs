// The fixture's layouts on every ABI, checked against tables written from each ABI's documented
// rules (SysV i386 and x86-64 psABI, AAPCS and AAPCS64, RISC-V and ELFv2 psABIs, s390x ELF ABI).
// x86_64 and i386 are also checked against gcc itself (layout-gcc.test.mjs); for the other ABIs
// the last test does the same with Debian's cross compilers when they are installed.
//
// Bit positions: `bitOffset` counts bits in memory order. Byte n holds bits 8n..8n+7, counted
// from the least significant bit on little-endian targets and from the most significant bit on
// big-endian s390x, which is the order in which each target's gcc allocates bit-fields. With
// that convention a struct's bit-field numbers are the same on s390x as on a little-endian LP64
// target, and that is what these tables assert.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliLayouts, compareWithGcc, declaredTypes, formatDisagreement, probeTarget, TARGETS, uapiIncludeDirs, withMemberAlign, writeAsmGenericShims } from './support/gcc-layout.mjs';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const FIXTURE = path.join(repo, 'test/fixtures/layout');
const CLI = path.join(repo, 'dist/cli.js');
const ALL = ['x86_64', 'i386', 'arm64', 'arm', 'riscv64', 'ppc64le', 's390x'];
const LP64 = ['x86_64', 'arm64', 'riscv64', 'ppc64le', 's390x'];
const ILP32 = ['i386', 'arm'];
const HEADERS = ['linux/vrt_scalars.h', 'linux/vrt_arrays.h', 'linux/vrt_bitfields.h', 'linux/vrt_attrs.h', 'linux/vrt_cond.h', 'linux/vrt_nested.h', 'linux/posix_types.h', 'asm-generic/posix_types.h'];

/**
 * Basic types inside structs. ll/dbl: alignment of long long and double as members (i386 gives
 * them 4, everyone else 8). ld, i128: [size, align], null where the type does not exist.
 * maxAlign: what `__attribute__((aligned))` means. bitfieldTypeAligns: whether an unnamed or
 * zero-width bit-field's declared type raises the struct's alignment (AAPCS, AAPCS64: yes).
 */
const ABI = {
  x86_64: { long: 8, ptr: 8, ll: 8, dbl: 8, ld: [16, 16], i128: [16, 16], maxAlign: 16, bitfieldTypeAligns: false },
  i386: { long: 4, ptr: 4, ll: 4, dbl: 4, ld: [12, 4], i128: null, maxAlign: 16, bitfieldTypeAligns: false },
  arm64: { long: 8, ptr: 8, ll: 8, dbl: 8, ld: [16, 16], i128: [16, 16], maxAlign: 16, bitfieldTypeAligns: true },
  arm: { long: 4, ptr: 4, ll: 8, dbl: 8, ld: [8, 8], i128: null, maxAlign: 8, bitfieldTypeAligns: true },
  riscv64: { long: 8, ptr: 8, ll: 8, dbl: 8, ld: [16, 16], i128: [16, 16], maxAlign: 16, bitfieldTypeAligns: false },
  ppc64le: { long: 8, ptr: 8, ll: 8, dbl: 8, ld: [16, 16], i128: [16, 16], maxAlign: 16, bitfieldTypeAligns: false },
  s390x: { long: 8, ptr: 8, ll: 8, dbl: 8, ld: [16, 8], i128: [16, 8], maxAlign: 8, bitfieldTypeAligns: false },
};

let reports; // include -> CLI report for all ABIs

before(async () => {
  assert.ok(existsSync(CLI), 'dist/cli.js is missing: run `npm run build` first');
  reports = new Map();
  await Promise.all(HEADERS.map(async (inc) => {
    reports.set(inc, await cliLayouts({ cli: CLI, file: path.join(FIXTURE, 'include/uapi', inc), root: FIXTURE, arches: ALL }));
  }));
});

function type(arch, name) {
  for (const r of reports.values()) {
    const t = r.arches[arch]?.types.find((x) => x.name === name);
    if (t) return t;
  }
  return undefined;
}

function member(arch, typeName, p) {
  const t = type(arch, typeName);
  assert.ok(t, `${arch}: ${typeName} not laid out`);
  const m = t.members.find((x) => x.path === p);
  assert.ok(m, `${arch}: ${typeName} has no member ${p} (has ${t.members.map((x) => x.path).join(', ')})`);
  return m;
}

/** Expects size, align and member offsets ({ path: offset } or { path: [offset, size] }). */
function expectLayout(arch, name, { size, align, offsets = {}, bits = {}, absent = [] }) {
  const t = type(arch, name);
  assert.ok(t, `${arch}: ${name} not laid out`);
  const where = `${arch} ${name}`;
  assert.equal(t.size, size, `${where}: size`);
  assert.equal(t.align, align, `${where}: align`);
  for (const [p, want] of Object.entries(offsets)) {
    const m = member(arch, name, p);
    const [off, sz] = Array.isArray(want) ? want : [want, undefined];
    assert.equal(m.offset, off, `${where}.${p}: offset`);
    if (sz !== undefined) assert.equal(m.size, sz, `${where}.${p}: size`);
  }
  for (const [p, [bo, bs]] of Object.entries(bits)) {
    const m = member(arch, name, p);
    assert.deepEqual([m.bitOffset, m.bitSize], [bo, bs], `${where}.${p}: bitOffset, bitSize`);
  }
  for (const p of absent) assert.ok(!t.members.some((m) => m.path === p), `${where}: ${p} should not exist`);
}

const roundUp = (n, a) => Math.ceil(n / a) * a;

test('basic types: size and alignment per ABI, read from the member after each char', () => {
  // [char member, typed member, key in ABI or [size, align]]
  const pairs = [
    ['c1', 'us', [2, 2]], ['c2', 'i', [4, 4]], ['c4', 'l', 'long'], ['c5', 'ul', 'long'],
    ['c6', 'll', 'll'], ['c7', 'ull', 'll'], ['c8', 'b', [1, 1]], ['c9', 'f', [4, 4]], ['c10', 'd', 'dbl'],
  ];
  for (const arch of ALL) {
    const abi = ABI[arch];
    for (const [c, m, spec] of pairs) {
      const [size, align] = Array.isArray(spec) ? spec : spec === 'long' ? [abi.long, abi.long] : [8, abi[spec]];
      const cm = member(arch, 'struct vrt_c_types', c);
      const tm = member(arch, 'struct vrt_c_types', m);
      assert.equal(tm.size, size, `${arch} ${m}: size`);
      assert.equal(tm.offset, roundUp(cm.offset + 1, align), `${arch} ${m}: offset after ${c} (alignment ${align})`);
    }
    const [ldSize, ldAlign] = abi.ld;
    expectLayout(arch, 'struct vrt_long_double', {
      size: roundUp(ldAlign + ldSize + 1, ldAlign), align: ldAlign, offsets: { ld: [ldAlign, ldSize], tail: ldAlign + ldSize },
    });
    expectLayout(arch, 'struct vrt_double_only', { size: roundUp(9, abi.dbl), align: abi.dbl, offsets: { c: 8 } });
    if (abi.i128) {
      const [s, a] = abi.i128;
      expectLayout(arch, 'struct vrt_int128', { size: roundUp(a + 2 * s, a), align: a, offsets: { v: [a, s], s: [a + s, s] } });
    } else {
      assert.equal(type(arch, 'struct vrt_int128'), undefined, `${arch}: no __int128, so no struct vrt_int128`);
    }
  }
});

test('pointers, long and the kernel types that follow long', () => {
  const p64 = { c: 0, p: 8, c1: 16, cp: 24, up: 32, uq: 40, cup: 48, pp: 56, sp: 64, fn: 72, c2: 80, handlers: [88, 16], ulp: 104 };
  const p32 = { c: 0, p: 4, c1: 8, cp: 12, up: 16, uq: 20, cup: 24, pp: 28, sp: 32, fn: 36, c2: 40, handlers: [44, 8], ulp: 52 };
  for (const arch of LP64) expectLayout(arch, 'struct vrt_pointers', { size: 112, align: 8, offsets: p64 });
  for (const arch of ILP32) expectLayout(arch, 'struct vrt_pointers', { size: 56, align: 4, offsets: p32 });
  // Sizes of the kernel's typedefs: long-based ones follow the ABI; the per-arch ones follow
  // arch/<arch>/include/uapi/asm/posix_types.h of the fixture.
  const k = (arch, p) => member(arch, 'struct vrt_kernel_types', p).size;
  for (const arch of ALL) {
    const L = ABI[arch].long;
    for (const p of ['l', 'ul', 'sz', 'ssz', 'pd', 'off', 'old_time', 'caddr', 'handler']) assert.equal(k(arch, p), L, `${arch} ${p}`);
    for (const p of ['loff', 't64']) assert.equal(k(arch, p), 8, `${arch} ${p}`);
    assert.equal(k(arch, 'fds'), 128, `${arch} fds`);
    assert.equal(k(arch, 'fsid'), 8, `${arch} fsid`);
    const short16 = ILP32.includes(arch);
    assert.equal(k(arch, 'mode'), short16 ? 2 : 4, `${arch} mode`);
    assert.equal(k(arch, 'uid'), short16 ? 2 : 4, `${arch} uid`);
    assert.equal(k(arch, 'old_dev'), { x86_64: 8, i386: 2, arm: 2, s390x: 2 }[arch] ?? 4, `${arch} old_dev`);
    assert.equal(k(arch, 'ino'), arch === 's390x' ? 4 : L, `${arch} ino`);
  }
});

test('8-byte members: 4-aligned on i386 only, __aligned_u64 8-aligned everywhere', () => {
  for (const arch of ALL) {
    const i386 = arch === 'i386';
    expectLayout(arch, 'struct vrt_fixed_mixed', i386
      ? { size: 28, align: 4, offsets: { b: 4, c: 12, d: 16, e: 24 } }
      : { size: 40, align: 8, offsets: { b: 8, c: 16, d: 24, e: 32 } });
    const holes = type(arch, 'struct vrt_fixed_mixed').holes.map((h) => [h.offset, h.size]);
    assert.deepEqual(holes, i386 ? [[13, 3], [26, 2]] : [[4, 4], [17, 7], [34, 6]], `${arch} holes`);
    expectLayout(arch, 'struct vrt_aligned64', {
      size: 56, align: 8, offsets: { iova: 8, len: 16, be: 24, tag: 32, le: 40, tail: 48 },
    });
    expectLayout(arch, 'struct vrt_flex_u64', i386 ? { size: 4, align: 4, offsets: { data: 4 } } : { size: 8, align: 8, offsets: { data: 8 } });
    assert.equal(member(arch, 'struct vrt_flex_u64', 'data').flexible, true);
    // An enum with an enumerator above 32 bits is an 8-byte integer.
    expectLayout(arch, 'struct vrt_enums', i386
      ? { size: 48, align: 4, offsets: { w: [4, 8], c: 12, n: 16, t: 20, sh: [28, 8], arr: [36, 12] } }
      : { size: 56, align: 8, offsets: { w: [8, 8], c: 16, n: 20, t: 24, sh: [32, 8], arr: [40, 12] } });
  }
});

test('aligned without an argument means the largest alignment of the target', () => {
  for (const arch of ALL) {
    const a = ABI[arch].maxAlign;
    expectLayout(arch, 'struct vrt_aligned_bare', { size: a, align: a, offsets: { a: 0, b: 1 } });
  }
});

test('#if on predefined macros and __BITS_PER_LONG picks members per ABI', () => {
  const inside = {
    x86_64: { size: 32, align: 8, offsets: { only64: 8, ptr: 16, words: [24, 4], tail: 28 }, absent: ['only32', 'other', 'ptr_pad'] },
    i386: { size: 28, align: 4, offsets: { only32: 4, ptr: 8, ptr_pad: 12, words: [16, 8], tail: 24 }, absent: ['only64', 'other'] },
    arm: { size: 28, align: 4, offsets: { other: 4, ptr: 8, ptr_pad: 12, words: [16, 8], tail: 24 }, absent: ['only64', 'only32'] },
  };
  const lp64Other = { size: 24, align: 8, offsets: { other: [4, 2], ptr: 8, words: [16, 4], tail: 20 }, absent: ['only64', 'only32', 'ptr_pad'] };
  for (const arch of ALL) expectLayout(arch, 'struct vrt_cond_inside', inside[arch] ?? lp64Other);

  const nested = {
    x86_64: { size: 24, align: 8, offsets: { x86_64_only: [2, 2], not_i386: 8, lp64_le: 16, tail: 17 }, absent: ['arm64_only'] },
    i386: { size: 2, align: 1, offsets: { tail: 1 }, absent: ['x86_64_only', 'arm64_only', 'not_i386', 'lp64_le'] },
    arm64: { size: 24, align: 8, offsets: { arm64_only: [4, 4], not_i386: 8, lp64_le: 16, tail: 17 }, absent: ['x86_64_only'] },
    arm: { size: 24, align: 8, offsets: { not_i386: 8, tail: 16 }, absent: ['x86_64_only', 'arm64_only', 'lp64_le'] },
    riscv64: { size: 24, align: 8, offsets: { not_i386: 8, lp64_le: 16, tail: 17 }, absent: ['x86_64_only', 'arm64_only'] },
    ppc64le: { size: 24, align: 8, offsets: { not_i386: 8, lp64_le: 16, tail: 17 }, absent: ['x86_64_only', 'arm64_only'] },
    s390x: { size: 24, align: 8, offsets: { not_i386: 8, tail: 16 }, absent: ['x86_64_only', 'arm64_only', 'lp64_le'] },
  };
  for (const arch of ALL) expectLayout(arch, 'struct vrt_cond_nested', nested[arch]);

  const has = (arch, name) => type(arch, name) !== undefined;
  for (const arch of ALL) {
    assert.equal(has(arch, 'struct vrt_only_x86_64'), arch === 'x86_64', `${arch} vrt_only_x86_64`);
    assert.equal(has(arch, 'struct vrt_not_x86_64'), arch !== 'x86_64', `${arch} vrt_not_x86_64`);
    assert.equal(has(arch, 'struct vrt_lp64_only'), LP64.includes(arch), `${arch} vrt_lp64_only`);
    assert.equal(has(arch, 'struct vrt_ilp32_only'), ILP32.includes(arch), `${arch} vrt_ilp32_only`);
  }
  expectLayout('arm', 'struct vrt_ilp32_only', { size: 16, align: 8, offsets: { a: [0, 4], b: [8, 8] } });
  expectLayout('i386', 'struct vrt_ilp32_only', { size: 12, align: 4, offsets: { a: [0, 4], b: [4, 8] } });
});

test('compiler-predefined macros match gcc: which optional members exist', () => {
  // gcc 12 predefines __LITTLE_ENDIAN__ on ppc64le only and __BIG_ENDIAN__ nowhere here;
  // __ILP32__ on i386 (not arm); __CHAR_UNSIGNED__ on every ABI but x86; __BIGGEST_ALIGNMENT__
  // everywhere (16, but 8 on arm and s390x); __ARM_EABI__ on arm.
  const want = {
    x86_64: ['biggest_16'],
    i386: ['ilp32_macro', 'biggest_16', 'long_double_12'],
    arm64: ['char_unsigned', 'biggest_16'],
    arm: ['char_unsigned', 'arm_eabi'],
    riscv64: ['char_unsigned', 'biggest_16'],
    ppc64le: ['little_endian_macro', 'char_unsigned', 'biggest_16'],
    s390x: ['char_unsigned'],
  };
  for (const arch of ALL) {
    const t = type(arch, 'struct vrt_cond_predefined');
    assert.deepEqual(t.members.map((m) => m.path), ['first', ...want[arch], 'last'], `${arch}: members of struct vrt_cond_predefined`);
  }
});

test('bit-fields: unit boundaries per ABI, memory order on big-endian s390x', () => {
  for (const arch of ALL) {
    const i386 = arch === 'i386';
    // A __u64 bit-field may not cross an 8-byte boundary, except on i386 where its unit is 4-aligned.
    expectLayout(arch, 'struct vrt_bits_u64', i386
      ? { size: 16, align: 4, bits: { big: [32, 40], rest: [72, 24], x: [96, 4] } }
      : { size: 24, align: 8, bits: { big: [64, 40], rest: [104, 24], x: [128, 4] } });
    expectLayout(arch, 'struct vrt_bits_basic', { size: 8, align: 4, bits: { a: [0, 1], b: [1, 2], c: [3, 29] }, offsets: { d: 4 } });
    expectLayout(arch, 'struct vrt_bits_cross', { size: 12, align: 4, bits: { a: [0, 30], b: [32, 4], c: [40, 7], d: [48, 2], e: [50, 9] }, offsets: { f: 8 } });
    const L = ABI[arch].long * 8;
    expectLayout(arch, 'struct vrt_bits_long', L === 64
      ? { size: 8, align: 8, bits: { a: [0, 20], b: [20, 20], c: [40, 3] } }
      : { size: 8, align: 4, bits: { a: [0, 20], b: [32, 20], c: [52, 3] } });
    // Unnamed and zero-width bit-fields: on arm and arm64 their declared type aligns the struct.
    const aapcs = ABI[arch].bitfieldTypeAligns;
    expectLayout(arch, 'struct vrt_bits_unnamed_only', aapcs ? { size: 4, align: 4 } : { size: 2, align: 1 });
    expectLayout(arch, 'struct vrt_bits_unnamed', { ...(aapcs ? { size: 4, align: 4 } : { size: 3, align: 1 }), bits: { a: [0, 3], b: [8, 4] } });
    expectLayout(arch, 'struct vrt_bits_zero', {
      ...(aapcs ? { size: 16, align: 8 } : { size: 10, align: 1 }), bits: { a: [0, 3], b: [32, 2], c: [64, 1] }, offsets: { d: 9 },
    });
    expectLayout(arch, 'struct vrt_bits_packed', { size: 7, align: 1, bits: { a: [0, 4], b: [4, 30], c: [34, 10] }, offsets: { d: 6 } });
    expectLayout(arch, 'struct vrt_bits_nested', {
      size: 8, align: 4, offsets: { flags: 0, pos: [4, 2], tail: 6 },
      bits: { enable: [0, 1], mode: [1, 3], level: [8, 8], 'pos.x': [32, 4], 'pos.y': [36, 12] },
    });
  }
});

test('packed and aligned, every spelling, on every ABI', () => {
  for (const arch of ALL) {
    const ll = ABI[arch].ll;
    expectLayout(arch, 'struct vrt_packed_attr', { size: 15, align: 1, offsets: { b: 1, c: 5, d: 7 } });
    expectLayout(arch, 'struct vrt_packed_prefix', { size: 5, align: 1, offsets: { b: 1 } });
    expectLayout(arch, 'struct vrt_packed_underscores', { size: 10, align: 1, offsets: { b: 2 } });
    expectLayout(arch, 'struct vrt_packed_macro', { size: 11, align: 1, offsets: { b: 1, c: 9 } });
    expectLayout(arch, 'struct vrt_member_packed', { size: roundUp(16, 2), align: 2, offsets: { b: 1, c: 5, d: 6, e: 14 } });
    expectLayout(arch, 'struct vrt_aligned_struct', { size: 8, align: 8 });
    expectLayout(arch, 'struct vrt_aligned_macro', { size: 16, align: 16 });
    expectLayout(arch, 'struct vrt_aligned_expr', { size: 32, align: 32 });
    expectLayout(arch, 'struct vrt_aligned_member', { size: 32, align: 16, offsets: { b: 8, c: 16, d: 20, e: 24 } });
    expectLayout(arch, 'struct vrt_packed_aligned', { size: 8, align: 4, offsets: { b: 1 } });
    expectLayout(arch, 'struct vrt_packed_then_aligned', { size: 10, align: 2, offsets: { b: 1 } });
    expectLayout(arch, 'struct vrt_packed_with_aligned_member', { size: 12, align: 4, offsets: { b: 4, c: 8 } });
    expectLayout(arch, 'struct vrt_packed_with_aligned_u64', { size: 24, align: 8, offsets: { b: 8, c: 16 } });
    // A typedef's alignment does not survive packing; a member's own attribute does.
    expectLayout(arch, 'struct vrt_packed_with_aligned_typedef', { size: 6, align: 1, offsets: { b: 1, c: 5 } });
    // aligned on a typedef of a tagged struct leaves the struct itself alone and keeps sizeof.
    expectLayout(arch, 'struct vrt_td_x', { size: 2, align: 2 });
    // aligned(4) on a typedef lowers __u64's alignment on the ABIs where it is 8.
    expectLayout(arch, 'struct vrt_uses_aligned_typedefs', {
      size: 64, align: 16,
      offsets: { b: [8, 4], c: 12, d: [16, 8], e: 24, f: [28, 4], g: 32, h: [40, 2], i: 42, j: [48, 2], k: [50, 2] },
    });
    const fm = ll === 4 ? 28 : 40; // sizeof(struct vrt_fixed_mixed)
    expectLayout(arch, 'struct vrt_packed_outer', { size: 1 + fm + 2, align: 1, offsets: { inner: [1, fm], b: 1 + fm } });
    expectLayout(arch, 'union vrt_packed_union', { size: 8, align: 1 });
    expectLayout(arch, 'struct vrt_packed_anon', { size: 10, align: 1, offsets: { v32: 1, v64: 1, tail: 9 } });
    expectLayout(arch, 'struct vrt_uses_packed_enums', { size: 6, align: 2, offsets: { a: [0, 1], b: [2, 2], c: [4, 1] } });
  }
});

test('nested aggregates and arrays', () => {
  for (const arch of ALL) {
    expectLayout(arch, 'struct vrt_dependent_device', { size: 8, align: 4, offsets: { group_id: 0, devid: 0, segment: 4, bus: 6, devfn: 7 } });
    expectLayout(arch, 'struct vrt_reset_info', { size: 12, align: 4, offsets: { devices: 12 } });
    // u holds a __u64: 4-aligned on i386 only; tagged holds an __aligned_u64: 8-aligned everywhere.
    const u = arch === 'i386' ? 12 : 16;
    expectLayout(arch, 'struct vrt_named_nested', {
      size: 48, align: 8, offsets: { hdr: [4, 8], 'hdr.b': 8, u: [u, 8], 'u.parts.hi': u + 4, tagged: [24, 16], 'tagged.y': 32, tail: 40 },
    });
    expectLayout(arch, 'struct vrt_hw_info', { size: 40, align: 8, offsets: { intel: 16, 'arm.idr': 16, raw: [16, 12], data_uptr: 32 } });
    expectLayout(arch, '__kernel_fsid_t', { size: 8, align: 4, offsets: { val: [0, 8] } });
    const L = ABI[arch].long;
    expectLayout(arch, '__kernel_fd_set', { size: 128, align: L, offsets: { fds_bits: [0, 128] } });
    const longs = L === 8 ? 2 : 3;
    const arr = member(arch, 'struct vrt_arrays', 'longs');
    assert.equal(arr.size, longs * L, `${arch} longs[] size`);
    for (const [p, size] of [['x', 36], ['shifted', 16], ['derived', 12], ['cube', 2 * 3 * 18], ['by_enum', 5], ['by_sizeof', 16], ['by_sizeof_type', 16], ['nested_len', 7]]) {
      assert.equal(member(arch, 'struct vrt_arrays', p).size, size, `${arch} vrt_arrays.${p}`);
    }
  }
});

// The same fixture compiled by Debian's cross compilers, when they are installed (about 10 s of
// apt-get each: gcc-aarch64-linux-gnu gcc-arm-linux-gnueabi gcc-riscv64-linux-gnu
// gcc-powerpc64le-linux-gnu gcc-s390x-linux-gnu). Objects are only compiled, never linked.
for (const arch of ['arm64', 'arm', 'riscv64', 'ppc64le', 's390x']) {
  const cc = TARGETS[arch].cc;
  let present = true;
  try {
    execFileSync(cc, ['--version'], { stdio: 'ignore' });
  } catch {
    present = false;
  }
  test(`${arch}: engine agrees with ${cc}`, { skip: present ? false : `${cc} not installed` }, async (t) => {
    const p = await probeTarget(arch);
    assert.ok(p.ok, p.message);
    const require = createRequire(import.meta.url);
    const engine = await require(path.join(repo, 'dist/engine.js')).createEngine({ root: FIXTURE, arches: [arch] });
    const headers = HEADERS.map((inc) => {
      const cli = structuredClone(reports.get(inc));
      const merged = withMemberAlign(cli, engine.layouts(path.join(FIXTURE, 'include/uapi', inc), [], [arch]));
      const expect = declaredTypes(readFileSync(path.join(FIXTURE, 'include/uapi', inc), 'utf8'));
      return { include: inc, expect, layouts: { [arch]: merged.arches[arch].types } };
    });
    engine.dispose();
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    // Headers the kernel's build would generate as asm-generic wrappers for this arch.
    const shim = mkdtempSync(path.join(tmpdir(), `vr-shim-${arch}-`));
    try {
      writeAsmGenericShims(FIXTURE, arch, shim, ['types.h', 'bitsperlong.h', 'posix_types.h']);
      const r = await compareWithGcc({ headers, arches: [arch], includeDirs: (a) => uapiIncludeDirs(FIXTURE, a, [shim]) });
      t.diagnostic(JSON.stringify(r.stats[arch]));
      assert.deepEqual(r.skipped, []);
      const lines = r.disagreements.map(formatDisagreement);
      assert.equal(lines.length, 0, `${lines.length} disagreement(s) with ${cc}:\n${lines.join('\n')}`);
    } finally {
      rmSync(shim, { recursive: true, force: true });
    }
  });
}
