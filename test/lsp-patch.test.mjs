// Patch documents over LSP: the example series opened as an mbox gets the findings its patches
// introduce on its own lines (the tree found from the workspace folder), hovers on a `+` line
// show the struct before and after the patch, an edit is reviewed again, and the draft-reply
// request answers with the reply to the patch under the cursor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileUri, repoRoot, startLspClient } from './support/lsp-client.mjs';

const tree = path.join(repoRoot, 'examples/linux');
const mbox = path.join(repoRoot, 'examples/patches/vfio-example-v2.mbox');
const text = readFileSync(mbox, 'utf8');
const lines = text.split('\n');
const lineOf = (prefix) => lines.findIndex((l) => l.replace(/\r$/, '').startsWith(prefix));

test('an mbox over LSP: diagnostics on the patch lines, hover, an edit, a drafted reply', async (t) => {
  const client = await startLspClient({ settings: { arches: ['x86_64', 'i386'] } });
  t.after(() => client.close());
  await client.initialize({ workspaceFolders: [tree] });
  const uri = fileUri(mbox);
  // VS Code may have picked its own 'diff' language: the extension decides, not the language id.
  await client.openDocument(uri, 'plaintext', text, 1);
  const published = await client.waitForDiagnostics(uri, (p) => p.version === 1 && p.diagnostics.length > 0, 60_000);
  const got = published.diagnostics.map((d) => [d.range.start.line, d.code]).sort((a, b) => a[0] - b[0] || String(a[1]).localeCompare(String(b[1])));
  const define = lineOf('+#define VFIO_EXAMPLE_FLAG_SCOPE_VALID');
  const scope = lineOf('+\t__u32\tscope;');
  assert.deepEqual(got, [
    [define, 'abi-size-changed'], [define, 'flag-signed-shift'],
    [scope, 'abi-member-inserted'], [scope, 'abi-member-offset-changed'], [scope, 'abi-member-offset-changed'],
    [lineOf('-\tmutex_lock(&dev_set->lock);'), 'lock-not-held'],
    [lineOf('+\t\t\tinfo.devid = vfio_example_owner_devid'), 'union-inactive-member'],
  ]);
  const lock = published.diagnostics.find((d) => d.code === 'lock-not-held');
  assert.equal(lock.severity, 1);
  assert.match(lock.message, /^drivers\/vfio\/pci\/vfio_example_core\.c:124: `fill\.vdev->dev_set->lock` is not held here/);
  assert.match(lock.codeDescription.href, /lock-not-held\.md$/);

  const hover = await client.hover(uri, { line: scope, character: 8 });
  assert.match(hover?.contents?.value ?? '', /before this patch/);

  // Fix patch 1 in place: 1 << 31 -> 1U << 31. The flag-signed-shift finding goes, the ABI ones stay.
  const at = lines[define].indexOf('(1 << 31)') + 1;
  await client.changeDocument(uri, 2, [{ range: { start: { line: define, character: at }, end: { line: define, character: at + 1 } }, text: '1U' }]);
  const second = await client.waitForDiagnostics(uri, (p) => p.version === 2, 60_000);
  assert.ok(!second.diagnostics.some((d) => d.code === 'flag-signed-shift'), JSON.stringify(second.diagnostics.map((d) => d.code)));
  assert.ok(second.diagnostics.some((d) => d.code === 'abi-member-inserted'));

  const reply = await client.request('vfioReview/draftReply', { uri, line: lineOf('+\t\t\tinfo.devid = vfio_example_owner_devid') }, 60_000);
  assert.equal(reply.patch, 3);
  assert.match(reply.subject, /\[PATCH v2 3\/3\]/);
  assert.match(reply.text, /^In-Reply-To: <[0-9a-f]{40}\.\d+\.git\.alex@example\.org>$/m);
  assert.match(reply.text, /^> \+\t\t\tinfo\.devid = vfio_example_owner_devid/m);
  // The cover letter is not a patch to reply to.
  assert.equal(await client.request('vfioReview/draftReply', { uri, line: 2 }), null);

  await client.closeDocument(uri);
  const cleared = await client.waitForDiagnostics(uri, (p) => p.diagnostics.length === 0);
  assert.deepEqual(cleared.diagnostics, []);
  // Every tree the reviews, hovers and the reply made is freed once the mbox is closed.
  const stats = await client.request('vfioReview/stats', null);
  assert.deepEqual([stats.openPatches, stats.openDocuments, stats.liveTrees], [0, 0, 0]);
});

test('a long series is reviewed off the server thread: a hover on a C file is answered before the series is done', async (t) => {
  const client = await startLspClient({ settings: { arches: ['x86_64', 'i386'] } });
  t.after(() => client.close());
  await client.initialize({ workspaceFolders: [tree] });
  // The series' patches ninety times over (270 patches, seconds of work): the first copy applies, the rest fall back to their hunks.
  const patchesOnly = text.slice(text.indexOf('\nFrom ', 1) + 1);
  const long = text + Array.from({ length: 90 }, () => patchesOnly).join('');
  const mboxUri = fileUri(path.join(tree, '..', 'patches', 'long-series.mbox'));
  const c = path.join(tree, 'drivers/vfio/pci/vfio_example_core.c');
  const cText = readFileSync(c, 'utf8');
  await client.openDocument(fileUri(c), 'c', cText, 1);
  await client.waitForDiagnostics(fileUri(c), (p) => p.version === 1, 60_000);

  const order = [];
  await client.openDocument(mboxUri, 'vfio-patch', long, 1);
  const reviewed = client.waitForDiagnostics(mboxUri, (p) => p.version === 1, 120_000).then((p) => order.push('series') && p);
  // Once the review is under way (a server reviewing on its own thread would answer nothing now).
  await new Promise((r) => setTimeout(r, 300));
  const cLines = cText.split('\n');
  // A member of a struct the file defines.
  const line = cLines.findIndex((l) => l.includes('info.segment = '));
  const hovered = client.hover(fileUri(c), { line, character: cLines[line].indexOf('segment') + 1 }).then((h) => order.push('hover') && h);
  const [hover, series] = await Promise.all([hovered, reviewed]);
  assert.match(hover?.contents?.value ?? '', /struct vfio_example_pci_dependent_device/);
  assert.ok(series.diagnostics.length > 0, 'the series has findings');
  assert.deepEqual(order, ['hover', 'series']);
});
