// Quick fixes and suppression comments, applied to the text and checked again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEngine } from '../../dist/engine.js';

const TYPES = 'typedef unsigned char __u8;\ntypedef unsigned short __u16;\ntypedef unsigned int __u32;\ntypedef unsigned long long __u64;\n#define __aligned_u64 __u64 __attribute__((aligned(8)))\n';

async function setup(header) {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-fix-'));
  mkdirSync(path.join(root, 'include/uapi/linux'), { recursive: true });
  writeFileSync(path.join(root, 'Kbuild'), '');
  writeFileSync(path.join(root, 'include/uapi/linux/types.h'), TYPES);
  const file = path.join(root, 'include/uapi/linux/h.h');
  writeFileSync(file, header);
  const engine = await createEngine({ root, arches: ['x86_64', 'i386', 'arm'] });
  engine.openDocument(file, header, 1);
  return { root, file, engine };
}

function apply(text, edits) {
  const lines = text.split('\n');
  const offset = (p) => lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
  for (const e of [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start))) {
    text = text.slice(0, offset(e.range.start)) + e.newText + text.slice(offset(e.range.end));
  }
  return text;
}

test('the padding fix makes the hole explicit, and the struct is then clean on every ABI', async () => {
  const header = '#include <linux/types.h>\nstruct s {\n\t__u16\tindex;\n\t__u32\tflags;\n\t__u8\ttype;\n};\n';
  const { root, file, engine } = await setup(header);
  try {
    const actions = engine.codeActions(file, { start: { line: 0, character: 0 }, end: { line: 10, character: 0 } });
    const fixes = actions.filter((a) => a.finding.rule === 'uapi-implicit-padding' && a.fix.preferred);
    assert.equal(fixes.length, 2, 'one for the hole, one for the tail');
    let text = header;
    for (const { fix } of fixes.reverse()) text = apply(text, fix.edits);
    assert.match(text, /\t__u16\t__reserved2;\n\t__u32\tflags;/);
    engine.changeDocument(file, [{ text }], 2);
    assert.deepEqual(engine.check(file).map((f) => f.rule), []);
  } finally {
    engine.dispose();
    rmSync(root, { recursive: true });
  }
});

test('__u64 -> __aligned_u64 fixes an arch-dependent offset; a per-ABI hole gets no padding fix', async () => {
  const header = '#include <linux/types.h>\nstruct m {\n\t__u32\tflags;\n\t__u32\tpad;\n\t__u32\tsize;\n\t__u64\tiova;\n};\n';
  const { root, file, engine } = await setup(header);
  try {
    const actions = engine.codeActions(file, { start: { line: 5, character: 0 }, end: { line: 5, character: 20 } });
    const padding = actions.filter((a) => a.finding.rule === 'uapi-implicit-padding' && a.fix.preferred);
    assert.equal(padding.length, 0, 'the hole exists on x86_64 and arm, not i386: padding would break i386');
    const aligned = actions.find((a) => a.finding.rule === 'uapi-arch-dependent-layout' && a.fix.preferred);
    const text = apply(header, aligned.fix.edits);
    assert.match(text, /\t__aligned_u64\tiova;/);
    engine.changeDocument(file, [{ text }], 2);
    assert.ok(!engine.check(file).some((f) => f.rule === 'uapi-arch-dependent-layout'));
  } finally {
    engine.dispose();
    rmSync(root, { recursive: true });
  }
});

test('suppression comments silence a rule on the next line or a whole struct, and are offered as a fix', async () => {
  const header = '#include <linux/types.h>\n/* vfio-review: ignore uapi-non-fixed-type */\nstruct a {\n\tint\tx;\n\tlong\ty;\n};\nstruct b {\n\t// vfio-review: ignore uapi-non-fixed-type\n\tint\tx;\n\tint\ty;\n};\n';
  const { root, file, engine } = await setup(header);
  try {
    const left = engine.check(file).filter((f) => f.rule === 'uapi-non-fixed-type');
    assert.deepEqual(left.map((f) => f.range.start.line), [9], 'only b.y is still reported');
    const fix = engine.codeActions(file, left[0].range).find((a) => a.fix.title.startsWith('Ignore'));
    const text = apply(header, fix.fix.edits);
    engine.changeDocument(file, [{ text }], 2);
    assert.equal(engine.check(file).filter((f) => f.rule === 'uapi-non-fixed-type').length, 0);
  } finally {
    engine.dispose();
    rmSync(root, { recursive: true });
  }
});

test('CodeLens and inlay hints describe each uapi struct', async () => {
  const header = '#include <linux/types.h>\nstruct clean {\n\t__u32\ta;\n\t__u32\tb;\n};\nstruct moves {\n\t__u32\ta;\n\t__u64\tb;\n};\n';
  const { root, file, engine } = await setup(header);
  try {
    const lenses = engine.codeLenses(file);
    assert.deepEqual(lenses.map((l) => [l.range.start.line, l.title]), [
      [1, 'size 8 · align 4 · no holes · same on all ABIs'],
      [5, 'size 16 (i386: 12) · align 8 (i386: 4) · 1 hole (4 bytes) · differs on i386'],
    ]);
    const hints = engine.inlayHints(file, { start: { line: 5, character: 0 }, end: { line: 8, character: 0 } });
    assert.deepEqual(hints.map((h) => [h.position.line, h.position.character, h.label]), [[6, 9, ' /* 0 4 */'], [7, 9, ' /* 8 8 */']]);
  } finally {
    engine.dispose();
    rmSync(root, { recursive: true });
  }
});

test('1 << 31 in a flag gets the 1U << 31 fix, and then is clean', async () => {
  const header = '#include <linux/types.h>\nstruct f {\n\t__u32\tflags;\n#define F_LOW\t(1 << 0)\n#define F_TOP\t(1 << 31)\n};\n';
  const { root, file, engine } = await setup(header);
  try {
    const action = engine.codeActions(file, { start: { line: 4, character: 0 }, end: { line: 4, character: 20 } })
      .find((a) => a.finding.rule === 'flag-signed-shift' && a.fix.preferred);
    const text = apply(header, action.fix.edits);
    assert.match(text, /#define F_TOP\t\(1U << 31\)/);
    engine.changeDocument(file, [{ text }], 2);
    assert.ok(!engine.check(file).some((f) => f.rule === 'flag-signed-shift'));
  } finally {
    engine.dispose();
    rmSync(root, { recursive: true });
  }
});

test('lockdep_assert_held() added to a function that only inherits a lock requirement, then checked', async () => {
  const fixture = path.join(path.dirname(path.dirname(new URL(import.meta.url).pathname)), 'fixtures/locks/devset');
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-fix-'));
  try {
    const { cpSync } = await import('node:fs');
    for (const rel of ['Kbuild', 'include', 'drivers/vfio/vfio_main.c']) cpSync(path.join(fixture, rel), path.join(root, rel), { recursive: true });
    const file = path.join(root, 'drivers/vfio/pci/helper.c');
    mkdirSync(path.dirname(file), { recursive: true });
    const text = [
      '#include <linux/vfio.h>',
      '',
      '/* The device of the set bound to dev; the set lock is the caller\'s business. */',
      'static struct vfio_device *owner_of(struct vfio_device *vdev, struct device *dev)',
      '{',
      '\tstruct vfio_device *owner;',
      '',
      '\towner = vfio_find_device_in_devset(vdev->dev_set, dev);',
      '\treturn owner;',
      '}',
      '',
    ].join('\n');
    writeFileSync(file, text);
    const engine = await createEngine({ root });
    const at = { start: { line: 7, character: 10 }, end: { line: 7, character: 10 } };
    const actions = engine.codeActions(file, at).filter((a) => !a.finding);
    assert.deepEqual(actions.map((a) => a.fix.title), ['Add lockdep_assert_held(&vdev->dev_set->lock) to owner_of() (it calls vfio_find_device_in_devset(), which needs the lock)']);
    const fixed = apply(text, actions[0].fix.edits);
    assert.match(fixed, /\tstruct vfio_device \*owner;\n\n\tlockdep_assert_held\(&vdev->dev_set->lock\);\n\n\towner = vfio_find_device_in_devset/);
    // Stated now: no fix offered again, and the requirement is the function's own.
    engine.openDocument(file, fixed, 2);
    assert.deepEqual(engine.codeActions(file, { start: { line: 9, character: 1 }, end: { line: 9, character: 1 } }).filter((a) => !a.finding), []);
    // Outside any function: nothing.
    assert.deepEqual(engine.codeActions(file, { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }).filter((a) => !a.finding), []);
    engine.dispose();
  } finally {
    rmSync(root, { recursive: true });
  }
});
