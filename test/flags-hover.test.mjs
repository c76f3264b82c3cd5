// Hover text for flags and union members (analyses/flags/hover.ts), in both call forms: the
// tree-sitter node under the cursor, and a name with its kind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, flagHoverAt, flagWordAt } from '../dist/engine.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/flags/linux');
const rangeH = path.join(fixtures, 'include/uapi/linux/fx_range.h');
const badC = path.join(fixtures, 'drivers/vfio/fx_bad.c');

/** The node at a 0-based line/column, handed to flagHoverAt while its tree is alive. */
const atNode = (engine, file, row, column) => engine.withTree(file, (tree) => flagHoverAt(engine, file, tree.rootNode.descendantForPosition({ row, column })));

function tree(files) {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-flag-hover-'));
  cpSync(fixtures, root, { recursive: true });
  for (const [rel, text] of Object.entries(files)) writeFileSync(path.join(root, rel), text);
  return root;
}

test('flag in a uapi header: value, bits, member and binding, other flags on a bit map, dependencies, union it selects', async () => {
  const engine = await createEngine({ root: fixtures, arches: ['x86_64'] });
  const md = flagHoverAt(engine, rangeH, 'FX_RESET_FLAG_DEV_ID', 'macro');
  assert.match(md, /^\*\*FX_RESET_FLAG_DEV_ID\*\* = `0x1` \(bit 0\) — `#define FX_RESET_FLAG_DEV_ID \(1 << 0\)`/);
  assert.match(md, /Defined at `include\/uapi\/linux\/fx_range\.h:22`/);
  assert.match(md, /Flag of `struct fx_reset_info\.flags` \(`__u32`, 32-bit unsigned\); bound by its place in the struct body, after the member \(`include\/uapi\/linux\/fx_range\.h:22`\)/);
  assert.match(md, /- `FX_RESET_FLAG_DEV_ID_OWNED` = `0x2` — bit 1/);
  assert.ok(md.includes('········ ········ ········ ······o#'), md);
  assert.match(md, /required by `FX_RESET_FLAG_DEV_ID_OWNED`, stated by a comment \(`include\/uapi\/linux\/fx_range\.h:30`\)/);
  assert.match(md, /selects union member `struct fx_dependent\.devid` when set/);
  assert.match(md, /selects union member `struct fx_dependent\.group_id` when clear/);

  const late = flagHoverAt(engine, rangeH, 'FX_DEP_FLAG_LATE', 'macro');
  assert.match(late, /`0x10000` \(bit 16\)/);
  assert.match(late, /Outside the member:\*\* `flags` has 16 bits/);

  const sentinel = flagHoverAt(engine, rangeH, 'FX_DEVID_NOT_OWNED', 'macro');
  assert.match(sentinel, /= `-1`/);
  assert.match(sentinel, /Value of `struct fx_dependent\.devid`/);
  assert.match(sentinel, /it becomes `0xffffffff`/);
  assert.doesNotMatch(sentinel, /```text/, 'no bit map for a member of values');

  assert.equal(flagHoverAt(engine, rangeH, 'NOT_A_FLAG', 'macro'), null);
  assert.equal(flagHoverAt(engine, rangeH, '_UAPI_FX_RANGE_H', 'macro'), null, 'an include guard is bound to nothing');
  engine.dispose();
});

test('union member in a uapi header (node of its declaration): discriminant and evidence', async () => {
  const engine = await createEngine({ root: fixtures, arches: ['x86_64'] });
  // Line 9 of fx_range.h: `\t\t__u32\tdevid;`
  const md = atNode(engine, rangeH, 8, 9);
  assert.match(md, /^\*\*struct fx_dependent\.devid\*\* — union member \(`__u32`\), shares its bytes with `group_id`/);
  assert.match(md, /Active when `FX_RESET_FLAG_DEV_ID` \(in `struct fx_reset_info\.flags`\) is \*\*set\*\*/);
  assert.match(md, /- a comment \(`include\/uapi\/linux\/fx_range\.h:29`\)/);
  assert.equal(flagHoverAt(engine, rangeH, 'struct fx_dependent.group_id', 'member').includes('is **clear**'), true);
  // Line 13: `\t__u16\tflags;` is not a union member.
  assert.equal(atNode(engine, rangeH, 12, 8), null);
  engine.dispose();
});

test('kernel C: a flag through the uapi headers it includes, and a union member used as p->member', async () => {
  const engine = await createEngine({ root: fixtures, arches: ['x86_64'] });
  // Line 38 of fx_bad.c: `\tfill->flags |= FX_RESET_FLAG_DEV_ID_OWNED;`
  const flag = atNode(engine, badC, 37, 20);
  assert.match(flag, /^\*\*FX_RESET_FLAG_DEV_ID_OWNED\*\* = `0x2` \(bit 1\)/);
  assert.match(flag, /- requires `FX_RESET_FLAG_DEV_ID`, stated by a comment \(`include\/uapi\/linux\/fx_range\.h:30`\)/);
  assert.ok(flag.includes('#o'), flag);
  // Line 32: `\t\tdev->devid = id;`
  const member = atNode(engine, badC, 31, 9);
  assert.match(member, /struct fx_dependent\.devid\*\* — union member/);
  assert.match(member, /is \*\*set\*\*/);
  // `id` (a parameter) and `fill` are not flags.
  assert.equal(atNode(engine, badC, 31, 16), null);
  assert.equal(flagHoverAt(engine, badC, 'FX_IRQ_INFO_MASKABLE', 'macro').includes('struct fx_irq_info.flags'), true);
  engine.dispose();
});

test('evidence from kernel code and from .vfio-review.json is named with its file', async () => {
  const root = tree({
    'include/uapi/linux/fx_range.h': readFileSync(rangeH, 'utf8').replace(/devid is valid when[^\n]*/, 'the ids.'),
    'include/uapi/linux/fxc.h': '#include <linux/types.h>\nstruct fxc {\n\t__u16\tmode_flags;\n};\n#define FXC_ONE\t(1 << 0)\n#define FXC_TWO\t(1 << 3)\n',
    '.vfio-review.json': JSON.stringify({ flags: { bindings: { 'FXC_*': 'struct fxc.mode_flags' } } }),
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
      '',
    ].join('\n'),
  });
  try {
    const engine = await createEngine({ root, arches: ['x86_64'] });
    const c = path.join(root, 'drivers/vfio/fx_infer.c');
    const md = flagHoverAt(engine, c, 'struct fx_dependent.group_id', 'member');
    assert.match(md, /is \*\*clear\*\*, stated by:\n- kernel code \(`drivers\/vfio\/fx_infer\.c:7`\)/);
    // In the header alone, with the comment gone, nothing says which member is active.
    assert.match(flagHoverAt(engine, path.join(root, 'include/uapi/linux/fx_range.h'), 'struct fx_dependent.devid', 'member'), /No discriminant known/);
    const fxc = flagHoverAt(engine, path.join(root, 'include/uapi/linux/fxc.h'), 'FXC_TWO', 'macro');
    assert.match(fxc, /Flag of `struct fxc\.mode_flags` \(`__u16`, 16-bit unsigned\); bound by `\.vfio-review\.json`/);
    assert.ok(fxc.includes('········ ····#··o'), fxc);
    engine.dispose();
  } finally {
    rmSync(root, { recursive: true });
  }
});

test('flagWordAt finds the macro name on a #define line (no identifier node there)', () => {
  const text = 'struct x {\n\t__u32 flags;\n#define FX_A\t(1 << 0)\n};\n';
  assert.equal(flagWordAt(text, { line: 2, character: 10 }), 'FX_A');
  assert.equal(flagWordAt(text, { line: 2, character: 12 }), 'FX_A', 'just past the end');
  assert.equal(flagWordAt(text, { line: 2, character: 13 }), undefined);
});
