// The kernel flag rules find their candidates from the names they look for (a scan of the text,
// then up the tree from each hit) and keep the header part of their index across edits: flag
// names in comments, strings, #defines and longer identifiers are not uses, positions after text
// that is not ASCII stay right, and a file edited in place reports what a fresh open of the same
// text reports, also after one of its headers changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../dist/engine.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/flags/linux');
const flagRules = (findings) => findings.filter((f) => /^(flag|union)-/.test(f.rule));
const brief = (f) => [f.rule, f.range.start.line + 1, f.range.start.character, f.range.end.character, f.message];

function copyOfFixtures() {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-flags-fast-'));
  cpSync(fixtures, root, { recursive: true });
  return root;
}

const ODD_PLACES = [
  '// Flag names where they are not uses, and uses after text that is not ASCII (naïve, \u{1F600}).',
  '#include <linux/fx_irq.h>',
  '#include <linux/fx_range.h>',
  '',
  '#define FX_ALIAS\tFX_IRQ_INFO_MASKABLE',
  '',
  'static const char *fx_name = "FX_IRQ_INFO_MASKABLE";',
  '',
  'static long fx_odd_places(void __user *uarg, struct fx_irq_info *irq)',
  '{',
  '\tstruct fx_region_info info;',
  '\tstruct fx_region_info other;',
  '\tint FX_IRQ_INFO_MASKABLE_OLD = 0;\t/* FX_IRQ_INFO_MASKABLE in a comment: not a use */',
  '',
  '\tif (copy_from_user(&info, uarg, sizeof(info)))',
  '\t\treturn -EFAULT;',
  '\tif (info.index & FX_IRQ_INFO_MASKABLE_OLD)',
  '\t\treturn -EINVAL;',
  '\t/* One flag applied to two members of the wrong struct: a finding for each. */',
  '\tif (info.flags & (other.flags | FX_IRQ_INFO_MASKABLE))',
  '\t\treturn -EINVAL;',
  '\t/* \u{1F600} */ info.flags |= FX_IRQ_INFO_EVENTFD;',
  '\tlist_for_each_entry(irq, &fx_list, node) {',
  '\t\tif (irq->flags & FX_REGION_INFO_FLAG_READ)',
  '\t\t\treturn 1;',
  '\t}',
  '\treturn 0;',
  '}',
  '',
  'static void fx_fill_ok(struct fx_reset_info *fill, struct fx_dependent *dev, int id)',
  '{',
  '\t/* devid and FX_RESET_FLAG_DEV_ID named only in this comment, \u{1F600} */',
  '\tdev->group_id = id;',
  '}',
  '',
  'static void fx_fill_macro(struct fx_reset_info *fill, struct fx_dependent *dev, int id)',
  '{',
  '\tif (fill->flags & FX_RESET_FLAG_DEV_ID) {',
  '\t\tdev->devid = FX_DEVID_NOT_OWNED;\t/* é */',
  '\t} else {',
  '\t\tdev->devid = id;',
  '\t}',
  '\tfill->flags |= FX_RESET_FLAG_DEV_ID_OWNED;',
  '}',
  '',
].join('\n');

test('flag names in comments, strings, #defines and longer identifiers are not uses; columns after non-ASCII text are UTF-16', async () => {
  const root = copyOfFixtures();
  try {
    const file = path.join(root, 'drivers/vfio/fx_odd.c');
    writeFileSync(file, ODD_PLACES);
    const engine = await createEngine({ root, arches: ['x86_64'] });
    const found = flagRules(engine.check(file)).map(brief);
    assert.deepEqual(found.map((f) => f.slice(0, 4)), [
      ['flag-unvalidated', 15, 5, 19],
      // Both members of `info.flags & (other.flags | F)`: one finding each, at the flag.
      ['flag-wrong-field', 20, 33, 53],
      ['flag-wrong-field', 20, 33, 53],
      // After a comment holding a surrogate pair: 2 columns for it.
      ['flag-wrong-field', 22, 24, 43],
      // Inside a statement macro's body (blanked to `while`).
      ['flag-wrong-field', 24, 19, 43],
      ['union-member-type-mismatch', 39, 15, 33],
      ['union-inactive-member', 41, 2, 12],
    ]);
    assert.match(found[1][4], /used on info\.flags, a struct fx_region_info/);
    assert.match(found[2][4], /used on other\.flags, a struct fx_region_info/);
    assert.match(found[4][4], /FX_REGION_INFO_FLAG_READ is a flag of struct fx_region_info\.flags, but it is used on irq->flags, a struct fx_irq_info/);
    engine.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** Deterministic edits of a C text: spaces, blank lines, a comment naming a flag, a new use, and deletions. */
function* edits(text, count) {
  let seed = 7;
  const next = (n) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const pieces = [' ', '\n', '/* FX_IRQ_INFO_MASKABLE */', '\tif (hdr.flags & FX_REGION_INFO_FLAG_WRITE)\n\t\treturn 2;\n', '\tdev->devid = -1;\n', 'x'];
  for (let i = 0; i < count; i++) {
    const lines = text.split('\n');
    const line = next(lines.length);
    const character = next(lines[line].length + 1);
    const remove = next(3) === 0 && character < lines[line].length ? 1 + next(Math.min(4, lines[line].length - character)) : 0;
    const insert = remove ? '' : pieces[next(pieces.length)];
    const change = { range: { start: { line, character }, end: { line, character: character + remove } }, text: insert };
    lines[line] = lines[line].slice(0, character) + insert + lines[line].slice(character + remove);
    text = lines.join('\n');
    yield { change, text };
  }
}

test('a kernel C file edited in place reports what a fresh open of the same text reports', async () => {
  const file = path.join(fixtures, 'drivers/vfio/fx_bad.c');
  const edited = await createEngine({ root: fixtures, arches: ['x86_64'] });
  const fresh = await createEngine({ root: fixtures, arches: ['x86_64'] });
  let version = 1;
  edited.openDocument(file, readFileSync(file, 'utf8'), version);
  assert.equal(flagRules(edited.check(file, undefined, { projectRules: false })).length, 12, 'fx_bad.c: the findings of flags.test.mjs');
  let compared = 0;
  for (const { change, text } of edits(readFileSync(file, 'utf8'), 60)) {
    edited.changeDocument(file, [change], ++version);
    if (version % 3) continue;
    fresh.openDocument(file, text, version);
    const want = flagRules(fresh.check(file, undefined, { projectRules: false })).map(brief);
    assert.deepEqual(flagRules(edited.check(file, undefined, { projectRules: false })).map(brief), want, `after edit ${version - 1}: ${JSON.stringify(change)}`);
    fresh.closeDocument(file);
    compared++;
  }
  assert.equal(compared, 20);
  edited.dispose();
  fresh.dispose();
});

test('a header edited while the C file stays open: the flag index follows the header', async () => {
  const root = copyOfFixtures();
  try {
    const c = path.join(root, 'drivers/vfio/fx_bad.c');
    const h = path.join(root, 'include/uapi/linux/fx_irq.h');
    const engine = await createEngine({ root, arches: ['x86_64'] });
    engine.openDocument(c, readFileSync(c, 'utf8'), 1);
    const wrongField = () => flagRules(engine.check(c, undefined, { projectRules: false })).filter((f) => f.rule === 'flag-wrong-field').map((f) => f.range.start.line + 1);
    assert.deepEqual(wrongField(), [11], 'FX_IRQ_INFO_MASKABLE used on a struct fx_region_info');
    // Declare FX_IRQ_INFO_MASKABLE among the flags of fx_region_info instead: the use becomes right.
    const header = readFileSync(h, 'utf8');
    const moved = header.replace('#define FX_IRQ_INFO_MASKABLE\t\t(1 << 1)\n', '').replace('#define FX_REGION_INFO_FLAG_WRITE\t(1 << 1)\n', '#define FX_REGION_INFO_FLAG_WRITE\t(1 << 1)\n#define FX_IRQ_INFO_MASKABLE\t\t(1 << 2)\n');
    assert.notEqual(moved, header);
    engine.openDocument(h, moved, 1);
    assert.deepEqual(wrongField(), []);
    engine.closeDocument(h);
    assert.deepEqual(wrongField(), [11], 'back to the disk version');
    engine.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
