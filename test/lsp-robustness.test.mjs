// The language server under protocol abuse: positions past the end of a line or the file,
// unknown URIs, requests before `initialize`, a client that stops reading for a while,
// $/cancelRequest for every request it serves, didChange with a wrong version, and every
// request on every position of a small file. Each must give a proper LSP error or a no-op, never
// a crash, and the server must answer normally afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CancellationTokenSource } from 'vscode-languageserver-protocol/node';
import { fileUri, startLspClient } from './support/lsp-client.mjs';
import { serverErrors } from './fuzz/targets.mjs';

const SETTINGS = { arches: ['x86_64', 'i386'], debounceMs: 0, inlayHints: true };
const HEADER = `/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_LINUX_ROBUST_H
#define _UAPI_LINUX_ROBUST_H
#include <linux/types.h>

struct robust_info {
\t__u32\targsz;
\t__u32\tflags;
#define ROBUST_FLAG_A\t(1 << 0)
\t__u64\tsize;
\tunsigned long\tcookie;
\t__u8\tpad;
};

union robust_id {
\t__u32\tgroup;
\t__u64\tdevid;
};
#endif
`;
const SERVER_NOT_INITIALIZED = -32002;
const REQUEST_CANCELLED = -32800;

function makeTree(t) {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-robust-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'include/uapi/linux'), { recursive: true });
  writeFileSync(path.join(root, 'Kbuild'), '');
  const file = path.join(root, 'include/uapi/linux/robust.h');
  writeFileSync(file, HEADER);
  return { root, file, uri: fileUri(file) };
}

async function startServer(t, tree) {
  const client = await startLspClient({ settings: SETTINGS });
  t.after(() => client.close());
  await client.initialize({ workspaceFolders: [tree.root] });
  return client;
}

/** The server answers a hover on a known position and is still running. */
async function assertAlive(client, uri) {
  const hover = await client.hover(uri, { line: 6, character: 10 });
  assert.match(JSON.stringify(hover), /argsz/, 'hover on a member still answers');
  assert.equal(client.exitStatus, undefined, `server exited: ${client.stderr}`);
  assert.deepEqual(serverErrors(client), [], 'the server logged no engine failure');
}

test('requests before initialize: ServerNotInitialized or an empty answer, never a crash; initialize then works', async (t) => {
  const tree = makeTree(t);
  const client = await startLspClient({ settings: SETTINGS });
  t.after(() => client.close());
  const outcome = (p) => p.then((result) => ({ result }), (error) => ({ error }));
  for (const [method, params, empty] of [
    ['textDocument/hover', { textDocument: { uri: tree.uri }, position: { line: 0, character: 0 } }, null],
    ['textDocument/codeLens', { textDocument: { uri: tree.uri } }, []],
    ['textDocument/inlayHint', { textDocument: { uri: tree.uri }, range: { start: { line: 0, character: 0 }, end: { line: 1, character: 0 } } }, []],
  ]) {
    const o = await outcome(client.request(method, params));
    if (o.error) assert.equal(o.error.code, SERVER_NOT_INITIALIZED, `${method}: ${o.error.message}`);
    else assert.deepEqual(o.result, empty, method);
  }
  // A layout request waits for the engine; it is answered once the server is initialized.
  const early = outcome(client.request('vfioReview/layout', { uri: tree.uri, typeName: 'robust_info' }));
  // Notifications before initialize are dropped or kept, not fatal.
  await client.openDocument(tree.uri, 'c', HEADER, 1);
  await client.initialize({ workspaceFolders: [tree.root] });
  const layout = await early;
  assert.ok(layout.error?.code === SERVER_NOT_INITIALIZED || layout.result?.report?.arches?.x86_64, JSON.stringify(layout).slice(0, 300));
  await client.openDocument(tree.uri, 'c', HEADER, 2);
  await client.waitForDiagnostics(tree.uri, (p) => p.diagnostics.length > 0);
  await assertAlive(client, tree.uri);
});

test('positions past the end of a line and of the file, unknown URIs and odd parameters: no-ops', async (t) => {
  const tree = makeTree(t);
  const client = await startServer(t, tree);
  await client.openDocument(tree.uri, 'c', HEADER, 1);
  await client.waitForDiagnostics(tree.uri, (p) => p.version === 1);
  const lines = HEADER.split('\n').length;
  for (const position of [
    { line: 6, character: 500 },
    { line: lines + 100, character: 0 },
    { line: 2 ** 31 - 1, character: 2 ** 31 - 1 },
    { line: 0, character: 2 ** 31 - 1 },
  ]) {
    const hover = await client.hover(tree.uri, position);
    assert.ok(hover === null || typeof hover === 'object');
  }
  const far = { start: { line: lines + 10, character: 0 }, end: { line: lines + 20, character: 999 } };
  assert.deepEqual(await client.request('textDocument/codeAction', { textDocument: { uri: tree.uri }, range: far, context: { diagnostics: [] } }), []);
  assert.ok(Array.isArray(await client.request('textDocument/inlayHint', { textDocument: { uri: tree.uri }, range: far })));

  const unknown = [fileUri(path.join(tree.root, 'include/uapi/linux/nope.h')), 'untitled:Untitled-1', 'vfio-review-base:/x.h?zz', 'not a uri', fileUri('/dev/zero')];
  for (const uri of unknown) {
    assert.equal(await client.hover(uri, { line: 0, character: 0 }), null, uri);
    assert.deepEqual(await client.request('textDocument/codeLens', { textDocument: { uri } }), [], uri);
    assert.deepEqual(await client.request('textDocument/inlayHint', { textDocument: { uri }, range: far }), [], uri);
    assert.deepEqual(await client.request('textDocument/codeAction', { textDocument: { uri }, range: far, context: { diagnostics: [] } }), [], uri);
    const layout = await client.request('vfioReview/layout', { uri });
    assert.ok(layout === null || layout.report === null, `${uri}: ${JSON.stringify(layout)}`);
  }
  assert.equal(await client.request('vfioReview/layout', {}), null);
  assert.equal(await client.request('vfioReview/layout', { uri: 42 }), null);
  assert.equal(await client.request('vfioReview/baseText', { uri: 'vfio-review-base:/etc/passwd?0000000000000000000000000000000000000000' }), null);
  // Closing and changing what was never opened.
  await client.closeDocument(unknown[0]);
  await client.changeDocument(unknown[0], 3, [{ text: 'struct x { int a; };' }]);
  await assertAlive(client, tree.uri);
});

test('a didChange with a wrong version or a range past the end: the server keeps its copy usable', async (t) => {
  const tree = makeTree(t);
  const client = await startServer(t, tree);
  await client.openDocument(tree.uri, 'c', HEADER, 5);
  await client.waitForDiagnostics(tree.uri, (p) => p.version === 5);
  // An older version, the same version again, a range beyond the file: applied or ignored, no crash.
  await client.changeDocument(tree.uri, 3, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '\n' }]);
  await client.changeDocument(tree.uri, 3, [{ range: { start: { line: 500, character: 9 }, end: { line: 900, character: 0 } }, text: '/* tail */' }]);
  await client.changeDocument(tree.uri, 4, [{ range: { start: { line: 3, character: 50 }, end: { line: 2, character: 0 } }, text: '' }]);
  // A full replacement with a newer version is then checked and published with that version.
  await client.changeDocument(tree.uri, 9, [{ text: HEADER }]);
  const d = await client.waitForDiagnostics(tree.uri, (p) => p.version === 9);
  assert.ok(d.diagnostics.some((x) => x.code === 'uapi-non-fixed-type'), JSON.stringify(d.diagnostics.map((x) => x.code)));
  await assertAlive(client, tree.uri);
});

test('$/cancelRequest for every request kind: a result or RequestCancelled, then normal answers', async (t) => {
  const tree = makeTree(t);
  const client = await startServer(t, tree);
  await client.openDocument(tree.uri, 'c', HEADER, 1);
  await client.waitForDiagnostics(tree.uri, (p) => p.version === 1);
  const textDocument = { uri: tree.uri };
  const range = { start: { line: 0, character: 0 }, end: { line: 20, character: 0 } };
  const kinds = [
    ['textDocument/hover', { textDocument, position: { line: 6, character: 8 } }],
    ['textDocument/codeLens', { textDocument }],
    ['textDocument/inlayHint', { textDocument, range }],
    ['textDocument/codeAction', { textDocument, range, context: { diagnostics: [] } }],
    ['vfioReview/layout', { uri: tree.uri, typeName: 'robust_info' }],
    ['vfioReview/baseText', { uri: 'vfio-review-base:/x.h?0000000000000000000000000000000000000000' }],
  ];
  for (let round = 0; round < 3; round++) {
    for (const [method, params] of kinds) {
      const source = new CancellationTokenSource();
      const pending = client.connection.sendRequest(method, params, source.token);
      // Cancel at once, after a tick, or after the answer may be there: all are legal.
      if (round === 0) source.cancel();
      else if (round === 1) setImmediate(() => source.cancel());
      else setTimeout(() => source.cancel(), 5);
      const outcome = await pending.then(
        (result) => ({ result }),
        (error) => ({ error }),
      );
      if (outcome.error) assert.equal(outcome.error.code, REQUEST_CANCELLED, `${method}: ${outcome.error.message}`);
    }
  }
  await assertAlive(client, tree.uri);
});

test('a client that stops reading for a while (backpressure): everything is answered once it reads again', async (t) => {
  const tree = makeTree(t);
  const client = await startServer(t, tree);
  await client.openDocument(tree.uri, 'c', HEADER, 1);
  await client.waitForDiagnostics(tree.uri, (p) => p.version === 1);
  client.child.stdout.pause();
  const lines = HEADER.split('\n');
  const pending = [];
  let version = 1;
  // Hovers with large answers, layouts and edits (each a diagnostics publication) while nothing is read.
  for (let i = 0; i < 300; i++) {
    pending.push(client.request('textDocument/hover', { textDocument: { uri: tree.uri }, position: { line: 6 + (i % 6), character: 3 } }, 60_000));
    pending.push(client.request('vfioReview/layout', { uri: tree.uri, typeName: 'robust_info' }, 60_000));
    if (i % 10 === 0) await client.changeDocument(tree.uri, ++version, [{ range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, text: `/* ${i} */` }]);
  }
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(client.exitStatus, undefined, 'the server is still running while its output is not read');
  client.child.stdout.resume();
  const answers = await Promise.all(pending);
  assert.equal(answers.length, 600);
  assert.ok(answers.filter((a) => a && typeof a === 'object' && 'report' in a).every((a) => a.report?.arches?.x86_64), 'every layout answered');
  await client.waitForDiagnostics(tree.uri, (p) => p.version === version, 60_000);
  assert.equal(lines.length, HEADER.split('\n').length);
  await assertAlive(client, tree.uri);
});

test('hover, codeLens, inlayHint and codeAction on every position of a small file', async (t) => {
  const tree = makeTree(t);
  const client = await startServer(t, tree);
  await client.openDocument(tree.uri, 'c', HEADER, 1);
  await client.waitForDiagnostics(tree.uri, (p) => p.version === 1);
  const textDocument = { uri: tree.uri };
  const lines = HEADER.split('\n');
  let hovers = 0;
  let asked = 0;
  for (let line = 0; line <= lines.length; line++) {
    for (let character = 0; character <= (lines[line]?.length ?? 0) + 1; character++) {
      const position = { line, character };
      const range = { start: position, end: position };
      const [hover, lenses, hints, actions] = await Promise.all([
        client.request('textDocument/hover', { textDocument, position }),
        client.request('textDocument/codeLens', { textDocument }),
        client.request('textDocument/inlayHint', { textDocument, range: { start: position, end: { line: line + 1, character: 0 } } }),
        client.request('textDocument/codeAction', { textDocument, range, context: { diagnostics: [] } }),
      ]);
      asked += 4;
      if (hover) hovers++;
      assert.ok(Array.isArray(lenses) && Array.isArray(hints) && Array.isArray(actions), `${line}:${character}`);
    }
  }
  // Real answers, not just no-ops: members and types hover, both structs have a lens.
  assert.ok(hovers > 20, `${hovers} hovers of ${asked / 4} positions`);
  assert.equal((await client.request('textDocument/codeLens', { textDocument })).length, 2);
  await assertAlive(client, tree.uri);
});
