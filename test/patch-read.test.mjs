// The patch reader (readPatchInput): mboxes, mails and bare diffs made with git format-patch and
// git diff, decoded from quoted-printable, base64, latin1 and CRLF, with the input line of every
// diff line checked against the raw fixture text; git's own mailsplit/mailinfo as the reference
// for what a mail's patch is; and bad input (empty, binary, cut short, lying hunk headers,
// hostile paths, huge and adversarial inputs) reported as problems, never thrown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPatchInput } from '../dist/engine.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/patch/read');
const fixtureBytes = (name) => readFileSync(path.join(fixtures, name));
/** The raw lines of a fixture as an editor numbers them (LF, CRLF or lone CR), line ends dropped. */
const rawLines = (name) => fixtureBytes(name).toString('latin1').split(/\r\n|\r|\n/);
const utf8Lines = (name) => fixtureBytes(name).toString('utf8').split(/\r\n|\r|\n/);
const read = (name) => readPatchInput(fixtureBytes(name));

const allHunkLines = (mail) => mail.files.flatMap((file) => file.hunks.flatMap((hunk) => hunk.lines));
const findLine = (mail, kind, start) => allHunkLines(mail).find((line) => line.kind === kind && line.text.startsWith(start));
const problemsOf = (input) => [...input.problems, ...input.mails.flatMap((mail) => mail.problems)];

/** For inputs without a transfer encoding: every diff line is its raw input line, byte for byte. */
function assertLinesAreRaw(name, input) {
  const raw = utf8Lines(name);
  for (const mail of input.mails) {
    for (const file of mail.files) {
      for (const hunk of file.hunks) {
        assert.match(raw[hunk.headerLine], /^@@ -/, `${name}: hunk header at line ${hunk.headerLine}`);
        for (const line of hunk.lines) assert.equal(raw[line.docLine], line.kind + line.text, `${name}: line ${line.docLine}`);
      }
    }
  }
}

const gitAvailable = (() => {
  try {
    execFileSync('git', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('format-patch series as mbox: cover letter, subjects, ids, one mail per patch, mail ranges', () => {
  const input = read('series-v6.mbox');
  assert.equal(input.kind, 'mbox');
  assert.deepEqual(input.problems, []);
  assert.equal(input.mails.length, 4);
  const [cover, p1, p2, p3] = input.mails;
  assert.equal(cover.isCover, true);
  assert.deepEqual(cover.tag, { raw: 'PATCH v6 0/3', version: 6, number: 0, total: 3 });
  // Folded subject joined with one space.
  assert.equal(cover.subject, '[PATCH v6 0/3] vfio/example: Region info, enable tracking and a rename');
  assert.equal(cover.title, 'vfio/example: Region info, enable tracking and a rename');
  assert.equal(cover.messageId, 'cover.1795436051.git.alex@example.org');
  assert.equal(cover.files.length, 0);
  assert.ok(cover.body.some((line) => line.text === 'This series extends the example driver.'));
  assert.equal(p1.title, 'vfio/example: Add region count and capability offset to the info ioctl');
  assert.deepEqual(p1.tag, { raw: 'PATCH v6 1/3', version: 6, number: 1, total: 3 });
  assert.equal(p1.inReplyTo, 'cover.1795436051.git.alex@example.org');
  assert.deepEqual(p1.references, ['cover.1795436051.git.alex@example.org']);
  assert.equal(p1.from, 'Alex Reviewer <alex@example.org>');
  assert.equal(p1.date, 'Fri, 1 Mar 2024 10:01:00 +0000');
  assert.equal(p3.from, 'Zoë Müller <zoe@example.org>', 'RFC 2047 =?UTF-8?q?...?= decoded');
  for (const mail of [p1, p2, p3]) assert.equal(mail.isCover, false);
  // Each mail runs from its From line to the next one.
  const raw = rawLines('series-v6.mbox');
  for (const [k, mail] of input.mails.entries()) {
    assert.match(raw[mail.startLine], /^From [0-9a-f]{40} Mon Sep 17 00:00:00 2001$/);
    assert.equal(mail.endLine, k + 1 < input.mails.length ? input.mails[k + 1].startLine : raw.length - 1);
  }
  assert.deepEqual(input.mails.map((mail) => mail.files.map((file) => file.newPath)), [
    [],
    ['include/uapi/linux/vfio_example.h'],
    ['drivers/vfio/pci/vfio_pci_example.c'],
    ['Documentation/driver-api/vfio-example.rst', 'drivers/vfio/pci/vfio_pci_sample.c'],
  ]);
  for (const mail of input.mails) assert.deepEqual(mail.problems, [], `mail ${mail.index}`);
});

test('quoted-printable patch: soft breaks joined, =3D and =2D decoded, each line placed on the first raw line it starts on', () => {
  const input = read('series-v6.mbox');
  const p1 = input.mails[1];
  const raw = rawLines('series-v6.mbox');
  const [file] = p1.files;
  assert.equal(file.status, 'modified');
  assert.equal(file.oldPath, 'include/uapi/linux/vfio_example.h');
  // `diff --git ... vfio_ex=` + `ample.h`: the header is where the soft-broken line starts.
  assert.equal(raw[file.headerLine], 'diff --git a/include/uapi/linux/vfio_example.h b/include/uapi/linux/vfio_ex=');
  const [hunk] = file.hunks;
  assert.deepEqual([hunk.oldStart, hunk.oldLines, hunk.newStart, hunk.newLines], [7, 6, 7, 10]);
  assert.equal(raw[hunk.headerLine], '@@ -7,6 +7,10 @@');
  // `=2D-- a/...` is the file's `---` line once decoded.
  assert.equal(raw[hunk.headerLine - 2], '=2D-- a/include/uapi/linux/vfio_example.h');
  const reset = findLine(p1, '+', '#define VFIO_EXAMPLE_INFO_FLAG_RESET');
  assert.equal(reset.text, '#define VFIO_EXAMPLE_INFO_FLAG_RESET\t(1 << 0)\t/* Device supports reset through VFIO_DEVICE_RESET = yes */');
  assert.equal(raw[reset.docLine], '+#define VFIO_EXAMPLE_INFO_FLAG_RESET\t(1 << 0)\t/* Device supports reset =');
  assert.equal(raw[reset.docLine + 1], 'through VFIO_DEVICE_RESET =3D yes */');
  assert.equal(reset.newLine, 10);
  // The line after the soft-broken one is one raw line further down than a plain count says.
  const migration = findLine(p1, '+', '#define VFIO_EXAMPLE_INFO_FLAG_MIGRATION');
  assert.equal(migration.docLine, reset.docLine + 2);
  assert.equal(migration.newLine, 11);
  const capOffset = findLine(p1, '+', '\t__u32 cap_offset;');
  assert.equal(capOffset.text, '\t__u32 cap_offset;\t/* Offset within info struct of first cap, 0 = none */');
  assert.equal(raw[capOffset.docLine], '+\t__u32 cap_offset;\t/* Offset within info struct of first cap, 0 =3D none */');
  // `=20` is the space of an empty context line; the `=2D-=20` signature is not in the hunk.
  const last = hunk.lines.at(-1);
  assert.deepEqual([last.kind, last.text, raw[last.docLine]], [' ', '#endif', ' #endif']);
  assert.equal(hunk.lines.filter((line) => line.kind === ' ').length, 6);
  assert.equal(raw[last.docLine + 1], '=2D-=20');
  // The body keeps the same positions: the `---` separator sits on its encoded raw line.
  const separator = p1.body.find((line) => line.text === '---');
  assert.equal(raw[separator.docLine], '=2D--');
});

test('CRLF mail inside an LF mbox: CRs stripped, positions as an editor counts lines', () => {
  const input = read('series-v6.mbox');
  const p2 = input.mails[2];
  const raw = rawLines('series-v6.mbox');
  assert.equal(p2.subject, '[PATCH v6 2/3] vfio/example: Track enable state under igate');
  assert.equal(p2.messageId, '00adb81278de7bb278280b850708f29367d8a7e3.1795436051.git.alex@example.org');
  const [file] = p2.files;
  assert.deepEqual(file.hunks.map((hunk) => [hunk.oldStart, hunk.oldLines, hunk.newStart, hunk.newLines, hunk.section]), [
    [14, 6, 14, 10, 'static int vfio_pci_example_open_device(struct vfio_device *core_vdev)'],
    [22, 4, 26, 5, 'static const struct vfio_device_ops vfio_pci_example_ops = {'],
  ]);
  for (const line of allHunkLines(p2)) {
    assert.ok(!line.text.includes('\r'));
    assert.equal(raw[line.docLine], line.kind + line.text);
  }
  const lock = findLine(p2, '+', '\tmutex_lock(&vdev->igate);');
  assert.equal(raw[lock.docLine], '+\tmutex_lock(&vdev->igate);');
  assert.equal(lock.newLine, 17);
  const ioctl = findLine(p2, '+', '\t.ioctl');
  assert.equal(ioctl.newLine, 29);
  assert.equal(file.hunks[1].lines.at(-1).text, '};', 'the -- signature is not part of the last hunk');
  // The same document with every line end a lone CR keeps the same positions.
  const lone = Buffer.from(fixtureBytes('series-v6.mbox').toString('latin1').replace(/\r?\n/g, '\r'), 'latin1');
  const loneInput = readPatchInput(lone);
  assert.deepEqual(allHunkLines(loneInput.mails[2]), allHunkLines(p2));
  assert.deepEqual(allHunkLines(loneInput.mails[1]), allHunkLines(input.mails[1]));
});

test('8bit UTF-8 mail with a rename and a new file: statuses, paths, numbering, lines are the raw lines', () => {
  const input = read('series-v6.mbox');
  assertLinesAreRaw('series-v6.mbox', { mails: [input.mails[2], input.mails[3]] });
  const [added, renamed] = input.mails[3].files;
  assert.deepEqual([added.status, added.oldPath, added.newPath, added.binary], ['added', undefined, 'Documentation/driver-api/vfio-example.rst', false]);
  assert.deepEqual([added.hunks[0].oldStart, added.hunks[0].oldLines, added.hunks[0].newStart, added.hunks[0].newLines], [0, 0, 1, 5]);
  // `+=====` lines end with `=` but this mail is 8bit: nothing is joined.
  assert.deepEqual(added.hunks[0].lines.map((line) => [line.kind, line.newLine]), [['+', 1], ['+', 2], ['+', 3], ['+', 4], ['+', 5]]);
  assert.equal(added.hunks[0].lines[4].text, 'The example driver exposes one BAR to userspace. It is maintained by Zoë.');
  assert.deepEqual([renamed.status, renamed.oldPath, renamed.newPath], ['renamed', 'drivers/vfio/pci/vfio_pci_example.c', 'drivers/vfio/pci/vfio_pci_sample.c']);
  const removed = findLine(input.mails[3], '-', ' * Example VFIO');
  const addedLine = findLine(input.mails[3], '+', ' * Sample VFIO');
  assert.deepEqual([removed.oldLine, removed.newLine, addedLine.oldLine, addedLine.newLine], [3, undefined, undefined, 3]);
  assert.equal(addedLine.docLine, removed.docLine + 1);
});

test('string input (an editor document) reads the same as its bytes', () => {
  for (const name of ['series-v6.mbox', 'b4-am.mbox', 'base64-body.eml', 'tree-changes.diff']) {
    assert.deepEqual(readPatchInput(fixtureBytes(name).toString('utf8')), read(name), name);
  }
});

test("git's mailsplit + mailinfo agree on every mail's diff lines", { skip: gitAvailable ? false : 'git is not installed' }, () => {
  for (const name of ['series-v6.mbox', 'b4-am.mbox']) {
    const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-mailinfo-'));
    try {
      const count = Number(execFileSync('git', ['mailsplit', '-o' + dir, path.join(fixtures, name)], { encoding: 'utf8' }).trim());
      const input = read(name);
      assert.equal(input.mails.length, count, name);
      for (const [k, mail] of input.mails.entries()) {
        const message = readFileSync(path.join(dir, String(k + 1).padStart(4, '0')));
        execFileSync('git', ['mailinfo', path.join(dir, 'msg'), path.join(dir, 'patch')], { input: message, cwd: dir });
        const theirs = readFileSync(path.join(dir, 'patch'), 'utf8').split('\n').filter((line) => /^[+-]/.test(line) && !/^(---|\+\+\+)( |$)/.test(line) && line !== '-- ');
        const ours = allHunkLines(mail).filter((line) => line.kind !== ' ').map((line) => line.kind + line.text);
        assert.deepEqual(ours, theirs, `${name} mail ${k + 1}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('b4 am mbox: mboxrd >From unescaped, base64 and latin1 encoded words, net-next tag, references', () => {
  const input = read('b4-am.mbox');
  assert.equal(input.kind, 'mbox');
  assert.equal(input.mails.length, 2);
  const [first, second] = input.mails;
  assert.equal(first.subject, '[PATCH net-next v2 1/2] vfio/mlx5: Report the dirty page tracker state in the migration state — v2');
  assert.deepEqual(first.tag, { raw: 'PATCH net-next v2 1/2', version: 2, number: 1, total: 2 });
  assert.equal(first.title, 'vfio/mlx5: Report the dirty page tracker state in the migration state — v2');
  assert.equal(first.from, 'René François <rene@example.org>');
  assert.equal(first.messageId, '20240305091500.1234-2-rene@example.org');
  assert.deepEqual(first.references, ['20240305091500.1234-1-rene@example.org', 'older.thread@example.org']);
  assert.deepEqual(first.body.slice(0, 3).map((line) => line.text), [
    'From the migration uAPI documentation: the tracker must be stopped',
    'before the device leaves PRE_COPY.',
    '>From here on the state is reported in the info struct.',
  ]);
  const raw = rawLines('b4-am.mbox');
  assert.equal(raw[first.body[0].docLine], '>From the migration uAPI documentation: the tracker must be stopped');
  // No cover letter in this series: the first mail carries a diff.
  assert.deepEqual(input.mails.map((mail) => mail.isCover), [false, false]);
  assertLinesAreRaw('b4-am.mbox', input);
  const assertion = findLine(first, '+', '\tlockdep_assert_held');
  assert.deepEqual([raw[assertion.docLine], assertion.newLine], ['+\tlockdep_assert_held(&mvdev->state_mutex);', 124]);
  const dropped = findLine(second, '-', '\tu8 tracker_active');
  assert.deepEqual([dropped.oldLine, raw[dropped.docLine]], [163, '-\tu8 tracker_active:1;']);
});

test('multipart mail: the patch from a text/x-patch attachment, the body from the text/plain part', () => {
  const input = read('multipart-attachment.eml');
  assert.equal(input.kind, 'mail');
  const [mail] = input.mails;
  assert.equal(mail.subject, '[RFC PATCH 1/3] iommufd: Hot-reset ownership check (as an attachment)');
  assert.deepEqual(mail.tag, { raw: 'RFC PATCH 1/3', number: 1, total: 3 });
  assert.equal(mail.from, '"Tian, Kevin" <kevin@example.org>');
  assert.equal(mail.messageId, 'BN9PR11MB5276.example@example.org');
  assert.equal(mail.isCover, false);
  assert.deepEqual(mail.body.map((line) => line.text).filter(Boolean), ['Hi,', 'The fix is attached as a patch; inline mail got mangled by our gateway.', 'Thanks', 'Kevin']);
  assert.equal(mail.files.length, 1);
  assert.equal(mail.files[0].newPath, 'drivers/vfio/pci/vfio_pci_core.c');
  assertLinesAreRaw('multipart-attachment.eml', input);
  const raw = rawLines('multipart-attachment.eml');
  const assertion = findLine(mail, '+', '\tlockdep_assert_held(&dev_set->lock);');
  assert.equal(raw[assertion.docLine], '+\tlockdep_assert_held(&dev_set->lock);');
  assert.equal(assertion.newLine, 2413);
  assert.deepEqual(mail.problems, []);
});

test('base64 body: decoded as UTF-8, each line placed on the raw line holding its first byte', () => {
  const input = read('base64-body.eml');
  const [mail] = input.mails;
  assert.deepEqual(mail.tag, { raw: 'PATCH v3 4/7', version: 3, number: 4, total: 7 });
  const raw = rawLines('base64-body.eml');
  // Each raw line is 76 characters (57 bytes), so it decodes on its own: find the line by hand.
  const rawLineOf = (needle) => raw.findIndex((line) => Buffer.from(line, 'base64').toString('latin1').includes(needle));
  const skip = findLine(mail, '+', '\t\tif (!pci_resource_len(pdev, bar))');
  assert.equal(skip.text, '\t\tif (!pci_resource_len(pdev, bar))\t/* Zoë: skip empty BARs */');
  assert.equal(skip.docLine, rawLineOf('\n+\t\tif ('));
  assert.equal(skip.newLine, 503);
  const cont = findLine(mail, '+', '\t\t\tcontinue;');
  assert.equal(cont.docLine, rawLineOf('\n+\t\t\tcontinue;'));
  assert.equal(mail.files[0].hunks[0].headerLine, rawLineOf('\n@@ -500'));
  assert.equal(mail.files[0].hunks[0].lines.length, 8);
  assert.deepEqual(mail.problems, []);
});

test('latin1 8bit mail: body and encoded-word header decoded from ISO-8859-1; invalid UTF-8 replaced with one warning', () => {
  const input = read('latin1-8bit.eml');
  const [mail] = input.mails;
  assert.equal(mail.from, 'Jörg Rödel <joro@example.org>');
  assert.equal(findLine(mail, '+', '\t/* IDs').text, '\t/* IDs are allocated à la IDA: lowest free first */');
  assert.equal(mail.body[0].text, 'Signed-off-by: Jörg Rödel <joro@example.org>');
  assert.deepEqual(mail.problems, []);

  // The same mail claiming UTF-8: the latin1 bytes are not valid there.
  const mislabelled = Buffer.from(fixtureBytes('latin1-8bit.eml').toString('latin1').replace('charset=ISO-8859-1', 'charset=utf-8'), 'latin1');
  const bad = readPatchInput(mislabelled).mails[0];
  assert.equal(findLine(bad, '+', '\t/* IDs').text, '\t/* IDs are allocated \ufffd la IDA: lowest free first */');
  assert.equal(bad.problems.length, 1);
  assert.equal(bad.problems[0].severity, 'warning');
  assert.match(bad.problems[0].message, /not valid utf-8.*U\+FFFD/);
  assert.equal(bad.problems[0].line, rawLines('latin1-8bit.eml').findIndex((line) => line.startsWith('Signed-off-by: J')));
});

test('git diff: binary, new file without newline at end, rename, deletion, mode change', () => {
  const input = read('tree-changes.diff');
  assert.equal(input.kind, 'diff');
  const [mail] = input.mails;
  assert.deepEqual(mail.files.map((file) => [file.status, file.oldPath, file.newPath, file.binary, file.hunks.length]), [
    ['modified', 'Documentation/driver-api/logo.bin', 'Documentation/driver-api/logo.bin', true, 0],
    ['added', undefined, 'Documentation/driver-api/nonl.txt', false, 1],
    ['added', undefined, 'drivers/vfio/pci/run.sh', false, 1],
    ['renamed', 'drivers/vfio/pci/vfio_pci_sample.c', 'drivers/vfio/pci/vfio_pci_renamed.c', false, 1],
    ['deleted', 'include/uapi/linux/vfio_example.h', undefined, false, 1],
    ['modified', 'drivers/vfio/pci/run.sh', 'drivers/vfio/pci/run.sh', false, 0],
  ]);
  const raw = rawLines('tree-changes.diff');
  for (const file of mail.files) assert.match(raw[file.headerLine], /^diff --git /);
  assert.deepEqual(mail.problems, [{ line: 0, severity: 'info', message: 'binary patch skipped: Documentation/driver-api/logo.bin' }]);
  const nonl = mail.files[1].hunks[0];
  assert.deepEqual([nonl.oldStart, nonl.oldLines, nonl.newStart, nonl.newLines], [0, 0, 1, 1], '@@ -0,0 +1 @@: omitted count is 1');
  assert.deepEqual(nonl.lines, [{ kind: '+', text: 'no newline at end', docLine: 9, newLine: 1, noNewline: true }]);
  const deleted = mail.files[4].hunks[0];
  assert.equal(deleted.lines.length, 16);
  assert.deepEqual(deleted.lines.map((line) => line.oldLine), Array.from({ length: 16 }, (_, k) => k + 1));
  assert.ok(deleted.lines.every((line) => line.kind === '-' && line.newLine === undefined));
  assertLinesAreRaw('tree-changes.diff', input);
});

test('GIT binary patch is skipped and the next file is still read; copies', () => {
  const binary = read('git-binary.diff').mails[0];
  assert.deepEqual(binary.files.map((file) => [file.status, file.newPath, file.binary, file.hunks.length]), [
    ['modified', 'Documentation/driver-api/logo.bin', true, 0],
    ['modified', 'drivers/vfio/pci/run.sh', false, 0],
  ]);
  assert.deepEqual(binary.problems.map((p) => [p.severity, p.message]), [['info', 'binary patch skipped: Documentation/driver-api/logo.bin']]);
  const copy = read('copy.diff').mails[0];
  assert.deepEqual(copy.files.map((file) => [file.status, file.oldPath, file.newPath]), [['copied', 'drivers/vfio/pci/vfio_pci_renamed.c', 'drivers/vfio/pci/vfio_pci_copy.c']]);
  assertLinesAreRaw('copy.diff', read('copy.diff'));
});

test('plain diff -u: timestamps after the tab cut, old/ new/ prefixes stripped, numbering from the hunk headers', () => {
  const input = read('plain-diff-u.diff');
  const [file] = input.mails[0].files;
  assert.deepEqual([file.status, file.oldPath, file.newPath, file.headerLine], ['modified', 'drivers/vfio/vfio_pci_core.c', 'drivers/vfio/vfio_pci_core.c', 0]);
  assert.deepEqual(file.hunks.map((hunk) => [hunk.oldStart, hunk.oldLines, hunk.newStart, hunk.newLines, hunk.section, hunk.headerLine]), [
    [8, 7, 8, 7, '', 2],
    [26, 6, 26, 6, '', 11],
  ]);
  const ret = findLine(input.mails[0], '+', '\tint ret = 0;');
  assert.deepEqual([ret.newLine, ret.docLine], [11, 7]);
  assertLinesAreRaw('plain-diff-u.diff', input);
  assert.deepEqual(problemsOf(input), []);
});

test('bad input: empty, a binary file, a mail that is only headers, a text without a diff', () => {
  for (const empty of ['', new Uint8Array(0), '\n\n  \n']) {
    const input = readPatchInput(empty);
    assert.deepEqual(input.mails, []);
    assert.deepEqual(input.problems, [{ line: 0, severity: 'error', message: 'the input is empty' }]);
  }
  const elf = Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01', 'latin1'), Buffer.alloc(4096)]);
  const binary = readPatchInput(elf);
  assert.deepEqual(binary.mails, []);
  assert.equal(binary.problems[0].severity, 'error');
  assert.match(binary.problems[0].message, /binary file/);

  const headersOnly = readPatchInput('From: Alex <alex@example.org>\nSubject: [PATCH 2/5] vfio: cut\n short\n');
  assert.equal(headersOnly.kind, 'mail');
  assert.equal(headersOnly.mails[0].subject, '[PATCH 2/5] vfio: cut short');
  assert.deepEqual(headersOnly.mails[0].problems, [{ line: 2, severity: 'warning', message: 'the mail ends inside its headers: it has no body' }]);

  const prose = readPatchInput('Looks good to me.\n\nReviewed-by: Kevin Tian <kevin@example.org>\n');
  assert.equal(prose.kind, 'diff');
  assert.equal(prose.mails[0].files.length, 0);
  assert.equal(prose.mails[0].problems[0].severity, 'warning');
  assert.match(prose.mails[0].problems[0].message, /no diff found/);
});

const fileHeader = (name) => `diff --git a/${name} b/${name}\nindex 1111111..2222222 100644\n--- a/${name}\n+++ b/${name}\n`;

test('a hunk cut short: an error on its header, the lines read so far kept', () => {
  const text = fileHeader('drivers/vfio/vfio_main.c') + '@@ -10,5 +10,6 @@ int vfio_register_group_dev(struct vfio_device *device)\n \tint ret;\n+\tret = 0;\n \tif (!device)\n';
  const [mail] = readPatchInput(text).mails;
  const [hunk] = mail.files[0].hunks;
  assert.deepEqual(hunk.lines.map((line) => line.kind + line.docLine), [' 5', '+6', ' 7']);
  assert.deepEqual(mail.problems, [{ line: 4, severity: 'error', message: 'hunk cut short: @@ -10,5 +10,6 @@ promises 5 old and 6 new lines, 2 and 3 found before the end of the input' }]);
});

test('a hunk header that lies about its counts: reported, consistent lines kept, the next file header not swallowed', () => {
  // Says 8 old / 9 new lines; only 3 context lines and one + line follow before the next file.
  const text = fileHeader('drivers/vfio/pci/vfio_pci_core.c') + '@@ -100,8 +100,9 @@\n a\n+b\n c\n d\n' +
    fileHeader('drivers/vfio/pci/vfio_pci_intrs.c') + '@@ -1 +1 @@\n-old\n+new\n';
  const [mail] = readPatchInput(text).mails;
  assert.deepEqual(mail.files.map((file) => file.newPath), ['drivers/vfio/pci/vfio_pci_core.c', 'drivers/vfio/pci/vfio_pci_intrs.c']);
  assert.equal(mail.files[0].hunks[0].lines.length, 4);
  assert.deepEqual(mail.files[1].hunks[0].lines.map((line) => [line.kind, line.text, line.docLine]), [['-', 'old', 14], ['+', 'new', 15]]);
  assert.equal(mail.problems.length, 1);
  assert.deepEqual([mail.problems[0].line, mail.problems[0].severity], [4, 'error']);
  assert.match(mail.problems[0].message, /promises 8 old and 9 new lines, 3 and 4 found before input line 10/);

  // Plain diffs (no `diff --git`): a `---`/`+++`/`@@` triple ends a short hunk even where `-` could fit.
  const plain = '--- a/x.c\n+++ b/x.c\n@@ -1,5 +1,6 @@\n a\n+b\n--- a/y.c\n+++ b/y.c\n@@ -1 +1 @@\n-q\n+r\n';
  const plainMail = readPatchInput(plain).mails[0];
  assert.deepEqual(plainMail.files.map((file) => [file.newPath, file.hunks[0].lines.length]), [['x.c', 2], ['y.c', 2]]);

  // Too few counted: the extra lines are reported and left out; the `-- ` signature is not extra.
  const long = fileHeader('x.c') + '@@ -1,1 +1,2 @@\n a\n+b\n+c\n+d\n-- \n2.43.0\n';
  const longMail = readPatchInput(long).mails[0];
  assert.deepEqual(longMail.files[0].hunks[0].lines.map((line) => line.text), ['a', 'b']);
  assert.deepEqual(longMail.problems.map((p) => [p.line, p.severity]), [[7, 'warning']]);
  assert.match(longMail.problems[0].message, /more lines than the hunk header @@ -1,1 \+1,2 @@ counts/);
  const exact = readPatchInput(fileHeader('x.c') + '@@ -1,1 +1,2 @@\n a\n+b\n-- \n2.43.0\n').mails[0];
  assert.deepEqual(exact.problems, []);
});

test('hostile paths: the file patch is refused with an error naming the path, the other files are kept', () => {
  const cases = [
    ['b/../../etc/passwd', '../../etc/passwd', /has a '\.\.' component/],
    ['b//etc/passwd', '/etc/passwd', /is absolute/],
    ['b/drivers/../../x', 'drivers/../../x', /has a '\.\.' component/],
    ['b/drivers/vfio\0.c', 'drivers/vfio\\x00.c', /contains a NUL byte/],
  ];
  for (const [written, shown, reason] of cases) {
    const text = `--- a/drivers/vfio/vfio_main.c\n+++ ${written}\n@@ -1 +1 @@\n-a\n+b\n` + fileHeader('drivers/vfio/ok.c') + '@@ -1 +1 @@\n-a\n+b\n';
    const [mail] = readPatchInput(text).mails;
    assert.deepEqual(mail.files.map((file) => file.newPath), ['drivers/vfio/ok.c'], written);
    assert.equal(mail.problems.length, 1, written);
    assert.equal(mail.problems[0].severity, 'error');
    assert.equal(mail.problems[0].line, 0);
    assert.ok(mail.problems[0].message.includes(`"${shown}"`), mail.problems[0].message);
    assert.match(mail.problems[0].message, reason);
  }
  // In git headers too: rename targets, and the `diff --git` names of a binary patch.
  const rename = 'diff --git a/x.c b/y.c\nsimilarity index 100%\nrename from x.c\nrename to ../y.c\n';
  assert.deepEqual(readPatchInput(rename).mails[0].files, []);
  assert.match(readPatchInput(rename).mails[0].problems[0].message, /"\.\.\/y\.c" has a '\.\.' component/);
  const binary = 'diff --git a/../../bin b/../../bin\nindex 1..2 100644\nBinary files a/../../bin and b/../../bin differ\n';
  assert.deepEqual(readPatchInput(binary).mails[0].files, []);
  // An absolute path in a plain diff.
  assert.match(readPatchInput('--- /etc/shadow\n+++ /etc/shadow\n@@ -1 +1 @@\n-a\n+b\n').mails[0].problems[0].message, /"\/etc\/shadow" is absolute/);
});

test('git C-quoted paths are unquoted (octal UTF-8 bytes)', () => {
  const text = 'diff --git "a/Documentation/caf\\303\\251.rst" "b/Documentation/caf\\303\\251.rst"\nindex 1111111..2222222 100644\n--- "a/Documentation/caf\\303\\251.rst"\n+++ "b/Documentation/caf\\303\\251.rst"\n@@ -1 +1 @@\n-a\n+b\n';
  const [file] = readPatchInput(text).mails[0].files;
  assert.deepEqual([file.oldPath, file.newPath], ['Documentation/café.rst', 'Documentation/café.rst']);
});

test('size limit: an input over maxBytes is refused with a message, not read', () => {
  const input = readPatchInput(fixtureBytes('series-v6.mbox'), { maxBytes: 1000 });
  assert.deepEqual(input.mails, []);
  assert.equal(input.problems.length, 1);
  assert.match(input.problems[0].message, /the input is \d+ bytes, more than the 1000 bytes this reader accepts \(maxBytes\)/);
});

test('a 50 MB mbox is read whole (hang guard only; speed is measured in docs/architecture.md)', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-bigmbox-'));
  try {
    const series = fixtureBytes('series-v6.mbox');
    const b4 = fixtureBytes('b4-am.mbox');
    const copies = Math.ceil((50 * 1024 * 1024) / (series.length + b4.length + 1));
    const file = path.join(dir, 'big.mbox');
    writeFileSync(file, Buffer.concat(Array.from({ length: copies }, () => [series, Buffer.from('\n'), b4]).flat()));
    const input = readPatchInput(readFileSync(file));
    assert.equal(input.kind, 'mbox');
    assert.deepEqual(input.problems, []);
    assert.equal(input.mails.length, copies * 6);
    const last = input.mails.at(-1);
    assert.equal(last.title, 'vfio/mlx5: Drop the unused tracker flag');
    assert.equal(findLine(last, '-', '\tu8 tracker_active').docLine, last.startLine + 24);
    assert.ok(input.mails.every((mail) => mail.problems.length === 0));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('100,000 hunks in one file are all read, numbered from their headers', { timeout: 120_000 }, () => {
  const hunks = Array.from({ length: 100_000 }, (_, k) => `@@ -${k * 10 + 1},3 +${k * 10 + 1},4 @@ static int f${k}(void)\n ctx\n-old\n+new\n+more\n ctx\n`);
  const text = fileHeader('drivers/vfio/big.c') + hunks.join('');
  const [file] = readPatchInput(text).mails[0].files;
  assert.equal(file.hunks.length, 100_000);
  const last = file.hunks.at(-1);
  assert.deepEqual([last.oldStart, last.section, last.headerLine], [999_991, 'static int f99999(void)', 4 + 99_999 * 6]);
  assert.deepEqual(last.lines.map((line) => [line.kind, line.oldLine, line.newLine]), [[' ', 999_991, 999_991], ['-', 999_992, undefined], ['+', undefined, 999_992], ['+', undefined, 999_993], [' ', 999_993, 999_994]]);
});

test('adversarial 100k-character lines finish (regexes cannot backtrack) and give the expected reading', { timeout: 60_000 }, () => {
  const long = 100_000;
  const inputs = {
    hunkHeaderDigits: fileHeader('x.c') + '@@ -1' + '1'.repeat(long) + '\n',
    hunkHeaderSpaces: fileHeader('x.c') + '@@ -1,1 +1,1 ' + ' '.repeat(long) + '\n a\n',
    mboxLike: 'From ' + 'x '.repeat(long / 2) + '\n',
    encodedWord: 'Subject: =?utf-8?q?' + 'a'.repeat(long) + '\n\nbody\n',
    replies: 'Subject: ' + 'Re: '.repeat(long / 4) + '[PATCH] x\n\nbody\n',
    brackets: 'Subject: ' + '['.repeat(long) + '\n\nbody\n',
    gitHeader: 'diff --git ' + 'a/ '.repeat(long / 3) + '\n',
    quotedPath: 'diff --git "' + '\\1'.repeat(long / 2) + '\n',
    softBreaks: 'From: a@b\nContent-Transfer-Encoding: quoted-printable\n\n' + '= '.repeat(long / 2) + '\n' + '=\n'.repeat(long / 2),
    base64Junk: 'From: a@b\nContent-Transfer-Encoding: base64\n\n' + '!'.repeat(long) + '\n',
    contentType: 'From: a@b\nContent-Type: multipart/mixed; ' + 'a="\\'.repeat(long / 4) + '\n\nx\n',
    references: 'From: a@b\nReferences: ' + '<'.repeat(long) + '\n\nx\n',
    plusLines: fileHeader('x.c') + '@@ -1,1 +1,1 @@\n' + '+'.repeat(long) + '\n',
  };
  for (const [name, text] of Object.entries(inputs)) {
    const input = readPatchInput(text);
    assert.ok(Array.isArray(input.mails), name);
    for (const problem of problemsOf(input)) assert.ok(Number.isInteger(problem.line) && problem.message.length < 1000, name);
  }
  assert.match(problemsOf(readPatchInput(inputs.hunkHeaderDigits))[0].message, /malformed hunk header/);
  assert.equal(readPatchInput(inputs.replies).mails[0].title, 'x');
  assert.equal(readPatchInput(inputs.plusLines).mails[0].files[0].hunks[0].lines[0].text.length, long - 1);
});

test('every fixture reads without an exception and with problems only where expected', () => {
  for (const name of readdirSync(fixtures).filter((file) => !file.endsWith('.md'))) {
    const input = read(name);
    const unexpected = problemsOf(input).filter((problem) => problem.severity !== 'info');
    assert.deepEqual(unexpected, [], name);
  }
});

test('nested multipart/alternative (CRLF, quoted-printable text/plain and HTML): the plain part is read, positions kept', () => {
  const mail = [
    'From: Yi Liu <yi@example.org>',
    'Subject: Re: [PATCH v2 3/4] iommufd: Add the fault queue',
    'Message-ID: <reply.1@example.org>',
    'In-Reply-To: <20240309.patch3@example.org>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="outer"',
    '',
    'This is a multi-part message in MIME format.',
    '--outer',
    'Content-Type: multipart/alternative; boundary="inner"',
    '',
    '--inner',
    'Content-Type: text/plain; charset="utf-8"',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Fixed version below.',
    '',
    'diff --git a/drivers/iommu/iommufd/fault.c b/drivers/iommu/iommufd/fault.c',
    '--- a/drivers/iommu/iommufd/fault.c',
    '+++ b/drivers/iommu/iommufd/fault.c',
    '@@ -40,2 +40,3 @@ int iommufd_fault_alloc(struct iommufd_ucmd *ucmd)',
    ' \tstruct iommufd_fault *fault;',
    '+\tint fdno =3D get_unused_fd_flags(O_CLOEXEC); /* the fd is installed after=',
    ' the copy to user */',
    ' \tint rc;',
    '--inner',
    'Content-Type: text/html; charset="utf-8"',
    '',
    '<p>Fixed version below.</p><pre>+\tint html_only;</pre>',
    '--inner--',
    '--outer--',
    '',
  ].join('\r\n');
  const input = readPatchInput(mail);
  assert.equal(input.kind, 'mail');
  const [parsed] = input.mails;
  assert.equal(parsed.title, 'iommufd: Add the fault queue');
  assert.equal(parsed.inReplyTo, '20240309.patch3@example.org');
  assert.equal(parsed.isCover, false);
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(parsed.body[0], { text: 'Fixed version below.', docLine: 15 });
  const [file] = parsed.files;
  assert.equal(file.headerLine, 17);
  assert.deepEqual(file.hunks[0].lines.map((line) => [line.kind, line.text, line.docLine, line.newLine]), [
    [' ', '\tstruct iommufd_fault *fault;', 21, 40],
    ['+', '\tint fdno = get_unused_fd_flags(O_CLOEXEC); /* the fd is installed after the copy to user */', 22, 41],
    [' ', '\tint rc;', 24, 42],
  ]);
});

test('a mail cut off inside its attachment: the unclosed multipart and the short hunk are both reported', () => {
  const raw = rawLines('multipart-attachment.eml');
  const cut = raw.findIndex((line) => line.startsWith('+\tlockdep_assert_held')) + 1;
  const input = readPatchInput(raw.slice(0, cut).join('\n') + '\n');
  const [mail] = input.mails;
  assert.deepEqual(allHunkLines(mail).map((line) => line.kind + line.text), [' \tstruct vfio_pci_core_device *vdev;', ' \tint ret;', ' ', '+\tlockdep_assert_held(&dev_set->lock);']);
  const hunkHeader = raw.findIndex((line) => line.startsWith('@@ -2410'));
  assert.deepEqual(mail.problems.map((problem) => [problem.severity, problem.line]), [['warning', raw.indexOf('Content-Type: multipart/mixed;')], ['error', hunkHeader]]);
  assert.match(mail.problems[0].message, /not closed by "--_002_BN9PR11MB5276_--"/);
  assert.match(mail.problems[1].message, /hunk cut short: @@ -2410,6 \+2410,8 @@ promises 6 old and 8 new lines, 3 and 4 found before the end of the input/);
});

test('cover letter without 00/N: a series mail with no diff before the first patch; a reply after it is not one', () => {
  const mail = (sha, subject, body) => `From ${sha} Mon Sep 17 00:00:00 2001\nFrom: Alex <alex@example.org>\nSubject: ${subject}\n\n${body}\n`;
  const patch = fileHeader('drivers/vfio/vfio_main.c') + '@@ -1 +1 @@\n-a\n+b\n-- \n2.43.0\n';
  const text = [
    mail('a'.repeat(40), '[PATCH v2] vfio: Series of one, with a note first', 'Why this series exists.'),
    mail('b'.repeat(40), '[PATCH v2] vfio: The change', patch),
    mail('c'.repeat(40), 'Re: [PATCH v2] vfio: The change', 'Looks good.'),
  ].join('\n');
  const input = readPatchInput(text);
  assert.deepEqual(input.mails.map((m) => [m.isCover, m.files.length, m.tag?.raw]), [[true, 0, 'PATCH v2'], [false, 1, 'PATCH v2'], [false, 0, 'PATCH v2']]);
  assert.deepEqual(input.mails[1].problems, []);
});
