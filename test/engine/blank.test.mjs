import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blankKernelC } from '../../dist/engine.js';

test('annotations become spaces and every position is kept', () => {
  const src = 'static int __init foo(struct vfio_device __user *p) __must_hold(&dev_set->lock)\n{\n}\n';
  const r = blankKernelC(src);
  assert.equal(r.text.length, src.length);
  assert.equal(r.text.indexOf('foo'), src.indexOf('foo'));
  assert.ok(!r.text.includes('__init') && !r.text.includes('__user') && !r.text.includes('__must_hold'));
  const hold = r.annotations.find((a) => a.name === '__must_hold');
  assert.deepEqual(hold.args, ['&dev_set->lock']);
  assert.equal(src.slice(hold.start, hold.end), '__must_hold(&dev_set->lock)');
});

test('layout annotations are recorded with their arguments', () => {
  const r = blankKernelC('struct x { __u32 a; } __packed __aligned(8);\n');
  assert.deepEqual(r.annotations.map((a) => [a.name, a.args]), [['__packed', []], ['__aligned', ['8']]]);
});

test('statement macros become while / if of the same length', () => {
  const src = '\tlist_for_each_entry(cur, &dev_set->device_list, devset_list) {\n\t\tx();\n\t}\n\tscoped_guard(mutex, &l) {\n\t}\n';
  const r = blankKernelC(src);
  assert.equal(r.text.length, src.length);
  assert.match(r.text, /^\twhile\s+\(cur, &dev_set->device_list, devset_list\) \{/);
  assert.match(r.text, /\tif\s+\(mutex, &l\) \{/);
  assert.deepEqual(r.statementMacros.map((m) => [m.name, m.kind]), [['list_for_each_entry', 'loop'], ['scoped_guard', 'scope']]);
});

test('a for_each call used as an expression is left alone', () => {
  const src = 'ret = vfio_pci_for_each_slot_or_bus(pdev, fn, &data, slot);\n';
  assert.equal(blankKernelC(src).text, src);
});

test('comments, strings and #define names are not blanked', () => {
  const src = '#define __packed __attribute__((__packed__))\n/* __user */ const char *s = "__iomem";\n';
  const r = blankKernelC(src);
  assert.ok(r.text.startsWith('#define __packed '));
  assert.ok(r.text.includes('/* __user */') && r.text.includes('"__iomem"'));
});

test('GNU spellings become keywords padded to the same length', () => {
  const r = blankKernelC('typedef __signed__ char __s8;');
  assert.equal(r.text, 'typedef signed     char __s8;');
});

test('astral characters do not shift positions', () => {
  const src = '/* 😀 */ int __user *p;';
  const r = blankKernelC(src);
  assert.equal(r.text.length, src.length);
  assert.equal(r.text.indexOf('*p'), src.indexOf('*p'));
});

test('type arguments of container_of-like macros and GNU case ranges parse as C', () => {
  const src = '\tvdev = container_of(core_vdev, struct vfio_pci_core_device, vdev);\n\tcase 0x1580 ... 0x1581:\n\tx = a ... b;\n';
  const r = blankKernelC(src);
  assert.equal(r.text.length, src.length);
  assert.match(r.text, /container_of\(core_vdev,        vfio_pci_core_device, vdev\)/);
  assert.match(r.text, /case 0x1580  \|  0x1581:/);
  assert.match(r.text, /x = a \.\.\. b;/, 'only case labels are touched');
});

test('a function named like an iterator is a definition, not a loop', () => {
  const src = 'static int vfio_pci_for_each_slot_or_bus(struct pci_dev *pdev, int (*fn)(struct pci_dev *, void *))\n{\n\tif (x)\n\t\tlist_for_each_entry(a, b, c) {\n\t\t}\n\telse list_for_each_entry(a, b, c) {\n\t}\n}\n';
  const r = blankKernelC(src);
  assert.ok(r.text.startsWith('static int vfio_pci_for_each_slot_or_bus('));
  assert.equal(r.statementMacros.length, 2, 'the two loops, after `)` and after `else`');
});
