// Flags of uapi headers: the flag model (bindings, values, dependencies) and the uapi flag rules,
// each on a fixture that must report it and a corrected twin that must not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, flagModelOf } from '../dist/engine.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/flags/linux');
const uapi = (name) => path.join(fixtures, 'include/uapi/linux', name);

function tree(files) {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-flags-'));
  cpSync(fixtures, root, { recursive: true });
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  }
  return root;
}

const flagFindings = (engine, file) => engine.check(file).filter((f) => /^(flag|union)-/.test(f.rule));

test('flag model: defines inside a struct bind to the member before them, values evaluated', async () => {
  const root = tree({
    'include/uapi/linux/fx_values.h': [
      '#include <linux/types.h>',
      'struct fx_values {',
      '\t__u32\targsz;',
      '\t__u32\tflags;',
      '#define FX_V_A\t\t(1U << 3)',
      '#define FX_V_B\t\t_BITUL(4)',
      '#define FX_V_C\t\tBIT(5)',
      '#define FX_V_MASK\tGENMASK(7, 6)',
      '#define FX_V_HEX\t0x100',
      '#define FX_V_SUM\t(FX_V_A | FX_V_B)',
      '#define FX_V_UNKNOWN\tSOMETHING_UNDEFINED(3)',
      '\t__s32\tfd;',
      '#define FX_FD_NONE\t-1',
      '};',
      '#define FX_V_LATE\t(1 << 9)',
      '#define UNRELATED\t7',
      '',
    ].join('\n'),
  });
  try {
    const engine = await createEngine({ root, arches: ['x86_64'] });
    const m = flagModelOf(engine, path.join(root, 'include/uapi/linux/fx_values.h'));
    const v = (n) => m.macros.get(n).value?.v;
    assert.equal(v('FX_V_A'), 8n);
    assert.equal(v('FX_V_B'), 16n, '_BITUL from a fallback: the header does not include linux/const.h');
    assert.equal(v('FX_V_C'), 32n);
    assert.equal(v('FX_V_MASK'), 0xc0n);
    assert.equal(v('FX_V_HEX'), 0x100n);
    assert.equal(v('FX_V_SUM'), 24n);
    assert.equal(v('FX_FD_NONE'), -1n);
    assert.equal(m.macros.get('FX_V_UNKNOWN').value, undefined, 'unevaluable: no value, never a guess');
    assert.equal(m.macros.get('FX_V_A').field.member, 'flags');
    assert.equal(m.macros.get('FX_V_A').binding.source, 'struct body');
    assert.equal(m.macros.get('FX_FD_NONE').field.member, 'fd');
    assert.equal(m.macros.get('FX_FD_NONE').field.signed, true);
    assert.equal(m.macros.get('FX_V_LATE').field?.member, 'flags', 'outside the struct, by the FX_V_ family prefix');
    assert.equal(m.macros.get('FX_V_LATE').binding.source, 'name prefix');
    assert.equal(m.macros.get('UNRELATED').field, undefined);
    assert.equal(m.macros.get('FX_V_SUM').mask, true, 'the OR of other flags is a mask');
    assert.equal(m.macros.get('FX_V_MASK').mask, true);
    assert.deepEqual(flagFindings(engine, path.join(root, 'include/uapi/linux/fx_values.h')), [], 'the unevaluable macro is never reported');
    engine.dispose();
  } finally {
    rmSync(root, { recursive: true });
  }
});

test('flag model: dependencies and union members from comments', async () => {
  const engine = await createEngine({ root: fixtures, arches: ['x86_64'] });
  const m = flagModelOf(engine, uapi('fx_range.h'));
  assert.deepEqual(m.dependencies.map((d) => [d.flag, d.requires, d.evidence.source, d.evidence.line]), [['FX_RESET_FLAG_DEV_ID_OWNED', 'FX_RESET_FLAG_DEV_ID', 'comment', 29]]);
  const devid = m.fields.get('struct fx_dependent\0devid');
  assert.deepEqual(devid.unionSiblings, ['group_id']);
  assert.equal(devid.kind, 'values');
  assert.equal(m.fields.get('struct fx_reset_info\0flags').kind, 'flags');
  engine.dispose();
});

const pairs = [
  ['flag-overlap', 'fx_overlap.h', 'fx_overlap_fixed.h', [[10, /FX_OPEN_FLAG_SHARED \(0x2\) shares bit 0x2 with FX_OPEN_FLAG_WRITE/]]],
  ['flag-signed-shift', 'fx_shift.h', 'fx_shift_fixed.h', [[12, /FX_MAP_FLAG_LAST .*1 << 31 shifts a signed int into its sign bit.*0xffffffff80000000.*_BITUL\(31\)/]]],
  ['flag-out-of-range', 'fx_range.h', 'fx_range_fixed.h', [
    [10, /FX_DEVID_NOT_OWNED is -1, but stored in struct fx_dependent\.devid \(__u32\) it becomes 0xffffffff\..*`devid == FX_DEVID_NOT_OWNED`/],
    [14, /FX_DEP_FLAG_LATE is 0x10000, but it does not fit in struct fx_dependent\.flags \(__u16\).*becomes 0x0/],
  ]],
];

for (const [rule, bad, good, expected] of pairs) {
  test(`${rule}: ${bad} reports it, ${good} reports nothing`, async () => {
    const engine = await createEngine({ root: fixtures });
    const found = flagFindings(engine, uapi(bad));
    assert.deepEqual(found.map((f) => f.rule), expected.map(() => rule), JSON.stringify(found.map((f) => f.message), null, 1));
    expected.forEach(([line, re], i) => {
      assert.equal(found[i].range.start.line, line);
      assert.match(found[i].message, re);
    });
    assert.deepEqual(flagFindings(engine, uapi(good)), []);
    engine.dispose();
  });
}

test('a flag named *_MASK with one bit is a flag; values inside a multi-bit *_MASK are not overlaps', async () => {
  const root = tree({
    'include/uapi/linux/fx_masks.h': [
      '#include <linux/types.h>',
      'struct fx_irq_set {',
      '\t__u32\tflags;',
      '#define FX_IRQ_SET_ACTION_MASK\t\t(1 << 0)',
      '#define FX_IRQ_SET_ACTION_UNMASK\t(1 << 1)',
      '#define FX_FEATURE_MASK\t\t\t(0xffff)',
      '#define FX_FEATURE_GET\t\t\t(1 << 16)',
      '#define FX_FEATURE_ONE\t\t\t1',
      '#define FX_FEATURE_THREE\t\t3',
      '#define FX_IRQ_SET_ACTION_OOPS\t\t(1 << 16)',
      '};',
      '',
    ].join('\n'),
  });
  try {
    const engine = await createEngine({ root, arches: ['x86_64'] });
    const found = flagFindings(engine, path.join(root, 'include/uapi/linux/fx_masks.h'));
    assert.deepEqual(found.map((f) => [f.rule, f.range.start.line]), [['flag-overlap', 9]]);
    assert.match(found[0].message, /FX_IRQ_SET_ACTION_OOPS .* FX_FEATURE_GET/);
    engine.dispose();
  } finally {
    rmSync(root, { recursive: true });
  }
});

test('kernel rules: fx_bad.c reports each flag-*/union-* rule once per misuse, fx_good.c nothing', async () => {
  const engine = await createEngine({ root: fixtures, arches: ['x86_64'] });
  const bad = flagFindings(engine, path.join(fixtures, 'drivers/vfio/fx_bad.c'));
  assert.deepEqual(bad.map((f) => [f.range.start.line + 1, f.rule]), [
    [9, 'flag-unvalidated'],
    [11, 'flag-wrong-field'],
    [20, 'flag-unvalidated'],
    [30, 'union-member-type-mismatch'],
    [32, 'union-inactive-member'],
    [38, 'flag-dependency'],
    // Paths: `!(flags & F)`, `(flags & F) == 0`, an early return under unlikely(!...), both arms
    // of `?:`, and a flag cleared by `&= ~F` before the write.
    [45, 'union-inactive-member'],
    [51, 'union-inactive-member'],
    [58, 'union-inactive-member'],
    [63, 'union-inactive-member'],
    [63, 'union-inactive-member'],
    [69, 'union-inactive-member'],
  ]);
  assert.match(bad[1].message, /FX_IRQ_INFO_MASKABLE is a flag of struct fx_irq_info\.flags, but it is used on info\.flags, a struct fx_region_info/);
  assert.match(bad[3].message, /FX_DEVID_NOT_OWNED is -1, but struct fx_dependent\.devid is __u32: it stores 0xffffffff/);
  assert.equal(bad[4].related[0].message, 'the discriminant is stated here (comment)');
  assert.match(bad[6].message, /devid is the active member only when FX_RESET_FLAG_DEV_ID is set, but it is written where FX_RESET_FLAG_DEV_ID is clear/);
  const early = bad[8];
  assert.match(early.message, /group_id is the active member only when FX_RESET_FLAG_DEV_ID is clear, but it is read where FX_RESET_FLAG_DEV_ID is set/);
  assert.deepEqual([early.related[1].range.start.line + 1, early.related[1].message], [56, 'FX_RESET_FLAG_DEV_ID is set on this path: tested here'], 'the early return\'s test');
  assert.deepEqual([bad[11].related[1].range.start.line + 1, bad[11].related[1].message], [68, 'FX_RESET_FLAG_DEV_ID is clear on this path: cleared here']);
  assert.deepEqual(flagFindings(engine, path.join(fixtures, 'drivers/vfio/fx_good.c')), []);
  engine.dispose();
});

test('a variable reused with another struct type in each case block takes the type of its own block', async () => {
  const root = tree({
    'drivers/vfio/fx_cases.c': [
      '#include <linux/fx_irq.h>',
      'static long fx_ioctl(unsigned int cmd, void __user *arg)',
      '{',
      '\tif (cmd == 1) {',
      '\t\tstruct fx_region_info info;',
      '\t\tinfo.flags = FX_REGION_INFO_FLAG_READ;',
      '\t} else {',
      '\t\tstruct fx_irq_info info;',
      '\t\tinfo.flags = FX_IRQ_INFO_EVENTFD;',
      '\t}',
      '\treturn 0;',
      '}',
      '',
    ].join('\n'),
  });
  try {
    const engine = await createEngine({ root, arches: ['x86_64'] });
    assert.deepEqual(flagFindings(engine, path.join(root, 'drivers/vfio/fx_cases.c')), []);
    engine.dispose();
  } finally {
    rmSync(root, { recursive: true });
  }
});

test('discriminants inferred from kernel code writing the union under a flag test, with evidence', async () => {
  const root = tree({
    'drivers/vfio/fx_infer.c': [
      '#include <linux/fx_range.h>',
      'static void a(struct fx_reset_info *fill, struct fx_dependent *dev)',
      '{',
      '\tif (fill->flags & FX_RESET_FLAG_DEV_ID) {',
      '\t\tdev->devid = 1;',
      '\t} else {',
      '\t\tdev->group_id = 2;',
      '\t}',
      '}',
      'static void b(struct fx_reset_info *fill, struct fx_dependent *dev)',
      '{',
      '\tif (fill->flags & FX_RESET_FLAG_DEV_ID)',
      '\t\tdev->group_id = 3;',
      '}',
      '',
    ].join('\n'),
    // Without the comment, only the code says which member the flag selects.
    'include/uapi/linux/fx_range.h': (await import('node:fs')).readFileSync(uapi('fx_range.h'), 'utf8').replace(/devid is valid when[^\n]*/, 'the ids.'),
  });
  try {
    const engine = await createEngine({ root, arches: ['x86_64'] });
    const found = flagFindings(engine, path.join(root, 'drivers/vfio/fx_infer.c'));
    assert.deepEqual(found.map((f) => [f.range.start.line, f.rule]), [[12, 'union-inactive-member']]);
    assert.match(found[0].related[0].message, /\(code\)/);
    assert.equal(found[0].related[0].range.start.line, 6, 'evidence: the else branch that writes group_id');
    engine.dispose();
  } finally {
    rmSync(root, { recursive: true });
  }
});

test('.vfio-review.json: unknown keys, bad values and conflicts name the file and key', async () => {
  const { parseProjectConfig } = await import('../dist/engine.js');
  const r = parseProjectConfig(JSON.stringify({
    flags: { bindings: { 'FX_*': 'struct fx_open.flags', FX_A: 'struct fx_irq.flags', bad: 'nonsense' }, extra: 1 },
    unions: { discriminants: [
      { union: 'struct fx_dependent', member: 'devid', flag: 'FX_A', field: 'struct fx_reset_info.flags' },
      { union: 'struct fx_dependent', member: 'devid', flag: 'FX_B', field: 'struct fx_reset_info.flags' },
    ] },
    rules: { 'flag-overlap': 'loud' },
    run: 'make',
  }, null, 1), '/t/.vfio-review.json');
  const keys = r.problems.map((p) => p.key).sort();
  assert.deepEqual(keys, ['flags.bindings.FX_A', 'flags.bindings.bad', 'flags.extra', 'rules.flag-overlap', 'run', 'unions.discriminants[1]']);
  assert.ok(r.problems.every((p) => p.file === '/t/.vfio-review.json'));
  assert.match(r.problems.find((p) => p.key === 'unions.discriminants[1]').message, /conflicts with unions.discriminants\[0\]/);
  assert.deepEqual(parseProjectConfig('{"rules": {"a": "off"}, "rules": {"a": "error"}}', 'x').problems.map((p) => p.key), ['rules']);
});

test('.vfio-review.json binds a flag declared outside any struct', async () => {
  const root = tree({
    '.vfio-review.json': JSON.stringify({ flags: { bindings: { 'FXC_*': 'struct fxc.mode' } } }),
    'include/uapi/linux/fxc.h': '#include <linux/types.h>\nstruct fxc {\n\t__u16\tmode;\n};\n#define FXC_ONE\t(1 << 0)\n#define FXC_BIG\t(1 << 20)\n',
  });
  try {
    const engine = await createEngine({ root, arches: ['x86_64'] });
    const found = flagFindings(engine, path.join(root, 'include/uapi/linux/fxc.h'));
    assert.deepEqual(found.map((f) => [f.rule, f.range.start.line]), [['flag-out-of-range', 5]]);
    engine.dispose();
  } finally {
    rmSync(root, { recursive: true });
  }
});

test('a configured dependency is reported once in a C file that includes several uapi headers', async () => {
  const root = tree({
    '.vfio-review.json': JSON.stringify({ flags: { dependencies: { FX_IRQ_INFO_MASKABLE: 'FX_IRQ_INFO_EVENTFD' } } }),
    'drivers/vfio/fx_two.c': [
      '#include <linux/fx_irq.h>',
      '#include <linux/fx_range.h>',
      'static void fx_two(struct fx_irq_info *info)',
      '{',
      '\tinfo->flags |= FX_IRQ_INFO_MASKABLE;',
      '}',
      '',
    ].join('\n'),
  });
  try {
    const engine = await createEngine({ root, arches: ['x86_64'] });
    const found = flagFindings(engine, path.join(root, 'drivers/vfio/fx_two.c'));
    assert.deepEqual(found.map((f) => [f.rule, f.range.start.line]), [['flag-dependency', 4]], JSON.stringify(found.map((f) => f.message)));
    assert.match(found[0].related[0].message, /\(configuration\)/);
    // The uapi header's own model (hover) still carries the configured dependency, once.
    const m = flagModelOf(engine, path.join(root, 'include/uapi/linux/fx_irq.h'));
    assert.deepEqual(m.dependencies.filter((d) => d.evidence.source === 'configuration').map((d) => [d.flag, d.requires]), [['FX_IRQ_INFO_MASKABLE', 'FX_IRQ_INFO_EVENTFD']]);
    // A header that defines neither flag does not carry it.
    assert.deepEqual(flagModelOf(engine, path.join(root, 'include/uapi/linux/fx_range.h')).dependencies.filter((d) => d.evidence.source === 'configuration'), []);
    engine.dispose();
  } finally {
    rmSync(root, { recursive: true });
  }
});

test('an untrusted tree (readProjectConfig: false): no flag binding, dependency or discriminant is read from .vfio-review.json', async () => {
  const { flagHoverAt } = await import('../dist/engine.js');
  const fxu = [
    '#include <linux/types.h>',
    'struct fxu_reply {',
    '\t__u32\tflags;',
    '#define FXU_FLAG_WIDE\t(1 << 0)',
    '#define FXU_FLAG_MORE\t(1 << 1)',
    '\tunion {',
    '\t\t__u32\tnarrow;',
    '\t\t__u32\twide;',
    '\t};',
    '};',
    '',
  ].join('\n');
  const c = [
    '#include <linux/fxu.h>',
    'static void fxu_fill(struct fxu_reply *r)',
    '{',
    '\tif (r->flags & FXU_FLAG_WIDE)',
    '\t\tr->narrow = 1;',
    '}',
    'static void fxu_more(struct fxu_reply *r) { r->flags |= FXU_FLAG_MORE; }',
    '',
  ].join('\n');
  const root = tree({
    '.vfio-review.json': JSON.stringify({
      flags: { bindings: { 'FXC_*': 'struct fxc.mode' }, dependencies: { FXU_FLAG_MORE: 'FXU_FLAG_WIDE' } },
      unions: { discriminants: [{ union: 'struct fxu_reply', member: 'wide', flag: 'FXU_FLAG_WIDE', field: 'struct fxu_reply.flags' }] },
    }),
    'include/uapi/linux/fxc.h': '#include <linux/types.h>\nstruct fxc {\n\t__u16\tmode;\n};\n#define FXC_ONE\t(1 << 0)\n#define FXC_BIG\t(1 << 20)\n',
    'include/uapi/linux/fxu.h': fxu,
    'drivers/vfio/fxu.c': c,
  });
  const fxcH = path.join(root, 'include/uapi/linux/fxc.h');
  const fxuH = path.join(root, 'include/uapi/linux/fxu.h');
  const fxuC = path.join(root, 'drivers/vfio/fxu.c');
  const facts = (engine) => ({
    header: flagFindings(engine, fxcH).map((f) => [f.rule, f.range.start.line]),
    kernel: flagFindings(engine, fxuC).map((f) => [f.rule, f.range.start.line]),
    binding: flagModelOf(engine, fxcH).macros.get('FXC_BIG').binding?.source,
    dependencies: flagModelOf(engine, fxuH).dependencies.map((d) => d.flag),
    wide: /Active when `FXU_FLAG_WIDE`/.test(flagHoverAt(engine, fxuH, 'struct fxu_reply.wide', 'member') ?? ''),
  });
  const trustedFacts = {
    header: [['flag-out-of-range', 5]],
    kernel: [['union-inactive-member', 4], ['flag-dependency', 6]],
    binding: 'configuration',
    dependencies: ['FXU_FLAG_MORE'],
    wide: true,
  };
  const untrustedFacts = { header: [], kernel: [], binding: undefined, dependencies: [], wide: false };
  try {
    const trusted = await createEngine({ root, arches: ['x86_64'] });
    assert.deepEqual(facts(trusted), trustedFacts, 'the configuration is read in a trusted tree');
    trusted.dispose();
    const untrusted = await createEngine({ root, arches: ['x86_64'], readProjectConfig: false });
    assert.deepEqual(facts(untrusted), untrustedFacts);
    // An open document keeps its tree: granting trust later must still bring the facts in, and
    // withdrawing it must take them out again.
    untrusted.openDocument(fxuC, c, 1);
    assert.deepEqual(flagFindings(untrusted, fxuC), []);
    untrusted.configure({ readProjectConfig: true });
    assert.deepEqual(facts(untrusted), trustedFacts, 'trust granted at run time');
    untrusted.configure({ readProjectConfig: false });
    assert.deepEqual(facts(untrusted), untrustedFacts, 'trust withdrawn at run time');
    untrusted.dispose();
  } finally {
    rmSync(root, { recursive: true });
  }
});
