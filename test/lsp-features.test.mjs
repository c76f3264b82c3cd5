// Editor features of the language server over stdio: quick fixes (textDocument/codeAction),
// CodeLens, inlay hints (off unless vfioReview.inlayHints) and the vfioReview/layout request the
// VS Code layout view is drawn from, with the base version's layout when one is compared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileUri, repoRoot, startLspClient } from './support/lsp-client.mjs';
import { FOO, FOO_V2, createGitFixture, gitAvailable } from './support/git-fixture.mjs';

const fixtureRoot = path.join(repoRoot, 'test', 'fixtures', 'lsp');
// Not on disk: the document lives in the editor only (the server reads the overlay).
const headerPath = path.join(fixtureRoot, 'include', 'uapi', 'linux', 'vfio_lsp_features.h');
const uri = fileUri(headerPath);
const SETTINGS = { arches: ['x86_64', 'i386'], debounceMs: 50 };
const PADDING = 'uapi-implicit-padding';

// A 3-byte hole after `mode`, the same on every ABI (a __u32 is 4-aligned everywhere).
const HOLE = `/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_LINUX_VFIO_LSP_FEATURES_H
#define _UAPI_LINUX_VFIO_LSP_FEATURES_H

#include <linux/types.h>

struct vfio_feat_hole {
	__u8	mode;
	__u32	count;
};

#endif
`;

async function startClient(t, settings = SETTINGS, capabilities) {
  const client = await startLspClient({ settings });
  t.after(() => client.close());
  const init = await client.initialize({
    workspaceFolders: [fixtureRoot],
    ...(capabilities ? { capabilities } : {}),
  });
  return { client, init };
}

/** Applies a WorkspaceEdit's edits for `uri` to `text` (edits do not overlap; applied back to front). */
function applyEdits(text, edits) {
  const offset = (p) => {
    const lines = text.split('\n');
    let o = 0;
    for (let i = 0; i < p.line; i++) o += lines[i].length + 1;
    return o + p.character;
  };
  const sorted = [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start));
  for (const e of sorted) text = text.slice(0, offset(e.range.start)) + e.newText + text.slice(offset(e.range.end));
  return text;
}

const fullRange = (text) => ({ start: { line: 0, character: 0 }, end: { line: text.split('\n').length, character: 0 } });
const lineOf = (text, needle) => text.split('\n').findIndex((l) => l.includes(needle));

test('capabilities: quick fixes, CodeLens, inlay hints', async (t) => {
  const { init } = await startClient(t);
  assert.deepEqual(init.capabilities.codeActionProvider, { codeActionKinds: ['quickfix', 'refactor.rewrite'] });
  assert.ok(init.capabilities.codeLensProvider);
  assert.equal(init.capabilities.inlayHintProvider, true);
});

test('a hole fixed by its quick fix: preferred, with the diagnostic, edit applied -> clean; CodeLens follows', async (t) => {
  const { client } = await startClient(t);
  await client.openDocument(uri, 'c', HOLE, 1);
  const diags = await client.waitForDiagnostics(uri, (p) => p.diagnostics.some((d) => d.code === PADDING));
  const padding = diags.diagnostics.find((d) => d.code === PADDING);

  const lensesBefore = await client.request('textDocument/codeLens', { textDocument: { uri } });
  assert.equal(lensesBefore.length, 1);
  assert.equal(lensesBefore[0].range.start.line, lineOf(HOLE, 'struct vfio_feat_hole'));
  assert.equal(lensesBefore[0].command.title, 'size 8 · align 4 · 1 hole (3 bytes) · same on all ABIs');
  assert.equal(lensesBefore[0].command.command, 'vfioReview.showLayout');
  assert.deepEqual(lensesBefore[0].command.arguments, ['struct vfio_feat_hole', uri]);

  const actions = await client.request('textDocument/codeAction', {
    textDocument: { uri },
    range: padding.range,
    context: { diagnostics: [padding] },
  });
  assert.ok(actions.length >= 2, `a fix and a suppression, got ${JSON.stringify(actions.map((a) => a.title))}`);
  for (const a of actions) {
    assert.equal(a.kind, 'quickfix');
    assert.ok(a.diagnostics.length === 1 && a.diagnostics[0].code, 'the diagnostic it fixes is attached');
    assert.deepEqual(Object.keys(a.edit.changes), [uri]);
  }
  const preferred = actions.filter((a) => a.isPreferred);
  assert.equal(preferred.length, 1, 'exactly one preferred fix');
  assert.equal(preferred[0].diagnostics[0].code, PADDING);

  // Only refactorings asked for: no quick fixes.
  const refactors = await client.request('textDocument/codeAction', { textDocument: { uri }, range: padding.range, context: { diagnostics: [], only: ['refactor'] } });
  assert.deepEqual(refactors, []);

  const fixed = applyEdits(HOLE, preferred[0].edit.changes[uri]);
  assert.notEqual(fixed, HOLE);
  await client.changeDocument(uri, 2, [{ text: fixed }]);
  const clean = await client.waitForDiagnostics(uri, (p) => p.version === 2);
  assert.deepEqual(clean.diagnostics, [], `clean after the fix:\n${fixed}`);

  const lensesAfter = await client.request('textDocument/codeLens', { textDocument: { uri } });
  assert.equal(lensesAfter[0].command.title, 'size 8 · align 4 · no holes · same on all ABIs');

  // Nothing to fix where there is no finding.
  const none = await client.request('textDocument/codeAction', { textDocument: { uri }, range: fullRange(fixed), context: { diagnostics: [] } });
  assert.deepEqual(none, []);
});

test('inlay hints: none by default, member offsets when vfioReview.inlayHints is true; refreshed on change', async (t) => {
  const { client } = await startClient(t, SETTINGS, {
    workspace: { configuration: true, didChangeConfiguration: {}, inlayHint: { refreshSupport: true } },
    textDocument: { inlayHint: {} },
  });
  await client.openDocument(uri, 'c', HOLE, 1);
  await client.waitForDiagnostics(uri, (p) => p.version === 1);
  const off = await client.request('textDocument/inlayHint', { textDocument: { uri }, range: fullRange(HOLE) });
  assert.deepEqual(off, []);

  client.setSettings({ ...SETTINGS, inlayHints: true });
  await client.notify('workspace/didChangeConfiguration', { settings: null });
  const deadline = Date.now() + 5000;
  while (!client.serverRequests.some((r) => r.method === 'workspace/inlayHint/refresh')) {
    assert.ok(Date.now() < deadline, 'the server asks the client to refresh its inlay hints');
    await new Promise((r) => setTimeout(r, 20));
  }
  const on = await client.request('textDocument/inlayHint', { textDocument: { uri }, range: fullRange(HOLE) });
  const byLine = Object.fromEntries(on.map((h) => [h.position.line, h.label]));
  assert.equal(byLine[lineOf(HOLE, 'mode;')], ' /* 0 1 */');
  assert.equal(byLine[lineOf(HOLE, 'count;')], ' /* 4 4 */');
  assert.equal(on.find((h) => h.position.line === lineOf(HOLE, 'count;')).position.character, HOLE.split('\n')[lineOf(HOLE, 'count;')].length);

  client.setSettings({ ...SETTINGS, inlayHints: 'yes' });
  await client.notify('workspace/didChangeConfiguration', { settings: null });
  await client.waitForNotification('window/showMessage', (p) => p.message.includes('vfioReview.inlayHints'));
});

test('vfioReview/layout: a named type, the type at a position, an unknown type, no type', async (t) => {
  const { client } = await startClient(t);
  await client.openDocument(uri, 'c', HOLE, 1);
  await client.waitForDiagnostics(uri, (p) => p.version === 1);

  const named = await client.request('vfioReview/layout', { uri, typeName: 'struct vfio_feat_hole' });
  assert.equal(named.typeName, 'struct vfio_feat_hole');
  assert.deepEqual(Object.keys(named.report.arches), ['x86_64', 'i386']);
  const x86 = named.report.arches.x86_64.types;
  assert.equal(x86.length, 1);
  assert.deepEqual(x86[0].members.map((m) => [m.path, m.offset, m.size]), [['mode', 0, 1], ['count', 4, 4]]);
  assert.deepEqual(x86[0].holes.map((h) => [h.offset, h.size]), [[1, 3]]);
  assert.equal(named.base, undefined, 'no base without vfioReview.baseRef');

  const atCursor = await client.request('vfioReview/layout', { uri, position: { line: lineOf(HOLE, 'count;'), character: 2 } });
  assert.equal(atCursor.typeName, 'struct vfio_feat_hole');
  assert.deepEqual(atCursor.report, named.report);

  const unknown = await client.request('vfioReview/layout', { uri, typeName: 'struct nope' });
  assert.equal(unknown.report, null);
  assert.match(unknown.message, /nope/);

  const outside = await client.request('vfioReview/layout', { uri, position: { line: 0, character: 0 } });
  assert.equal(outside.typeName, null);
  assert.match(outside.message, /No struct or union/);
});

test('vfioReview/layout with a base version: the old layout beside the new', { skip: gitAvailable() ? false : 'git is not installed' }, async (t) => {
  const fixture = createGitFixture();
  t.after(() => fixture.cleanup());
  const client = await startLspClient({ settings: { ...SETTINGS, baseRef: 'HEAD~1' } });
  t.after(() => client.close());
  await client.initialize({ workspaceFolders: [fixture.root] });
  const fooUri = fileUri(fixture.path(FOO));
  await client.openDocument(fooUri, 'c', FOO_V2, 1);
  await client.waitForDiagnostics(fooUri, (p) => p.version === 1 && p.diagnostics.some((d) => String(d.code).startsWith('abi-')));
  const r = await client.request('vfioReview/layout', { uri: fooUri, typeName: 'struct foo_info' });
  assert.ok(r.report.arches.x86_64.types[0].members.some((m) => m.path === 'devid'), 'new: the union has devid');
  assert.ok(r.base, 'a base layout');
  assert.match(r.base.label, /^HEAD~1 \([0-9a-f]{12}\)$/);
  const oldMembers = r.base.report.arches.x86_64.types[0].members.map((m) => m.path);
  assert.ok(oldMembers.includes('group_id') && !oldMembers.includes('devid'), `old: no devid (${oldMembers})`);
  // The base was laid out from a temporary overlay document that is gone again.
  const diags = client.diagnosticsFor(fooUri);
  assert.ok(diags.every((p) => p.uri === fooUri));
});

test('client restart policy: three restarts within three minutes, then one message and no more', async (t) => {
  const { build } = await import('esbuild');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { createRequire } = await import('node:module');
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-policy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const outfile = path.join(dir, 'restart-policy.cjs');
  // Bundled without 'vscode': the module must not need it at run time.
  await build({ entryPoints: [path.join(repoRoot, 'client/src/restart-policy.ts')], outfile, bundle: true, platform: 'node', format: 'cjs', logLevel: 'silent', external: [] });
  const { restartPolicy, RESTART_WINDOW_MS } = createRequire(import.meta.url)(outfile);
  let now = 0;
  let gaveUp = 0;
  const policy = restartPolicy(() => gaveUp++, () => now);
  const RESTART = 2;
  const DO_NOT_RESTART = 1;
  for (let i = 0; i < 3; i++) {
    now += 1000;
    assert.equal(policy.closed().action, RESTART);
  }
  now += 1000;
  const fourth = policy.closed();
  assert.equal(fourth.action, DO_NOT_RESTART);
  assert.match(fourth.message, /stopped 4 times/);
  assert.equal(gaveUp, 1);
  // Crashes long ago do not count; reset() (the restart command) forgets them all.
  now += RESTART_WINDOW_MS + 1;
  assert.equal(policy.closed().action, RESTART);
  policy.reset();
  for (let i = 0; i < 3; i++) assert.equal(policy.closed().action, RESTART);
  // Connection errors: continue, unless they keep coming.
  assert.equal(policy.error(new Error('x'), undefined, 1).action, 1);
  assert.equal(policy.error(new Error('x'), undefined, 5).action, 2);
});
