// lock-not-held over LSP: the diagnostic appears on the iterator call of the hot-reset ioctl, with
// its chain as related information, and goes away when the edit adds the dev_set lock. Hovers show
// a callee's lock contract on its call, and the locks held at a point of a function body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileUri, repoRoot, startLspClient } from './support/lsp-client.mjs';

const fixture = path.join(repoRoot, 'test/fixtures/locks/devset');
const file = path.join(fixture, 'drivers/vfio/pci/hot_reset_bad.c');

test('lock-not-held over LSP, then fixed by an incremental edit', async (t) => {
  const client = await startLspClient({ settings: {} });
  t.after(() => client.close());
  await client.initialize({ workspaceFolders: [fixture] });
  const uri = fileUri(file);
  const text = readFileSync(file, 'utf8');
  await client.openDocument(uri, 'c', text, 1);
  const first = await client.waitForDiagnostics(uri, (p) => p.version === 1 && p.diagnostics.some((d) => d.code === 'lock-not-held'));
  const [d] = first.diagnostics.filter((x) => x.code === 'lock-not-held');
  assert.equal(d.range.start.line, 46);
  assert.match(d.message, /vfio_pci_ioctl_get_pci_hot_reset_info -> vfio_pci_for_each_slot_or_bus -> vfio_pci_fill_devs -> vfio_find_device_in_devset/);
  assert.ok(d.relatedInformation?.some((r) => r.location.uri.endsWith('/drivers/vfio/vfio_main.c')), JSON.stringify(d.relatedInformation));

  // Take the lock around the walk: insert a line before the call and one after it.
  const lines = text.split('\n');
  const call = lines.findIndex((l) => l.includes('ret = vfio_pci_for_each_slot_or_bus('));
  const after = call + 2;
  await client.changeDocument(uri, 2, [
    { range: { start: { line: after, character: 0 }, end: { line: after, character: 0 } }, text: '\tmutex_unlock(&vdev->vdev.dev_set->lock);\n' },
    { range: { start: { line: call, character: 0 }, end: { line: call, character: 0 } }, text: '\tmutex_lock(&vdev->vdev.dev_set->lock);\n' },
  ]);
  // The first answer to an edit keeps the last whole-index findings; the full check follows once
  // typing stops and must clear the finding.
  const second = await client.waitForDiagnostics(uri, (p) => p.version === 2 && !p.diagnostics.some((x) => x.code?.toString().startsWith('lock-')));
  assert.deepEqual(second.diagnostics.filter((x) => x.code?.toString().startsWith('lock-')), []);
});

const goodFile = path.join(fixture, 'drivers/vfio/pci/hot_reset_good.c');

/** 0-based position of `needle` (its first character, plus `offset`) in `text`. */
function positionOf(text, needle, offset = 0) {
  const lines = text.split('\n');
  const line = lines.findIndex((l) => l.includes(needle));
  assert.ok(line >= 0, needle);
  return { line, character: lines[line].indexOf(needle) + offset };
}

test('hover over LSP: the contract of a lock-requiring callee, and the locks held after mutex_lock', async (t) => {
  const client = await startLspClient({ settings: {} });
  t.after(() => client.close());
  await client.initialize({ workspaceFolders: [fixture] });

  // On the call of vfio_find_device_in_devset() in the callback: what it requires, and where from.
  const uri = fileUri(file);
  const text = readFileSync(file, 'utf8');
  await client.openDocument(uri, 'c', text, 1);
  const onCall = await client.hover(uri, positionOf(text, 'vfio_find_device_in_devset(dev_set', 3));
  const callText = onCall?.contents?.value ?? '';
  assert.match(callText, /requires `dev_set->lock`: lockdep_assert_held\(&dev_set->lock\) in vfio_find_device_in_devset at drivers\/vfio\/vfio_main\.c:10/, JSON.stringify(onCall));

  // In the corrected twin, on the iterator call right after mutex_lock: the lock is held there.
  const goodUri = fileUri(goodFile);
  const good = readFileSync(goodFile, 'utf8');
  await client.openDocument(goodUri, 'c', good, 1);
  const held = await client.hover(goodUri, positionOf(good, 'good_for_each_slot_or_bus(vdev->pdev', 2));
  assert.match(held?.contents?.value ?? '', /held here: `vdev->vdev\.dev_set->lock` \(mutex_lock, taken at line 47\)/, JSON.stringify(held));
  // Before the mutex_lock (on the slot probe): nothing is held.
  const before = await client.hover(goodUri, positionOf(good, 'pci_probe_reset_slot(vdev', 2));
  assert.doesNotMatch(before?.contents?.value ?? '', /held here/, JSON.stringify(before));
});
