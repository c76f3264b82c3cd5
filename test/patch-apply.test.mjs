// applyFilePatch and hunksOnlyTexts (server/src/engine/patch/apply.ts, hunks-only.ts) against git:
// a kernel-style file (test/fixtures/patch/apply/vfio_demo.c) is edited (fixed edit scripts and
// random ones from a seeded PRNG, the seed in the test name), `git diff --no-index -U3` makes the
// patch, and the result must be byte for byte the edited file. The same patch applied to the
// original with lines inserted or removed above its hunks, or with a context line changed, must
// give what `git apply` gives in a temporary folder (the same text and offsets, or a failure).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as engine from '../dist/engine.js';
import { gitAvailable, isolatedGitEnv } from './support/git-fixture.mjs';
import { mulberry32 } from './support/random.mjs';

const { applyFilePatch, hunksOnlyTexts, createEngine } = engine;
const here = path.dirname(fileURLToPath(import.meta.url));
const DEMO = fs.readFileSync(path.join(here, 'fixtures/patch/apply/vfio_demo.c'), 'utf8');
const UAPI = fs.readFileSync(path.join(here, 'fixtures/patch/apply/demo_uapi.h'), 'utf8');
const skip = gitAvailable() ? false : 'git is not installed';

let work;
let env;
let run = 0;

before(async () => {
  await createEngine(); // loads the parser hunksOnlyTexts needs
  work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-apply-')));
  fs.mkdirSync(path.join(work, 'home'));
  env = isolatedGitEnv(path.join(work, 'home'));
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function git(cwd, args) {
  return spawnSync('git', args, { cwd, env, encoding: 'utf8' });
}

/** `git diff --no-index -U<context>` of two versions of demo.c (undefined: the file does not exist). */
function gitDiff(oldText, newText, context = 3) {
  const dir = path.join(work, `diff-${run++}`);
  fs.mkdirSync(path.join(dir, 'a'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'b'), { recursive: true });
  if (oldText !== undefined) fs.writeFileSync(path.join(dir, 'a/demo.c'), oldText);
  if (newText !== undefined) fs.writeFileSync(path.join(dir, 'b/demo.c'), newText);
  const r = git(dir, ['diff', '--no-index', '--no-color', `-U${context}`,
    oldText === undefined ? '/dev/null' : 'a/demo.c', newText === undefined ? '/dev/null' : 'b/demo.c']);
  assert.equal(r.status, 1, `git diff failed: ${r.stderr}`);
  // Both sides named demo.c, so the patch applies with `git apply` in a folder holding demo.c.
  return r.stdout.replaceAll('a/a/demo.c', 'a/demo.c').replaceAll('b/b/demo.c', 'b/demo.c');
}

/** `git apply -v` of `patch` to `target` in a fresh folder: the result text, or undefined and git's message. */
function gitApply(target, patch) {
  const dir = path.join(work, `apply-${run++}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'demo.c'), target);
  fs.writeFileSync(path.join(dir, 'p.diff'), patch);
  const r = git(dir, ['apply', '-v', 'p.diff']);
  if (r.status !== 0) return { ok: false, message: r.stderr };
  const offsets = new Map();
  for (const m of r.stderr.matchAll(/^Hunk #(\d+) succeeded at \d+ \(offset (-?\d+) lines?\)\./gm)) offsets.set(Number(m[1]) - 1, Number(m[2]));
  return { ok: true, text: fs.readFileSync(path.join(dir, 'demo.c'), 'utf8'), offsets };
}

/** The patch as a FilePatch: through the engine's reader when it is there, else a small converter. */
function toFilePatch(patch) {
  if (typeof engine.readPatchInput === 'function') {
    const files = engine.readPatchInput(patch).mails.flatMap((m) => m.files);
    assert.equal(files.length, 1, 'one file in the patch');
    return files[0];
  }
  return convertDiff(patch);
}

function convertDiff(patch) {
  const file = { status: 'modified', binary: false, hunks: [], headerLine: 0 };
  let hunk;
  let oldLeft = 0;
  let newLeft = 0;
  let oldNo = 0;
  let newNo = 0;
  const lines = patch.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, docLine) => {
    const line = raw.replace(/\r$/, '');
    const inHunk = hunk && (oldLeft > 0 || newLeft > 0);
    let m;
    if (inHunk && (line[0] === ' ' || line[0] === '-' || line[0] === '+' || line === '')) {
      const kind = line === '' ? ' ' : line[0];
      const l = { kind, text: line.slice(1), docLine };
      if (kind !== '+') { l.oldLine = oldNo++; oldLeft--; }
      if (kind !== '-') { l.newLine = newNo++; newLeft--; }
      hunk.lines.push(l);
    } else if (hunk && line.startsWith('\\')) {
      hunk.lines[hunk.lines.length - 1].noNewline = true;
    } else if ((m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$/.exec(line))) {
      hunk = { oldStart: +m[1], oldLines: m[2] === undefined ? 1 : +m[2], newStart: +m[3], newLines: m[4] === undefined ? 1 : +m[4], section: m[5].trim(), headerLine: docLine, lines: [] };
      oldLeft = hunk.oldLines;
      newLeft = hunk.newLines;
      oldNo = hunk.oldLines === 0 ? hunk.oldStart + 1 : hunk.oldStart;
      newNo = hunk.newLines === 0 ? hunk.newStart + 1 : hunk.newStart;
      file.hunks.push(hunk);
    } else if (line.startsWith('new file mode')) file.status = 'added';
    else if (line.startsWith('deleted file mode')) file.status = 'deleted';
    else if (line.startsWith('--- ') && line !== '--- /dev/null') file.oldPath = line.slice(6);
    else if (line.startsWith('+++ ') && line !== '+++ /dev/null') file.newPath = line.slice(6);
  });
  return file;
}

// ---- edit scripts ------------------------------------------------------------------------------

const linesOf = (text) => text.split('\n').slice(0, text.endsWith('\n') ? -1 : undefined);
const textOf = (lines, eol = '\n', finalNewline = true) => (lines.length ? lines.join(eol) + (finalNewline ? eol : '') : '');

/** Replaces the line equal to `from` (exactly one) by `to` (any number of lines). */
function edit(text, replacements) {
  let lines = linesOf(text);
  for (const [from, to] of replacements) {
    const at = lines.indexOf(from);
    assert.ok(at >= 0 && lines.indexOf(from, at + 1) < 0, `one line ${JSON.stringify(from)}`);
    lines = [...lines.slice(0, at), ...to, ...lines.slice(at + 1)];
  }
  return textOf(lines);
}

const POOL = ['\tdemo_trace(demo);', '\tret = -EIO;', '', '\tif (!demo)', '\t\treturn -ENODEV;', '/* demo: a comment */',
  '\tmutex_lock(&demo->lock);', '\tmutex_unlock(&demo->lock);', '}', 'static int demo_extra;', '#define DEMO_EXTRA\t1'];

/** 1 to 6 random edits (delete, insert, replace) of `text`'s lines; the same seed, the same edits. */
function randomEdit(text, seed) {
  const rand = mulberry32(seed);
  const pick = (n) => Math.floor(rand() * n);
  const lines = linesOf(text);
  const edits = 1 + pick(6);
  for (let e = 0; e < edits; e++) {
    const at = pick(lines.length + 1);
    const what = pick(3);
    const inserted = Array.from({ length: 1 + pick(3) }, () => POOL[pick(POOL.length)]);
    if (what === 0) lines.splice(at, 1 + pick(3));
    else if (what === 1) lines.splice(at, 0, ...inserted);
    else lines.splice(at, 1, ...inserted);
  }
  return textOf(lines);
}

/**
 * The original with lines inserted or removed just above each hunk (outside every hunk), so the
 * hunks apply at an offset; the same seed, the same shifts.
 */
function shiftAboveHunks(text, file, seed) {
  const rand = mulberry32(seed);
  const lines = linesOf(text);
  const finalNewline = text.endsWith('\n');
  let previousEnd = 0; // 0-based line after the previous hunk's old side
  const plan = file.hunks.map((h) => {
    const start = h.oldLines === 0 ? h.oldStart : h.oldStart - 1;
    const gap = start - previousEnd;
    previousEnd = start + h.oldLines;
    const change = Math.floor(rand() * 7) - 3; // -3 .. 3
    return { start, change: change < 0 ? -Math.min(-change, gap) : change };
  });
  for (let k = plan.length - 1; k >= 0; k--) {
    const { start, change } = plan[k];
    if (change > 0) lines.splice(start, 0, ...Array.from({ length: change }, (_, j) => `/* shifted ${k}.${j} */`));
    else if (change < 0) lines.splice(start + change, -change);
  }
  return textOf(lines, '\n', finalNewline);
}

/** Asserts applyFilePatch gives `expected` for the patch from `before` to `after`, and returns the FilePatch. */
function assertApplies(before, after) {
  const patch = gitDiff(before, after);
  const file = toFilePatch(patch);
  const result = applyFilePatch(before, file);
  assert.ok(result.ok, result.ok ? '' : result.reason);
  assert.equal(result.text, after);
  assert.deepEqual(result.offsets, file.hunks.map(() => 0));
  return { patch, file };
}

/** Applies `patch` to `target` with git and with applyFilePatch: both succeed the same way, or both fail. */
function assertLikeGit(target, patch, file) {
  const expected = gitApply(target, patch);
  const result = applyFilePatch(target, file);
  if (!expected.ok) {
    assert.equal(result.ok, false, `git refused (${expected.message.trim()}), applyFilePatch did not`);
    assert.match(result.reason, new RegExp(`^hunk #${result.hunk + 1} `));
    return { git: expected, result };
  }
  assert.ok(result.ok, `git applied it, applyFilePatch did not: ${result.ok ? '' : result.reason}`);
  assert.equal(result.text, expected.text);
  assert.deepEqual(result.offsets, file.hunks.map((_, k) => expected.offsets.get(k) ?? 0));
  return { git: expected, result };
}

// ---- applying --------------------------------------------------------------------------------

const FIXED_EDITS = {
  'a changed line in a function': [['\tdemo_open_count++;', ['\tdemo_open_count += 1;']]],
  'a struct member added and a define removed': [
    ['\tu32 flags;', ['\tu32 flags;', '\tu32 pad;']],
    ['#define DEMO_FLAG_MMAP\t\tBIT(1)', []],
  ],
  'the first and the last line changed': [
    ['// SPDX-License-Identifier: GPL-2.0-only', ['// SPDX-License-Identifier: GPL-2.0']],
    ['MODULE_DESCRIPTION("VFIO demo driver");', ['MODULE_DESCRIPTION("VFIO demo driver");', 'MODULE_AUTHOR("Demo");']],
  ],
  'a function removed and another added': [
    ['static void demo_remove(struct pci_dev *pdev)', ['static void demo_shutdown(struct pci_dev *pdev)']],
    ['static inline void demo_dump_regions(struct demo_device *demo)', ['static inline void demo_dump_regions(struct demo_device *demo)', '{', '\tpr_debug("demo: no dump\\n");', '}', '', 'static inline void demo_dump_state(struct demo_device *demo)']],
  ],
};

for (const [name, replacements] of Object.entries(FIXED_EDITS)) {
  test(`applies like git: ${name}; with lines moved above its hunks; with a context line changed`, { skip }, () => {
    const after = edit(DEMO, replacements);
    const { patch, file } = assertApplies(DEMO, after);
    for (const seed of [1, 2, 3]) assertLikeGit(shiftAboveHunks(DEMO, file, seed), patch, file);

    // Change a context line of the last hunk: git refuses, and so must we, naming that hunk.
    const k = file.hunks.length - 1;
    const context = file.hunks[k].lines.find((l) => l.kind === ' ' && l.text.trim() !== '' && l.text !== '}');
    const lines = linesOf(DEMO);
    lines[context.oldLine - 1] += ' /* changed */';
    const { git: byGit, result } = assertLikeGit(textOf(lines), patch, file);
    assert.equal(byGit.ok, false);
    assert.equal(result.hunk, k);
    assert.match(result.reason, /changed/);
  });
}

for (let seed = 1; seed <= 40; seed++) {
  test(`applies like git: random edits, seed ${seed}`, { skip }, () => {
    const after = randomEdit(DEMO, seed);
    if (after === DEMO) return;
    const { patch, file } = assertApplies(DEMO, after);
    assertLikeGit(shiftAboveHunks(DEMO, file, seed * 7919), patch, file);
  });
}

test('CRLF file: the result keeps CRLF line ends, added lines included', { skip }, () => {
  const crlf = DEMO.replaceAll('\n', '\r\n');
  const after = edit(DEMO, FIXED_EDITS['a function removed and another added']).replaceAll('\n', '\r\n');
  const { patch, file } = assertApplies(crlf, after);
  assert.ok(file.hunks.every((h) => h.lines.every((l) => !l.text.includes('\r'))));
  assertLikeGit(shiftAboveHunks(crlf.replaceAll('\r\n', '\n'), file, 5).replaceAll('\n', '\r\n'), patch, file);
});

test('no newline at the end of the file, on either side', { skip }, () => {
  const noEol = DEMO.slice(0, -1);
  assertApplies(noEol, DEMO); // gains its newline
  assertApplies(DEMO, noEol); // loses it
  assertApplies(noEol, noEol.replace('MODULE_DESCRIPTION("VFIO demo driver");', 'MODULE_DESCRIPTION("demo");'));
  assertApplies(noEol, noEol.replace('MODULE_LICENSE("GPL");', 'MODULE_LICENSE("GPL v2");')); // context without newline
  // A patch that expects the newline does not apply to the file without it.
  const { patch, file } = assertApplies(DEMO, DEMO.replace('MODULE_LICENSE("GPL");', 'MODULE_LICENSE("GPL v2");'));
  const { git: byGit } = assertLikeGit(noEol, patch, file);
  assert.equal(byGit.ok, false);
});

test('added, deleted and empty files', { skip }, () => {
  const added = toFilePatch(gitDiff(undefined, DEMO));
  assert.equal(added.status, 'added');
  assert.deepEqual(applyFilePatch(undefined, added), { ok: true, text: DEMO, offsets: [0] });
  const exists = applyFilePatch('', added);
  assert.equal(exists.ok, false);
  assert.equal(exists.hunk, -1);
  assert.match(exists.reason, /already exists/);

  const deleted = toFilePatch(gitDiff(DEMO, undefined));
  assert.equal(deleted.status, 'deleted');
  assert.deepEqual(applyFilePatch(DEMO, deleted), { ok: true, text: undefined, offsets: [0] });
  const changed = applyFilePatch(DEMO + 'int tail;\n', deleted);
  assert.equal(changed.ok, false);
  assert.equal(gitApply(DEMO + 'int tail;\n', gitDiff(DEMO, undefined)).ok, false);
  assert.equal(applyFilePatch(undefined, deleted).ok, false);

  assertApplies('', 'int x;\n');
  assertApplies('int x;\n', '');
  assertApplies('', 'int x;');
  const modified = toFilePatch(gitDiff('int x;\n', 'int y;\n'));
  const missing = applyFilePatch(undefined, modified);
  assert.equal(missing.ok, false);
  assert.match(missing.reason, /does not exist/);
});

// ---- bad input -------------------------------------------------------------------------------

test('bad input: a hunk that lies about its counts, overlapping hunks, hunks out of order', { skip }, () => {
  const two = edit(DEMO, [
    ['\tdemo_open_count++;', ['\tdemo_open_count += 1;']],
    ['MODULE_LICENSE("GPL");', ['MODULE_LICENSE("GPL v2");']],
  ]);
  const file = toFilePatch(gitDiff(DEMO, two));
  assert.equal(file.hunks.length, 2);

  const lying = structuredClone(file);
  lying.hunks[1].oldLines += 1;
  const r1 = applyFilePatch(DEMO, lying);
  assert.equal(r1.ok, false);
  assert.equal(r1.hunk, 1);
  assert.match(r1.reason, /header counts/);

  const overlapping = structuredClone(file);
  overlapping.hunks.splice(1, 0, structuredClone(file.hunks[0]));
  const r2 = applyFilePatch(DEMO, overlapping);
  assert.equal(r2.ok, false);
  assert.equal(r2.hunk, 1);
  assert.match(r2.reason, /in order and must not overlap/);

  // git applies hunks in any order; the review does not (a reordered patch was not made by diff).
  const swapped = structuredClone(file);
  swapped.hunks.reverse();
  const r3 = applyFilePatch(DEMO, swapped);
  assert.equal(r3.ok, false);
  assert.equal(r3.hunk, 1);

  const nothing = structuredClone(file);
  nothing.hunks[0].lines = nothing.hunks[0].lines.filter((l) => l.kind === ' ');
  nothing.hunks[0].newLines = nothing.hunks[0].oldLines = nothing.hunks[0].lines.length;
  assert.match(applyFilePatch(DEMO, nothing).reason, /changes nothing/);

  const binary = applyFilePatch(DEMO, { ...file, binary: true, hunks: [] });
  assert.equal(binary.ok, false);
});

test('bad input: a 100,000-hunk patch is applied in bounded time', { timeout: 120_000 }, () => {
  // Line i is `int v<i>;`; every fourth line is changed, so each hunk has one '-', one '+' and context.
  const count = 100_000;
  const oldLines = [];
  for (let i = 0; i < count * 8; i++) oldLines.push(`int v${i};`);
  const hunks = [];
  const newLines = oldLines.slice();
  for (let k = 0; k < count; k++) {
    const changed = k * 8 + 3; // 0-based; context lines changed-1 and changed+1
    newLines[changed] = `long v${changed};`;
    const lines = [
      { kind: ' ', text: oldLines[changed - 1], docLine: 0, oldLine: changed, newLine: changed },
      { kind: '-', text: oldLines[changed], docLine: 0, oldLine: changed + 1 },
      { kind: '+', text: newLines[changed], docLine: 0, newLine: changed + 1 },
      { kind: ' ', text: oldLines[changed + 1], docLine: 0, oldLine: changed + 2, newLine: changed + 2 },
    ];
    hunks.push({ oldStart: changed, oldLines: 3, newStart: changed, newLines: 3, section: '', headerLine: 0, lines });
  }
  const file = { status: 'modified', binary: false, hunks, headerLine: 0, oldPath: 'big.c', newPath: 'big.c' };
  const result = applyFilePatch(textOf(oldLines), file);
  assert.ok(result.ok);
  assert.equal(result.text, textOf(newLines));
  // With every line moved by one, each hunk is found one line further on.
  const shifted = applyFilePatch(textOf(['int first;', ...oldLines]), file);
  assert.ok(shifted.ok);
  assert.equal(shifted.text, textOf(['int first;', ...newLines]));
  assert.ok(shifted.offsets.every((o) => o === 1));
});

// ---- hunks only ------------------------------------------------------------------------------

/** The first line of each kept span of a side: names the constructs. */
function keptFirstLines(text, spans) {
  const lines = text.split('\n');
  return spans.map((s) => lines[s.start - 1]);
}

/** Every kept line of `texts.newText` / `oldText` is the real file's line at the same number; the rest is empty. */
function assertPositions(sideText, spans, real) {
  const lines = sideText.split('\n');
  const realLines = real.split('\n');
  const kept = new Set();
  for (const s of spans) for (let n = s.start; n <= s.end; n++) kept.add(n);
  for (let n = 1; n < lines.length; n++) {
    if (kept.has(n)) assert.equal(lines[n - 1], realLines[n - 1], `line ${n}`);
    else assert.equal(lines[n - 1], '', `line ${n} is not kept, so it is empty`);
  }
}

test('hunks only: a hunk that starts inside a function keeps the complete function that follows, not the tail', { skip }, () => {
  const after = edit(DEMO, [['static int demo_get_region_info(struct demo_device *demo,', [
    'static bool demo_region_enabled(struct demo_device *demo, unsigned int index)',
    '{',
    '\treturn demo->region_mask & BIT(index);',
    '}',
    '',
    'static int demo_get_region_info(struct demo_device *demo,',
  ]]]);
  const file = toFilePatch(gitDiff(DEMO, after));
  const texts = hunksOnlyTexts(file);
  assert.deepEqual(keptFirstLines(texts.newText, texts.newKept), ['static bool demo_region_enabled(struct demo_device *demo, unsigned int index)']);
  assert.deepEqual(texts.oldKept, []);
  assertPositions(texts.newText, texts.newKept, after);
  assertPositions(texts.oldText, texts.oldKept, DEMO);
  // The hunk's first lines (the tail of demo_close_device) are there in the hunk, and blanked.
  const first = file.hunks[0].lines[0];
  assert.match(first.text, /^\t/);
  assert.equal(texts.newText.split('\n')[first.newLine - 1], '');
});

test('hunks only: a struct entirely inside a hunk\'s context is kept on both sides; the comments the hunk cuts are not', { skip }, () => {
  // Edits just above and below struct demo_region, close enough for -U3 to make one hunk.
  const lines = linesOf(DEMO);
  const at = lines.indexOf('struct demo_region {');
  lines.splice(at + 5, 0, '#define DEMO_REGION_ALIGN\t4096');
  lines[at - 2] = ' * @flags: DEMO_FLAG_* bits';
  const after = textOf(lines);
  const file = toFilePatch(gitDiff(DEMO, after));
  assert.equal(file.hunks.length, 1);
  const texts = hunksOnlyTexts(file);
  assert.deepEqual(keptFirstLines(texts.newText, texts.newKept), ['struct demo_region {', '#define DEMO_REGION_ALIGN\t4096']);
  assert.deepEqual(keptFirstLines(texts.oldText, texts.oldKept), ['struct demo_region {']);
  assert.deepEqual(texts.newKept[0], { start: at + 1, end: at + 5 });
  assert.ok(!texts.newText.includes('@offset') && !texts.newText.includes('struct demo_device -'), 'the two cut kernel-doc comments are blanked');
  assertPositions(texts.newText, texts.newKept, after);
  assertPositions(texts.oldText, texts.oldKept, DEMO);

  // A hunk of #defines: each whole one is kept, the one added too.
  const defines = edit(DEMO, [['#define DEMO_FLAG_MMAP\t\tBIT(1)', ['#define DEMO_FLAG_MMAP\t\tBIT(1)', '#define DEMO_FLAG_WC\t\tBIT(2)']]]);
  const narrow = hunksOnlyTexts(toFilePatch(gitDiff(DEMO, defines)));
  assert.deepEqual(keptFirstLines(narrow.newText, narrow.newKept), [
    '#define DEMO_REGION_MASK\t(BIT(DEMO_MAX_REGIONS) - 1)', '#define DEMO_FLAG_RESET\t\tBIT(0)', '#define DEMO_FLAG_MMAP\t\tBIT(1)', '#define DEMO_FLAG_WC\t\tBIT(2)',
  ]);
  assertPositions(narrow.newText, narrow.newKept, defines);
});

test('hunks only: two hunks whose gap splits a function keep nothing of it', { skip }, () => {
  const after = edit(DEMO, [
    ['\tstruct demo_region *region;', ['\tstruct demo_region *region = NULL;']],
    ['\t\tinfo->flags |= VFIO_REGION_INFO_FLAG_MMAP;', ['\t\tinfo->flags |= VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;']],
  ]);
  const file = toFilePatch(gitDiff(DEMO, after));
  assert.equal(file.hunks.length, 2);
  const texts = hunksOnlyTexts(file);
  const start = linesOf(after).indexOf('static int demo_get_region_info(struct demo_device *demo,') + 1;
  const end = linesOf(after).indexOf('static long demo_ioctl(struct vfio_device *vdev, unsigned int cmd,');
  for (const s of texts.newKept) assert.ok(s.end < start || s.start > end, `kept ${s.start}-${s.end} is not part of demo_get_region_info`);
  assertPositions(texts.newText, texts.newKept, after);
  assertPositions(texts.oldText, texts.oldKept, DEMO);
});

test('hunks only: a dangling #ifdef half, a cut macro and a cut comment are blanked; a #define beside them kept', { skip }, () => {
  const after = edit(DEMO, [
    ['#ifdef CONFIG_DEMO_DEBUG', ['#ifdef CONFIG_DEMO_DEBUG', '#define DEMO_DEBUG_LEVEL\t1']],
    ['enum demo_state {', ['enum demo_state {', '\tDEMO_STATE_NONE,']],
    [' * @size: its length in bytes', [' * @size: its length in bytes, a multiple of PAGE_SIZE']],
  ]);
  const file = toFilePatch(gitDiff(DEMO, after));
  const texts = hunksOnlyTexts(file);
  // The enum's hunk ends before its `};`, the struct's hunk after `struct demo_region {`: both cut.
  assert.deepEqual(keptFirstLines(texts.newText, texts.newKept), ['/**', '#define DEMO_DEBUG_LEVEL\t1']);
  for (const gone of ['#ifdef', 'if (!((d)->region_mask', 'enum demo_state', 'struct demo_region {', 'static void demo_dump_regions']) {
    assert.ok(!texts.newText.includes(gone), `${gone} is blanked`);
  }
  assertPositions(texts.newText, texts.newKept, after);
  assertPositions(texts.oldText, texts.oldKept, DEMO);
});

/** The constructs of the whole file, as hunksOnlyTexts sees them when one hunk holds everything. */
function wholeFileSpans(text) {
  const lines = linesOf(text);
  const hunkLines = lines.map((t, i) => ({ kind: ' ', text: t, docLine: i, oldLine: i + 1, newLine: i + 1 }));
  hunkLines.push({ kind: '+', text: '', docLine: lines.length, newLine: lines.length + 1 });
  const all = hunksOnlyTexts({ status: 'modified', binary: false, headerLine: 0, hunks: [{ oldStart: 1, oldLines: lines.length, newStart: 1, newLines: lines.length + 1, section: '', headerLine: 0, lines: hunkLines }] });
  return all.oldKept;
}

test('hunks only: a hunk holding the whole file keeps every top-level construct, each as one span', () => {
  const lines = linesOf(DEMO);
  const spans = wholeFileSpans(DEMO).map((w) => [w.start, w.end, lines[w.start - 1]]);
  const at = (first) => lines.indexOf(first) + 1;
  const func = (first) => [at(first), lines.indexOf('}', at(first)) + 1, first];
  assert.deepEqual(spans, [
    [1, 1, '// SPDX-License-Identifier: GPL-2.0-only'],
    [2, 5, '/*'],
    ...['#include <linux/module.h>', '#include <linux/mutex.h>', '#include <linux/pci.h>', '#include <linux/vfio.h>',
      '#define DEMO_MAX_REGIONS\t8', '#define DEMO_REGION_MASK\t(BIT(DEMO_MAX_REGIONS) - 1)', '#define DEMO_FLAG_RESET\t\tBIT(0)',
      '#define DEMO_FLAG_MMAP\t\tBIT(1)'].map((l) => [at(l), at(l), l]),
    [16, 18, '#define demo_for_each_region(d, i)\t\t\t\t\\'],
    [20, 24, 'enum demo_state {'],
    [26, 31, '/**'],
    [32, 36, 'struct demo_region {'],
    [38, 46, '/**'],
    [47, 54, 'struct demo_device {'],
    [56, 56, 'static DEFINE_MUTEX(demo_list_lock);'],
    [57, 57, 'static unsigned int demo_open_count;'],
    func('static struct demo_device *to_demo(struct vfio_device *vdev)'),
    func('static int demo_open_device(struct vfio_device *vdev)'),
    func('static void demo_close_device(struct vfio_device *vdev)'),
    func('static int demo_get_region_info(struct demo_device *demo,'),
    func('static long demo_ioctl(struct vfio_device *vdev, unsigned int cmd,'),
    [at('#ifdef CONFIG_DEMO_DEBUG'), at('#endif'), '#ifdef CONFIG_DEMO_DEBUG'],
    [at('static const struct vfio_device_ops demo_ops = {'), at('static const struct vfio_device_ops demo_ops = {') + 5, 'static const struct vfio_device_ops demo_ops = {'],
    func('static int demo_probe(struct pci_dev *pdev, const struct pci_device_id *id)'),
    func('static void demo_remove(struct pci_dev *pdev)'),
    [at('static const struct pci_device_id demo_table[] = {'), at('static const struct pci_device_id demo_table[] = {') + 3, 'static const struct pci_device_id demo_table[] = {'],
    [at('MODULE_DEVICE_TABLE(pci, demo_table);'), at('MODULE_DEVICE_TABLE(pci, demo_table);'), 'MODULE_DEVICE_TABLE(pci, demo_table);'],
    [at('static struct pci_driver demo_driver = {'), at('static struct pci_driver demo_driver = {') + 5, 'static struct pci_driver demo_driver = {'],
    ...['module_pci_driver(demo_driver);', 'MODULE_LICENSE("GPL");', 'MODULE_DESCRIPTION("VFIO demo driver");'].map((l) => [at(l), at(l), l]),
  ]);
});

test('hunks only, uapi header: the include guard is one construct of the whole file, its trailing comment included', () => {
  const lines = linesOf(UAPI);
  assert.deepEqual(wholeFileSpans(UAPI).map((w) => [w.start, w.end, lines[w.start - 1]]), [
    [1, 1, lines[0]],
    [2, 4, '/*'],
    [5, lines.length, '#ifndef _UAPI_LINUX_DEMO_H'],
  ]);
});

test('hunks only, uapi header: a struct added before #endif is kept, the dangling #endif and the cut struct above are not', { skip }, () => {
  const after = edit(UAPI, [['#define DEMO_GET_REGION_INFO\t_IO(DEMO_TYPE, DEMO_BASE + 1)', [
    '#define DEMO_GET_REGION_INFO\t_IO(DEMO_TYPE, DEMO_BASE + 1)',
    '',
    '/**',
    ' * struct demo_caps - capabilities of the demo device',
    ' * @argsz: size of the structure as userspace knows it',
    ' * @caps: DEMO_CAP_*',
    ' */',
    'struct demo_caps {',
    '\t__u32\targsz;',
    '\t__u32\tcaps;',
    '#define DEMO_CAP_MIGRATION\t(1 << 0)',
    '};',
    '#define DEMO_GET_CAPS\t\t_IO(DEMO_TYPE, DEMO_BASE + 2)',
  ]]]);
  const file = toFilePatch(gitDiff(UAPI, after));
  const texts = hunksOnlyTexts(file);
  assert.deepEqual(keptFirstLines(texts.newText, texts.newKept), [
    '#define DEMO_GET_REGION_INFO\t_IO(DEMO_TYPE, DEMO_BASE + 1)', '/**', 'struct demo_caps {', '#define DEMO_GET_CAPS\t\t_IO(DEMO_TYPE, DEMO_BASE + 2)',
  ]);
  assert.ok(!texts.newText.includes('#endif'));
  assert.ok(!/^\t__aligned_u64\toffset;$/m.test(texts.newText), 'the tail of struct demo_region_info is blanked');
  assertPositions(texts.newText, texts.newKept, after);
  assertPositions(texts.oldText, texts.oldKept, UAPI);
});

test('hunks only, uapi header: with ten lines of context the changed struct is whole, its #defines inside it', { skip }, () => {
  const after = edit(UAPI, [['\t__u32\tnum_irqs;', ['\t__u32\tnum_irqs;', '\t__u32\tnum_caps;']]]);
  const file = toFilePatch(gitDiff(UAPI, after, 10));
  const texts = hunksOnlyTexts(file);
  const kept = keptFirstLines(texts.newText, texts.newKept);
  assert.deepEqual(kept, ['struct demo_info {', '#define DEMO_GET_INFO\t\t_IO(DEMO_TYPE, DEMO_BASE + 0)', '/**']);
  assert.deepEqual(texts.newKept[0], { start: 20, end: 28 });
  assert.deepEqual(keptFirstLines(texts.oldText, texts.oldKept), kept);
  assertPositions(texts.newText, texts.newKept, after);
  assertPositions(texts.oldText, texts.oldKept, UAPI);
});

/**
 * Random edits that keep kernel style (so a construct starts in column 0 and a body line does
 * not): statements inserted, deleted or replaced inside functions, whole constructs inserted
 * before or deleted; each edit in a different construct of the file.
 */
function kernelStyleEdit(text, seed) {
  const rand = mulberry32(seed);
  const pick = (n) => Math.floor(rand() * n);
  const lines = linesOf(text);
  const spans = wholeFileSpans(text).filter((w) => !/^#if/.test(lines[w.start - 1]));
  const chosen = new Set();
  const edits = 1 + pick(4);
  for (let e = 0; e < edits; e++) chosen.add(pick(spans.length));
  for (const j of [...chosen].sort((x, y) => y - x)) {
    const { start, end } = spans[j];
    const isFunction = lines[end - 1] === '}' && lines[start] === '{';
    // Statement lines of a function body: `;`-terminated, no braces, after a `;` or `{` line.
    const statements = [];
    for (let i = start + 1; i < end - 1 && isFunction; i++) {
      if (/^\t[^{}]*;$/.test(lines[i]) && /[;{]$/.test(lines[i - 1])) statements.push(i);
    }
    const op = pick(5);
    if (op <= 2 && statements.length) {
      const i = statements[pick(statements.length)];
      if (op === 0) lines.splice(i + 1, 0, `\tdemo_trace(demo, ${seed});`);
      else if (op === 1) lines.splice(i, 1);
      else lines.splice(i, 1, '\tdemo_trace(demo);');
    } else if (op === 3 || op <= 2) {
      const constructs = [[`static int demo_extra_${seed};`], [`#define DEMO_EXTRA_${seed}\t1`], [`/* demo: note ${seed} */`],
        [`static void demo_nop_${seed}(void)`, '{', '}']];
      lines.splice(start - 1, 0, ...constructs[pick(constructs.length)], '');
    } else {
      lines.splice(start - 1, end - start + 1 + (lines[end] === '' ? 1 : 0));
    }
  }
  return textOf(lines);
}

/** 1-based line numbers the hunks show on one side. */
function presentLines(file, side) {
  const present = new Set();
  for (const h of file.hunks) for (const l of h.lines) if (l.kind !== (side === 'old' ? '+' : '-')) present.add(side === 'old' ? l.oldLine : l.newLine);
  return present;
}

for (let seed = 101; seed <= 140; seed++) {
  test(`hunks only: random kernel-style edits keep exactly the constructs the hunks show whole, at their lines, seed ${seed}`, { skip }, () => {
    const after = kernelStyleEdit(DEMO, seed);
    if (after === DEMO) return;
    const file = toFilePatch(gitDiff(DEMO, after));
    const texts = hunksOnlyTexts(file);
    for (const [side, real, spans] of [['old', DEMO, texts.oldKept], ['new', after, texts.newKept]]) {
      assertPositions(side === 'old' ? texts.oldText : texts.newText, spans, real);
      const whole = wholeFileSpans(real);
      const lines = linesOf(real);
      const conditional = (w) => /^#if/.test(lines[w.start - 1]);
      for (const s of spans) {
        const same = whole.some((w) => w.start === s.start && w.end === s.end);
        const inConditional = whole.some((w) => conditional(w) && w.start <= s.start && s.end <= w.end);
        assert.ok(same || inConditional, `${side} ${s.start}-${s.end} (${lines[s.start - 1]}) is a construct of the real file`);
      }
      // And every construct the hunks show whole is kept (outside conditionals, which are cut in pieces).
      const present = presentLines(file, side);
      for (const w of whole) {
        let all = true;
        for (let n = w.start; n <= w.end && all; n++) all = present.has(n);
        if (!all || whole.some((c) => conditional(c) && c !== w && c.start <= w.start && w.end <= c.end)) continue;
        assert.ok(spans.some((s) => s.start === w.start && s.end === w.end), `${side} ${w.start}-${w.end} (${lines[w.start - 1]}) is whole in a hunk, so it is kept`);
      }
    }
  });
}

test('hunks only, bad input: hunks that disagree about a line, lines far beyond any file, unnumbered lines', () => {
  const fn = ['static int demo_a(void)', '{', '\treturn 0;', '}'];
  const hunk = (start, lines) => ({ oldStart: start, oldLines: lines.length, newStart: start, newLines: lines.length, section: '', headerLine: 0,
    lines: lines.map((text, i) => ({ kind: ' ', text, docLine: 0, oldLine: start + i, newLine: start + i })) });
  // Two hunks claim line 3 with different texts: the construct holding it is not kept.
  const conflicting = hunksOnlyTexts({ status: 'modified', binary: false, headerLine: 0, hunks: [hunk(1, fn), hunk(3, ['\treturn 1;', '}'])] });
  assert.deepEqual(conflicting.newKept, []);
  assert.equal(conflicting.newText.trim(), '');
  // A header far beyond any real file: those lines are not followed (no huge text), the rest is.
  const far = hunksOnlyTexts({ status: 'modified', binary: false, headerLine: 0, hunks: [hunk(1, fn), hunk(4_000_000_000, fn)] });
  assert.deepEqual(far.newKept, [{ start: 1, end: 4 }]);
  assert.ok(far.newText.length < 100);
  // Lines the reader did not number are placed by the header.
  const unnumbered = hunk(10, fn);
  for (const l of unnumbered.lines) { delete l.oldLine; delete l.newLine; }
  const placed = hunksOnlyTexts({ status: 'modified', binary: false, headerLine: 0, hunks: [unnumbered] });
  assert.deepEqual(placed.newKept, [{ start: 10, end: 13 }]);
  assert.equal(placed.newText.split('\n')[9], 'static int demo_a(void)');
  // Nothing at all.
  assert.deepEqual(hunksOnlyTexts({ status: 'modified', binary: false, headerLine: 0, hunks: [] }), { oldText: '', newText: '', oldKept: [], newKept: [] });
});

test('hunks only: a 10,000-hunk patch finishes (hang guard)', { timeout: 120_000 }, () => {
  const hunks = [];
  for (let k = 0; k < 10_000; k++) {
    const n = k * 10 + 2;
    hunks.push({
      oldStart: n, oldLines: 2, newStart: n, newLines: 2, section: '', headerLine: 0, lines: [
        { kind: '-', text: `int v${n};`, docLine: 0, oldLine: n },
        { kind: '+', text: `long v${n};`, docLine: 0, newLine: n },
        { kind: ' ', text: `static int f${n}(void) { return 0; }`, docLine: 0, oldLine: n + 1, newLine: n + 1 },
      ],
    });
  }
  const texts = hunksOnlyTexts({ status: 'modified', binary: false, headerLine: 0, hunks });
  assert.equal(texts.newKept.length, 20_000);
  assert.equal(texts.newText.split('\n')[2 - 1], 'long v2;');
});
