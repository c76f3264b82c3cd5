// The analysis service without any front end: documents in, findings / layouts / hovers out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEngine, findKernelRoot, UsageError } from '../../dist/engine.js';

function tree(files) {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-engine-'));
  for (const [rel, text] of Object.entries({ Kbuild: '', ...files })) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  }
  return root;
}

const typesHeader = {
  'include/uapi/linux/types.h': '#ifndef _LINUX_TYPES_H\n#define _LINUX_TYPES_H\n#include <asm/types.h>\n#define __aligned_u64 __u64 __attribute__((aligned(8)))\n#endif\n',
  // No arch/x86 asm/types.h: resolution falls back to asm-generic, as the kernel's generated wrappers do.
  'include/uapi/asm-generic/types.h': '#include <asm-generic/int-ll64.h>\n',
  'include/uapi/asm-generic/int-ll64.h': 'typedef unsigned int __u32;\ntypedef unsigned long long __u64;\ntypedef unsigned short __u16;\ntypedef unsigned char __u8;\n',
  'arch/x86/include/uapi/asm/bitsperlong.h': '#ifdef __x86_64__\n#define __BITS_PER_LONG 64\n#else\n#define __BITS_PER_LONG 32\n#endif\n',
  'include/uapi/asm-generic/bitsperlong.h': '#ifndef __BITS_PER_LONG\n#define __BITS_PER_LONG 64\n#endif\n',
};

test('findKernelRoot walks up to include/uapi + Kbuild', () => {
  const root = tree(typesHeader);
  try {
    assert.equal(findKernelRoot(path.join(root, 'include/uapi/linux/types.h')), root);
    assert.equal(findKernelRoot(tmpdir()), undefined);
  } finally {
    rmSync(root, { recursive: true });
  }
});

test('#if branches are taken per ABI and <asm/...> falls back to asm-generic', async () => {
  const root = tree({
    ...typesHeader,
    'include/uapi/linux/abi.h': [
      '#include <linux/types.h>',
      '#include <asm/bitsperlong.h>',
      'struct per_abi {',
      '#if __BITS_PER_LONG == 64',
      '\t__u64 word;',
      '#else',
      '\t__u32 word;',
      '#endif',
      '\t__aligned_u64 fixed;',
      '};',
      '',
    ].join('\n'),
  });
  try {
    const engine = await createEngine({ root });
    const file = path.join(root, 'include/uapi/linux/abi.h');
    const report = engine.layouts(file, ['per_abi'], ['x86_64', 'i386', 'arm']);
    const t = (abi) => report.arches[abi].types[0];
    assert.equal(t('x86_64').members[0].size, 8);
    assert.equal(t('i386').members[0].size, 4);
    // arm has no asm/bitsperlong.h of its own here: asm-generic's default of 64 applies.
    assert.equal(t('arm').members[0].size, 8);
    assert.deepEqual([t('x86_64').size, t('i386').size], [16, 16]);
    assert.equal(t('i386').members[1].offset, 8, '__aligned_u64 is 8-aligned on i386 too');
    assert.equal(t('i386').members[1].type, '__aligned_u64');
    engine.dispose();
  } finally {
    rmSync(root, { recursive: true });
  }
});

test('unknown types are reported per member, never guessed', async () => {
  const root = tree({ ...typesHeader, 'include/uapi/linux/u.h': '#include <linux/types.h>\nstruct u {\n\t__u32 a;\n\tstruct not_here b;\n\t__u32 c;\n};\n' });
  try {
    const engine = await createEngine({ root, arches: ['x86_64'] });
    const t = engine.layouts(path.join(root, 'include/uapi/linux/u.h')).arches.x86_64.types[0];
    assert.equal(t.size, null);
    assert.equal(t.members[0].offset, 0);
    assert.equal(t.members[1].offset, null, 'its alignment is unknown too, so its offset is');
    assert.match(t.members[1].unknown, /struct not_here is not defined/);
    assert.equal(t.members[2].offset, null);
    assert.throws(() => engine.layouts(path.join(root, 'include/uapi/linux/u.h'), ['nope']), UsageError);
  } finally {
    rmSync(root, { recursive: true });
  }
});

test('incremental edits give the same findings as a fresh engine', async () => {
  const root = tree(typesHeader);
  const file = path.join(root, 'include/uapi/linux/e.h');
  const text = '#include <linux/types.h>\nstruct e {\n\t__u32 a;\n\t__u64 b;\n};\n';
  writeFileSync(file, text);
  try {
    const engine = await createEngine({ root, arches: ['x86_64', 'i386'] });
    engine.openDocument(file, text, 1);
    const before = engine.check(file).map((f) => f.rule);
    assert.ok(before.includes('uapi-arch-dependent-layout'));
    // Insert explicit padding after `a`.
    engine.changeDocument(file, [{ range: { start: { line: 2, character: 9 }, end: { line: 2, character: 9 } }, text: '\n\t__u32 pad;' }], 2);
    const after = engine.check(file);
    assert.deepEqual(after.map((f) => f.rule), []);
    const fresh = await createEngine({ root, arches: ['x86_64', 'i386'] });
    fresh.openDocument(file, text.replace('__u32 a;', '__u32 a;\n\t__u32 pad;'), 1);
    assert.deepEqual(fresh.check(file), after);
    // Typing inside a name mid-edit (broken C) reports it as not analysed instead of failing.
    engine.changeDocument(file, [{ range: { start: { line: 1, character: 9 }, end: { line: 1, character: 9 } }, text: ' {{ (' }], 3);
    assert.ok(engine.check(file).some((f) => f.rule === 'parse-incomplete'));
    engine.dispose();
    fresh.dispose();
  } finally {
    rmSync(root, { recursive: true });
  }
});

test('hover on a member use in kernel code shows its uapi layout', async () => {
  const root = tree({
    ...typesHeader,
    'include/uapi/linux/h.h': '#include <linux/types.h>\nstruct hot_reset {\n\t__u32 argsz;\n\t__u32 flags;\n\t__u64 count;\n};\n',
    'drivers/vfio/x.c': '#include <linux/h.h>\nstatic int f(struct hot_reset *info)\n{\n\treturn info->count + sizeof(struct hot_reset) + sizeof(*info);\n}\n',
  });
  try {
    const engine = await createEngine({ root, arches: ['x86_64', 'i386'] });
    const c = path.join(root, 'drivers/vfio/x.c');
    const onMember = engine.hover(c, { line: 3, character: 15 });
    assert.match(onMember.contents, /struct hot_reset\*\*::`count`/);
    assert.match(onMember.contents, /\| x86_64 \| 8 \| 8 \| 8 \|/);
    assert.match(onMember.contents, /\| i386 \| 8 \| 8 \| 4 \|/, 'same offset, but 4-byte aligned on i386');
    assert.doesNotMatch(onMember.contents, /offset differs/);
    const onSizeof = engine.hover(c, { line: 3, character: 38 });
    assert.match(onSizeof.contents, /\| x86_64 \| 16 \| 8 \| none \|/);
    assert.match(onSizeof.contents, /alignment differs between ABIs \(size and offsets agree\): 8 on x86_64; 4 on i386/);
    assert.equal(engine.hover(c, { line: 3, character: 1 }), null, 'no hover on the return keyword');
    const onVariable = engine.hover(c, { line: 3, character: 57 });
    assert.match(onVariable.contents, /\*\*struct hot_reset\*\*/, 'a variable shows the layout of its type');
    assert.deepEqual(engine.check(c), [], 'uapi rules do not run on kernel C');
  } finally {
    rmSync(root, { recursive: true });
  }
});

test('padding inside one alternative of a union is not a hole of the type', async () => {
  const root = tree({
    ...typesHeader,
    'include/uapi/linux/un.h': '#include <linux/types.h>\nstruct un {\n\t__u32 kind;\n\t__u32 pad;\n\tunion {\n\t\tstruct { __u8 small; __u64 big; } a;\n\t\t__u8 raw[16];\n\t};\n\tstruct { __u8 x; __u32 y; } b;\n};\n',
  });
  try {
    const engine = await createEngine({ root, arches: ['x86_64'] });
    const t = engine.layouts(path.join(root, 'include/uapi/linux/un.h')).arches.x86_64.types[0];
    // a.small..a.big has 7 bytes of padding, but raw[] covers them; b.x..b.y is a real hole.
    assert.deepEqual(t.holes.map((h) => [h.offset, h.size, h.after]), [[25, 3, 'b.x']]);
  } finally {
    rmSync(root, { recursive: true });
  }
});
