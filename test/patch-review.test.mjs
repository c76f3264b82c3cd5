// Patch review end to end: the example series (examples/patches/vfio-example-v2.mbox: a cover
// letter and three patches against examples/linux, patch 1 quoted-printable, patch 3 with CRLF
// line ends) applied in memory to the example tree, the findings each patch introduces on the
// mbox's own lines, the findings the tree already had left out; the hunks-alone fallback; every
// output format of `vfio-review patch`; and `vfio-review reply`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync, existsSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, readPatchInput, reviewPatchInput, draftReply, replyTarget, patchHover } from '../dist/engine.js';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const tree = path.join(repo, 'examples/linux');
const mbox = path.join(repo, 'examples/patches/vfio-example-v2.mbox');
const mboxText = readFileSync(mbox, 'utf8');
const mboxLines = mboxText.split('\n');
const cli = path.join(repo, 'dist/cli.js');

await createEngine({}); // loads the parser the review needs

function review(text = mboxText, options = {}) {
  const input = readPatchInput(text);
  return { input, review: reviewPatchInput(input, { document: '/reviews/series.mbox', documentText: text, tree, engine: { arches: ['x86_64', 'i386'] }, ...options }) };
}

function run(args, { input, cwd = repo } = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, input, encoding: 'utf8', timeout: 120_000, maxBuffer: 256 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** 1-based line of the mbox whose text starts with `prefix`, after the line that starts with `after`. */
function lineOf(prefix, after = '') {
  const start = after ? mboxLines.findIndex((l) => l.startsWith(after)) : 0;
  const i = mboxLines.findIndex((l, n) => n >= start && l.replace(/\r$/, '').startsWith(prefix));
  assert.ok(i >= 0, `no line starting with ${prefix}`);
  return i + 1;
}

test('tree mode: each patch\'s new findings on its own lines, in the mbox, with the patched file:line', () => {
  const { review: r } = review();
  assert.equal(r.cancelled, false);
  assert.deepEqual(r.files.map((f) => [f.mail, f.path, f.mode]), [
    [1, 'include/uapi/linux/vfio_example.h', 'tree'],
    [2, 'drivers/vfio/pci/vfio_example_core.c', 'tree'],
    [3, 'drivers/vfio/pci/vfio_example_core.c', 'tree'],
  ]);
  const got = r.findings.map((f) => [f.mail, f.range.start.line + 1, f.rule, `${f.target.file}:${f.target.line}`]);
  const define = lineOf('+#define VFIO_EXAMPLE_FLAG_SCOPE_VALID');
  const scope = lineOf('+\t__u32\tscope;');
  // Patch 2 removes the mutex_lock()/mutex_unlock() pair: the walk's call line is context, so the
  // finding lands on the nearest change, the removed mutex_lock() line.
  const unlocked = lineOf('-\tmutex_lock(&dev_set->lock);');
  const devid = lineOf('+\t\t\tinfo.devid = vfio_example_owner_devid');
  assert.deepEqual(got, [
    [1, define, 'abi-size-changed', 'include/uapi/linux/vfio_example.h:70'],
    [1, define, 'flag-signed-shift', 'include/uapi/linux/vfio_example.h:75'],
    // `count` and `devices` move, on context lines: the nearest change is the inserted member.
    [1, scope, 'abi-member-offset-changed', 'include/uapi/linux/vfio_example.h:77'],
    [1, scope, 'abi-member-offset-changed', 'include/uapi/linux/vfio_example.h:78'],
    [1, scope, 'abi-member-inserted', 'include/uapi/linux/vfio_example.h:76'],
    [2, unlocked, 'lock-not-held', 'drivers/vfio/pci/vfio_example_core.c:124'],
    [3, devid, 'union-inactive-member', 'drivers/vfio/pci/vfio_example_core.c:82'],
  ]);
  for (const f of r.findings) assert.ok(f.message.startsWith(`${f.target.file}:${f.target.line}: `), f.message);
  // On a `+` line copied verbatim (patch 3 has CRLF line ends), the columns are the finding's own, shifted by the `+`.
  const inactive = r.findings.find((f) => f.rule === 'union-inactive-member');
  assert.equal(mboxLines[inactive.range.start.line].slice(inactive.range.start.character, inactive.range.end.character), 'info.devid');
  // The tree's own findings (implicit padding, the -1 sentinel in a __u32, ...) were there before: not reported.
  for (const rule of ['uapi-implicit-padding', 'uapi-arch-dependent-layout', 'union-member-type-mismatch', 'flag-out-of-range']) {
    assert.ok(!r.findings.some((f) => f.rule === rule), rule);
  }
});

test('the series is applied in order: a patch sees what the earlier ones did', () => {
  // Patch 3 alone on the original tree: its file also applies, but the helper it calls only exists
  // after patch 2; on the series state the review must still find patch 3's union write only.
  const { input, review: r } = review();
  const third = input.mails[3];
  assert.match(third.subject, /\[PATCH v2 3\/3\]/);
  const after3 = r.files.find((f) => f.mail === 3).after;
  assert.match(after3, /static int vfio_example_owner_devid/, 'patch 2\'s helper is in the text patch 3 was applied to');
  assert.doesNotMatch(after3, /mutex_lock\(&dev_set->lock\);\n\tret = vfio_example_walk_slot/);
});

test('hunks alone: without a tree, complete constructs inside the hunks are checked and the mode is said', () => {
  const diff = [
    'diff --git a/include/uapi/linux/vfio_example.h b/include/uapi/linux/vfio_example.h',
    '--- a/include/uapi/linux/vfio_example.h',
    '+++ b/include/uapi/linux/vfio_example.h',
    '@@ -150,3 +150,11 @@ struct vfio_example_irq_set {',
    ' #define VFIO_EXAMPLE_DEVICE_SET_IRQS\t_IO(VFIO_EXAMPLE_TYPE, VFIO_EXAMPLE_BASE + 4)',
    ' ',
    '+struct vfio_example_region_info {',
    '+\t__u32\targsz;',
    '+\t__u16\tindex;',
    '+\t__u32\tflags;',
    '+};',
    '+',
    '+struct vfio_example_tail;',
    '+',
    ' #endif /* _UAPI_VFIO_EXAMPLE_H */',
    '',
  ].join('\n');
  const { review: r } = review(diff, { tree: undefined });
  assert.equal(r.tree, undefined);
  assert.deepEqual(r.files.map((f) => [f.path, f.mode, f.reason]), [['include/uapi/linux/vfio_example.h', 'hunks', 'no tree given']]);
  assert.deepEqual(r.findings.map((f) => [f.rule, f.range.start.line + 1]), [
    ['patch-hunks-only', 1],
    // At the member after the hole.
    ['uapi-implicit-padding', 10],
  ]);
  assert.match(r.findings[1].message, /^include\/uapi\/linux\/vfio_example\.h:155: struct vfio_example_region_info: 2 bytes at offset 6/);
});

test('a hunk that does not apply to the tree falls back to the hunks, and says which hunk', () => {
  // The series' first patch with a context line the tree does not have.
  const broken = mboxText.replace('=20\t__u32\tflags;', '=20\t__u32\tflags_renamed;').replace(' \t__u32\tflags;\n #define VFIO_EXAMPLE_FLAG_DEV_ID\t', ' \t__u32\tflags_renamed;\n #define VFIO_EXAMPLE_FLAG_DEV_ID\t');
  assert.notEqual(broken, mboxText);
  const { review: r } = review(broken);
  const first = r.files.find((f) => f.mail === 1);
  assert.equal(first.mode, 'hunks');
  assert.match(first.reason, /^hunk 1 does not apply/);
  const note = r.findings.find((f) => f.rule === 'patch-hunks-only');
  assert.match(note.message, /hunk 1 does not apply/);
  // The other patches still apply to the tree.
  assert.deepEqual(r.files.filter((f) => f.mail !== 1).map((f) => f.mode), ['tree', 'tree']);
});

test('refused and broken input: a path out of the tree, a lying hunk, bytes that are not UTF-8', () => {
  const evil = [
    'diff --git a/drivers/vfio/pci/vfio_example_core.c b/../../etc/passwd',
    '--- a/drivers/vfio/pci/vfio_example_core.c',
    '+++ b/../../etc/passwd',
    '@@ -1,1 +1,2 @@',
    ' // SPDX-License-Identifier: GPL-2.0-only',
    '+root::0:0::/root:/bin/sh',
    '--- a/include/uapi/linux/vfio_example.h',
    '+++ b/include/uapi/linux/vfio_example.h',
    '@@ -1,5 +1,9 @@',
    ' /* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */',
    '+\xff\xfe',
    '',
  ].join('\n');
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-patch-'));
  try {
    const file = path.join(dir, 'evil.patch');
    writeFileSync(file, Buffer.from(evil, 'latin1'));
    const r = run(['patch', file, '--tree', tree, '--format', 'json']);
    assert.ok(r.code === 0 || r.code === 1, r.stderr);
    const out = JSON.parse(r.stdout);
    const input = out.findings.filter((f) => f.rule === 'patch-input');
    assert.ok(input.some((f) => f.severity === 'error' && /\.\.\/\.\.\/etc\/passwd/.test(f.message)), JSON.stringify(input));
    assert.ok(input.some((f) => /count|lines|hunk/i.test(f.message)), JSON.stringify(input));
    assert.ok(!out.patches[0].files.some((f) => /passwd/.test(f.path)));
    assert.equal(existsSync(path.join(dir, 'etc')), false);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('patch --format text/json/sarif/github: same findings, exit 1 on errors', () => {
  const text = run(['patch', mbox, '--tree', tree, '--arch', 'x86_64,i386']);
  assert.equal(text.code, 1, text.stderr);
  const lines = text.stdout.trim().split('\n').filter((l) => !l.startsWith('examples/linux/'));
  assert.equal(lines.length, 7);
  assert.match(lines[0], new RegExp(`^examples/patches/vfio-example-v2\\.mbox:${lineOf('+#define VFIO_EXAMPLE_FLAG_SCOPE_VALID')}:1: error: include/uapi/linux/vfio_example\\.h:70: .* \\[abi-size-changed\\]$`));
  assert.match(text.stderr, /3 patches, 3 C files checked \(3 in the tree, 0 from hunks alone/);

  const json = JSON.parse(run(['patch', mbox, '--tree', tree, '--arch', 'x86_64,i386', '--format', 'json']).stdout);
  assert.equal(json.findings.length, 7);
  assert.deepEqual(json.findings.map((f) => f.patch), [1, 1, 1, 1, 1, 2, 3]);
  assert.deepEqual(json.findings[6].target, { file: 'drivers/vfio/pci/vfio_example_core.c', line: 82 });
  assert.equal(json.patches[0].mails[0].cover, true);
  assert.deepEqual(json.patches[0].files.map((f) => f.mode), ['tree', 'tree', 'tree']);

  const sarif = JSON.parse(run(['patch', mbox, '--tree', tree, '--arch', 'x86_64,i386', '--format', 'sarif']).stdout);
  const results = sarif.runs[0].results;
  assert.equal(results.length, 7);
  assert.equal(results[0].locations[0].physicalLocation.artifactLocation.uri, 'examples/patches/vfio-example-v2.mbox');
  assert.ok(sarif.runs[0].tool.driver.rules.some((r) => r.id === 'patch-hunks-only'));

  const github = run(['patch', mbox, '--tree', tree, '--arch', 'x86_64,i386', '--format', 'github']).stdout;
  assert.match(github, /^::error file=examples\/patches\/vfio-example-v2\.mbox,line=\d+/m);
});

test('patch --format b4: ERROR:/WARNING: lines, exit 0, stdin as b4 sends one mail; silent and exit 0 when clean', () => {
  const mails = mboxText.split(/^(?=From [0-9a-f]{40} )/m);
  const first = mails[1];
  const r = run(['patch', '-', '--tree', tree, '--arch', 'x86_64,i386', '--format', 'b4'], { input: first });
  assert.equal(r.code, 0);
  assert.equal(r.stderr, '');
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 5);
  assert.ok(lines.every((l) => /^(ERROR|WARNING): [a-z-]+: include\/uapi\/linux\/vfio_example\.h:\d+: /.test(l)), r.stdout);
  assert.equal(lines.filter((l) => l.startsWith('ERROR:')).length, 4);
  // The cover letter has no diff: nothing to say.
  const cover = run(['patch', '-', '--tree', tree, '--format', 'b4'], { input: mails[0] });
  assert.deepEqual([cover.code, cover.stdout, cover.stderr], [0, '', '']);
});

test('patch --format b4-review: b4 review\'s check-tool JSON', () => {
  const mails = mboxText.split(/^(?=From [0-9a-f]{40} )/m);
  const fail = JSON.parse(run(['patch', '-', '--tree', tree, '--format', 'b4-review'], { input: mails[2] }).stdout);
  assert.equal(fail.length, 1);
  assert.equal(fail[0].tool, 'vfio-review');
  assert.equal(fail[0].status, 'fail');
  assert.match(fail[0].summary, /^1 error: drivers\/vfio\/pci\/vfio_example_core\.c:124: `fill\.vdev->dev_set->lock` is not held/);
  assert.match(fail[0].details, /\[lock-not-held\]/);
  const pass = JSON.parse(run(['patch', '-', '--tree', tree, '--format', 'b4-review'], { input: mails[0] }).stdout);
  assert.deepEqual(pass.map((p) => [p.tool, p.status]), [['vfio-review', 'pass']]);
});

test('reply: RFC 2822 headers from the patch, quoted hunks with findings, each finding under its line', () => {
  const { input, review: r } = review();
  const mail = replyTarget(input, r.findings, 3);
  const reply = draftReply(mail, r.findings);
  const [head, body] = reply.split('\n\n', 2).length === 2 ? [reply.slice(0, reply.indexOf('\n\n')), reply.slice(reply.indexOf('\n\n') + 2)] : [];
  assert.match(head, /^To: Alex Example <alex@example\.org>$/m);
  assert.match(head, /^Subject: Re: \[PATCH v2 3\/3\] vfio\/example: report the devid of owned devices to group users$/m);
  assert.match(head, new RegExp(`^In-Reply-To: <${mail.messageId.replace(/\./g, '\\.')}>$`, 'm'));
  assert.match(head, /^References: <cover\.\d+\.git\.alex@example\.org>\n <[0-9a-f]{40}\.\d+\.git\.alex@example\.org>$/m);
  assert.match(body, /^On Fri, 20 Nov 2026 10:00:02 \+0100, Alex Example <alex@example\.org> wrote:\n> A group user/m);
  // The quoted hunk, the `+` line, then the comment under it.
  assert.match(body, /^> diff --git a\/drivers\/vfio\/pci\/vfio_example_core\.c/m);
  assert.match(body, /^> \+\t\t\tinfo\.devid = vfio_example_owner_devid\(fill->vdev, pdev\);\n\ndrivers\/vfio\/pci\/vfio_example_core\.c:82: struct vfio_example_pci_dependent_device\.devid is the active member only when/m);
  assert.match(body, /\[vfio-review union-inactive-member, warning\]/);
  assert.ok(!/\r/.test(reply), 'CRLF of the patch is not carried into the reply');
  // Only lines of this patch are quoted, every one with '> '.
  assert.ok(!/vfio_example_walk_slot\(vdev->pdev, vfio_example_fill_devs/.test(body.replace(/^> .*$/gm, '')));
});

test('reply via the CLI: --patch picks the patch; the default is the first with findings', () => {
  const r = run(['reply', mbox, '--tree', tree, '--patch', '2', '--from', 'Rita Reviewer <rita@example.org>']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^From: Rita Reviewer <rita@example\.org>\n/);
  assert.match(r.stdout, /^Subject: Re: \[PATCH v2 2\/3\]/m);
  assert.match(r.stdout, /^> -\tmutex_lock\(&dev_set->lock\);\n\ndrivers\/vfio\/pci\/vfio_example_core\.c:124: `fill\.vdev->dev_set->lock` is not held here/m);
  const first = run(['reply', mbox, '--tree', tree]);
  assert.match(first.stdout, /^Subject: Re: \[PATCH v2 1\/3\]/m);
  const none = run(['reply', mbox, '--tree', tree, '--patch', '9']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no patch 9/);
});

test('hover on a `+` line inside a uapi struct: the member, and the struct before and after the patch', () => {
  const { input, review: r } = review();
  const line = lineOf('+\t__u32\tscope;') - 1;
  const h = patchHover(input, r, { line, character: 8 }, { arches: ['x86_64', 'i386'] });
  assert.ok(h);
  assert.match(h.contents, /struct vfio_example_pci_hot_reset_info\*\*::`scope`/);
  assert.match(h.contents, /compared with `include\/uapi\/linux\/vfio_example\.h before this patch`/);
  assert.match(h.contents, /\| x86_64 \| `count` \| 8 \/ 4 \| 12 \/ 4 ⚠ \|/);
  assert.equal(h.range.start.line, line);
});

test('bad input through the CLI: a directory, a missing file, 50 MB of mbox, a truncated mail', () => {
  assert.match(run(['patch', repo]).stderr, /is a directory/);
  assert.match(run(['patch', path.join(repo, 'no-such.mbox')]).stderr, /no such file/);
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-patch-'));
  try {
    // 50 MB: the series repeated, then cut in the middle of a mail.
    const big = path.join(dir, 'big.mbox');
    const reps = Math.ceil((50 * 1024 * 1024) / mboxText.length);
    writeFileSync(big, mboxText.repeat(reps).slice(0, 50 * 1024 * 1024));
    const r = run(['patch', big, '--hunks-only', '--format', 'json']);
    assert.ok(r.code === 0 || r.code === 1, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.ok(out.patches[0].mails.length > 1000);
    // An archive, not a series: the first patches are reviewed, the rest get one note.
    assert.equal(out.findings.filter((f) => f.rule === 'patch-input' && /only the first 300 patches were reviewed/.test(f.message)).length, 1);
    const truncated = path.join(dir, 'cut.mbox');
    writeFileSync(truncated, mboxText.slice(0, mboxText.indexOf('@@ -72,6')) + '@@ -72,6 +72,8 @@\n \t__u32\tflags;\n');
    const t = run(['patch', truncated, '--tree', tree, '--format', 'json']);
    assert.ok(t.code === 0 || t.code === 1, t.stderr);
    assert.ok(JSON.parse(t.stdout).findings.some((f) => f.rule === 'patch-input'));
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('a tree file linked to somewhere outside the tree is not read: that file falls back to the hunks', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-patchlink-'));
  try {
    const copy = path.join(dir, 'linux');
    cpSync(tree, copy, { recursive: true });
    const core = 'drivers/vfio/pci/vfio_example_core.c';
    const outside = path.join(dir, 'outside.c');
    cpSync(path.join(copy, core), outside);
    rmSync(path.join(copy, core));
    symlinkSync(outside, path.join(copy, core));
    const { review: r } = review(mboxText, { tree: copy });
    assert.deepEqual(r.files.map((f) => [f.path, f.mode]), [
      ['include/uapi/linux/vfio_example.h', 'tree'],
      [core, 'hunks'],
      [core, 'hunks'],
    ]);
    assert.match(r.files[1].reason, /is not in the tree/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a patch that changes only comments of a C file adds no finding; one that drops a suppression comment does', (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-comment-only-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  cpSync(tree, root, { recursive: true });
  const rel = 'drivers/vfio/pci/vfio_example_core.c';
  const file = path.join(root, rel);
  const original = readFileSync(file, 'utf8');
  const sentinel = '\t\t\tinfo.devid = VFIO_EXAMPLE_PCI_DEVID_NOT_OWNED;';
  assert.ok(original.includes(sentinel));
  /** A unified diff of `rel` from `before` to `after`, as git format-patch would send it. */
  const patchOf = (before, after, subject) => {
    writeFileSync(path.join(root, 'old.c'), before);
    writeFileSync(path.join(root, 'new.c'), after);
    const diff = spawnSync('diff', ['-u', '--label', `a/${rel}`, '--label', `b/${rel}`, 'old.c', 'new.c'], { cwd: root, encoding: 'utf8' }).stdout;
    return `From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nFrom: A <a@example.org>\nSubject: [PATCH] ${subject}\n\n---\ndiff --git a/${rel} b/${rel}\n${diff}`;
  };
  const reviewIn = (text) => reviewPatchInput(readPatchInput(text), { document: '/reviews/c.patch', documentText: text, tree: root, engine: { arches: ['x86_64', 'i386'] } });

  // The line of an existing union-member-type-mismatch finding gets a comment, and a comment line is added.
  const commented = original
    .replace(sentinel, `${sentinel}\t/* not in this set */`)
    .replace('\tif (fill->flags & VFIO_EXAMPLE_FLAG_DEV_ID) {', '\t/* Report the devid when the caller asked for it. */\n\tif (fill->flags & VFIO_EXAMPLE_FLAG_DEV_ID) {');
  const quiet = reviewIn(patchOf(original, commented, 'vfio/example: comment the devid report'));
  assert.deepEqual(quiet.files.map((f) => [f.path, f.mode]), [[rel, 'tree']]);
  assert.deepEqual(quiet.findings, [], 'comments alone introduce nothing (the finding on the commented line was there before)');

  // The tree says to ignore that finding on its line; a patch that only drops the suppression brings it back.
  const suppressed = original.replace(sentinel, `${sentinel}\t/* vfio-review: ignore union-member-type-mismatch */`);
  writeFileSync(file, suppressed);
  const dropped = reviewIn(patchOf(suppressed, original, 'vfio/example: drop a suppression'));
  assert.deepEqual(dropped.findings.map((f) => f.rule), ['union-member-type-mismatch']);
  assert.match(dropped.findings[0].message, /^drivers\/vfio\/pci\/vfio_example_core\.c:\d+: /);
});
