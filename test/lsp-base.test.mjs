// The language server compares uapi headers with their version at vfioReview.baseRef, read from
// git: over stdio with the test client, on the temporary repository of
// test/support/git-fixture.mjs (HEAD: foo.h with the union and FOO_INFO_FLAG_RESET = (1 << 2);
// HEAD~1: a plain group_id and (1 << 0)).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileUri, repoRoot, startLspClient, summarize } from './support/lsp-client.mjs';
import { FOO, FOO_V2, TYPES, TYPES_H, createGitFixture, gitAvailable } from './support/git-fixture.mjs';

const skip = gitAvailable() ? false : 'git is not installed';
const SERVER_ARGS = [path.join(repoRoot, 'dist', 'server.js'), '--stdio'];
const SETTINGS = { arches: ['x86_64', 'i386'], debounceMs: 50, baseRef: 'HEAD' };
const MACRO = 'abi-macro-value-changed';
const UNION = 'abi-union-wrap';
const LOG_INFO = 3;
const LOG_ERROR = 1;

/** foo.h as in HEAD but with the flag moved again: an uncommitted ABI change. */
const FOO_DIRTY = FOO_V2.replace('(1 << 2)', '(1 << 3)');

let fixture;
let headCommit;
let parentCommit;

before(() => {
  if (skip) return;
  fixture = createGitFixture();
  headCommit = fixture.git('rev-parse', 'HEAD').trim();
  parentCommit = fixture.git('rev-parse', 'HEAD~1').trim();
  fixture.write(FOO, FOO_DIRTY);
});

after(() => fixture?.cleanup());

const rulesOf = (p) => p.diagnostics.map((d) => d.code);
const abiRules = (p) => rulesOf(p).filter((r) => r.startsWith('abi-')).sort();
const lineOf = (text, needle) => text.split('\n').findIndex((l) => l.includes(needle));

async function startClient(t, { settings = SETTINGS, folder = fixture.root, initializationOptions, env } = {}) {
  const client = await startLspClient({ args: SERVER_ARGS, settings, env });
  t.after(() => client.close());
  await client.initialize({ workspaceFolders: [folder], ...(initializationOptions ? { initializationOptions } : {}) });
  return client;
}

const logs = (client, type) => client.notifications.filter((n) => n.method === 'window/logMessage' && (type === undefined || n.params.type === type)).map((n) => n.params.message);

function assertNoErrors(client) {
  assert.deepEqual(logs(client, LOG_ERROR), [], 'no error in the server log');
  assert.deepEqual(client.notifications.filter((n) => n.method === 'window/showMessage'), [], 'no message shown to the user');
}

test('an uncommitted change is compared with HEAD: abi findings with related locations in the base version', { skip }, async (t) => {
  const client = await startClient(t);
  const uri = fileUri(fixture.path(FOO));
  await client.openDocument(uri, 'c', FOO_DIRTY, 1);
  const first = await client.waitForDiagnostics(uri, (p) => p.version === 1 && abiRules(p).length > 0);
  assert.deepEqual(abiRules(first), [MACRO], JSON.stringify(summarize(first)));
  const macro = first.diagnostics.find((d) => d.code === MACRO);
  assert.equal(macro.severity, 1);
  assert.equal(macro.range.start.line, lineOf(FOO_DIRTY, '#define FOO_INFO_FLAG_RESET'));
  assert.match(macro.message, /FOO_INFO_FLAG_RESET/);
  assert.match(macro.message, /every ABI/);
  assert.match(macro.message, new RegExp(`compared with HEAD:${FOO}`));
  assert.ok(macro.codeDescription.href.endsWith(`/${MACRO}.md`));

  // The related location is the same file at HEAD's commit, at the old line.
  assert.equal(macro.relatedInformation?.length, 1, JSON.stringify(macro));
  const related = macro.relatedInformation[0];
  assert.equal(related.location.uri, `vfio-review-base:${new URL(uri).pathname}?${headCommit}`);
  assert.equal(related.location.range.start.line, lineOf(FOO_V2, '#define FOO_INFO_FLAG_RESET'));
  // ... and the client can open it: the server serves its text.
  assert.equal(await client.request('vfioReview/baseText', { uri: related.location.uri }), FOO_V2);
  assert.equal(await client.request('vfioReview/baseText', { uri: `vfio-review-base:${new URL(uri).pathname}?${parentCommit}` }), fixture.git('show', `HEAD~1:${FOO}`));
  assert.equal(await client.request('vfioReview/baseText', { uri: `vfio-review-base:${new URL(fileUri(path.join(fixture.temp, 'home', 'x.h'))).pathname}?${headCommit}` }), null, 'outside the repository');
  assert.equal(await client.request('vfioReview/baseText', { uri: `vfio-review-base:${new URL(uri).pathname}?HEAD` }), null, 'only commit hashes');
  assert.equal(await client.request('vfioReview/baseText', { uri: 'file:///etc/passwd' }), null);

  // The editor's text is compared, not the disk's: going back to HEAD's value clears the finding.
  const at = macro.range.start.line;
  const valueAt = FOO_DIRTY.split('\n')[at].indexOf('(1 << 3)');
  await client.changeDocument(uri, 2, [{ range: { start: { line: at, character: valueAt }, end: { line: at, character: valueAt + 8 } }, text: '(1 << 2)' }]);
  const second = await client.waitForDiagnostics(uri, (p) => p.version === 2);
  assert.deepEqual(abiRules(second), [], JSON.stringify(summarize(second)));

  // Another baseRef, at run time: HEAD~1 has neither the union nor the new flag value.
  client.setSettings({ ...SETTINGS, baseRef: 'HEAD~1' });
  await client.notify('workspace/didChangeConfiguration', { settings: null });
  const third = await client.waitForDiagnostics(uri, (p) => abiRules(p).length === 2);
  assert.deepEqual(abiRules(third), [MACRO, UNION], JSON.stringify(summarize(third)));
  for (const d of third.diagnostics.filter((x) => x.code.startsWith('abi-'))) {
    assert.match(d.relatedInformation[0].location.uri, new RegExp(`\\?${parentCommit}$`));
    assert.match(d.message, new RegExp(`compared with HEAD~1:${FOO}`));
  }
  assert.equal(third.diagnostics.find((d) => d.code === UNION).severity, 3, 'the union wrap is information');
  // Hovering the changed struct shows what changed against the base version.
  const structLine = lineOf(FOO_DIRTY, 'struct foo_info {');
  const hover = await client.hover(uri, { line: structLine, character: FOO_DIRTY.split('\n')[structLine].indexOf('foo_info') + 1 });
  assert.match(hover?.contents?.value ?? '', new RegExp(`compared with \`HEAD~1:${FOO}\``), JSON.stringify(hover));
  assert.match(hover.contents.value, /`devid`/);

  // '' turns the comparison off.
  client.setSettings({ ...SETTINGS, baseRef: '' });
  await client.notify('workspace/didChangeConfiguration', { settings: null });
  const off = await client.waitForDiagnostics(uri, (p) => abiRules(p).length === 0);
  assert.deepEqual(rulesOf(off), []);
  assertNoErrors(client);
});

test('when HEAD moves to another commit, the header is compared with the new one', { skip }, async (t) => {
  const client = await startClient(t);
  const rel = 'include/uapi/linux/moving.h';
  const v1 = '#include <linux/types.h>\n\n#define MOVING_LIMIT\t1\n\nstruct moving {\n\t__u32\targsz;\n\t__u32\tflags;\n};\n';
  const v2 = v1.replace('MOVING_LIMIT\t1', 'MOVING_LIMIT\t2');
  fixture.write(rel, v1);
  fixture.git('add', rel);
  fixture.git('commit', '-q', '-m', 'moving: v1');
  t.after(() => {
    fixture.git('reset', '-q', '--hard', headCommit);
    fixture.write(FOO, FOO_DIRTY);
  });
  fixture.write(rel, v2);
  const uri = fileUri(fixture.path(rel));
  await client.openDocument(uri, 'c', v2, 1);
  const before = await client.waitForDiagnostics(uri, (p) => p.version === 1 && abiRules(p).length > 0);
  assert.deepEqual(abiRules(before), [MACRO]);
  // Commit the change: HEAD now has v2, so nothing differs any more.
  fixture.git('commit', '-q', '-a', '-m', 'moving: v2');
  const newHead = fixture.git('rev-parse', 'HEAD').trim();
  // The server asks git again once its answer is two seconds old.
  await new Promise((resolve) => setTimeout(resolve, 2100));
  await client.changeDocument(uri, 2, [{ text: `${v2}\n` }]);
  const after = await client.waitForDiagnostics(uri, (p) => p.version === 2);
  assert.deepEqual(abiRules(after), [], JSON.stringify(summarize(after)));
  // And a new change is compared with the new commit.
  await client.changeDocument(uri, 3, [{ text: v2.replace('MOVING_LIMIT\t2', 'MOVING_LIMIT\t3') }]);
  const third = await client.waitForDiagnostics(uri, (p) => p.version === 3);
  assert.deepEqual(abiRules(third), [MACRO]);
  assert.match(third.diagnostics[0].relatedInformation[0].location.uri, new RegExp(`\\?${newHead}$`));
  assertNoErrors(client);
});

test('no comparison without baseRef from the client, nor for kernel C or a new header; one log line for the new header', { skip }, async (t) => {
  // A client that does not send the setting has not asked whether git may run: off.
  const { baseRef: _, ...withoutBaseRef } = SETTINGS;
  const plain = await startClient(t, { settings: withoutBaseRef });
  const uri = fileUri(fixture.path(FOO));
  await plain.openDocument(uri, 'c', FOO_DIRTY, 1);
  const published = await plain.waitForDiagnostics(uri, (p) => p.version === 1);
  assert.deepEqual(abiRules(published), []);
  await plain.close();

  const client = await startClient(t);
  const newRel = 'include/uapi/linux/fresh.h';
  const fresh = '#include <linux/types.h>\n\nstruct fresh {\n\t__u32\targsz;\n\t__u32\tflags;\n};\n';
  fixture.write(newRel, fresh);
  t.after(() => fs.rmSync(fixture.path(newRel), { force: true }));
  const freshUri = fileUri(fixture.path(newRel));
  await client.openDocument(freshUri, 'c', fresh, 1);
  await client.waitForDiagnostics(freshUri, (p) => p.version === 1);
  await client.changeDocument(freshUri, 2, [{ text: `${fresh}\n` }]);
  const freshDiagnostics = await client.waitForDiagnostics(freshUri, (p) => p.version === 2);
  assert.deepEqual(abiRules(freshDiagnostics), []);
  const lines = logs(client, LOG_INFO).filter((m) => m.includes('fresh.h'));
  assert.equal(lines.length, 1, JSON.stringify(logs(client)));
  assert.match(lines[0], /not in HEAD/);

  const cUri = fileUri(fixture.path('drivers/foo/foo_core.c'));
  const cText = fs.readFileSync(fixture.path('drivers/foo/foo_core.c'), 'utf8');
  await client.openDocument(cUri, 'c', cText.replace('FOO_API_VERSION', 'FOO_API_VERSION + 1'), 1);
  const cDiagnostics = await client.waitForDiagnostics(cUri, (p) => p.version === 1);
  assert.deepEqual(abiRules(cDiagnostics), []);
  assertNoErrors(client);
});

test('an untrusted workspace runs no git until the client says it is trusted', { skip }, async (t) => {
  const client = await startClient(t, { initializationOptions: { workspaceTrusted: false } });
  const uri = fileUri(fixture.path(FOO));
  await client.openDocument(uri, 'c', FOO_DIRTY, 1);
  const untrusted = await client.waitForDiagnostics(uri, (p) => p.version === 1);
  assert.deepEqual(abiRules(untrusted), []);
  assert.equal(await client.request('vfioReview/baseText', { uri: `vfio-review-base:${new URL(uri).pathname}?${headCommit}` }), null);
  assert.equal(logs(client, LOG_INFO).filter((m) => /not trusted/.test(m)).length, 1, JSON.stringify(logs(client)));
  // The trust flag is not taken for a setting.
  assert.ok(!logs(client).some((m) => m.includes('workspaceTrusted')), JSON.stringify(logs(client)));

  await client.notify('vfioReview/workspaceTrusted', {});
  const trusted = await client.waitForDiagnostics(uri, (p) => abiRules(p).length > 0);
  assert.deepEqual(abiRules(trusted), [MACRO]);
  assertNoErrors(client);
});

/** A kernel tree outside any repository. */
function plainTree(t) {
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-plain-'));
  t.after(() => fs.rmSync(temp, { recursive: true, force: true }));
  const root = path.join(temp, 'linux');
  fs.mkdirSync(path.join(root, 'include', 'uapi', 'linux'), { recursive: true });
  fs.writeFileSync(path.join(root, 'Kbuild'), 'obj-y += drivers/\n');
  fs.writeFileSync(path.join(root, TYPES), TYPES_H);
  fs.writeFileSync(path.join(root, FOO), FOO_DIRTY);
  fs.writeFileSync(path.join(root, 'include/uapi/linux/holes.h'), '#include <linux/types.h>\n\nstruct holes {\n\t__u32\ta;\n\t__u64\tb;\n};\n');
  return root;
}

test('outside a repository: one info line for the workspace, no abi findings, the server keeps working', { skip }, async (t) => {
  const root = plainTree(t);
  const client = await startClient(t, { folder: root });
  const fooUri = fileUri(path.join(root, FOO));
  const holesUri = fileUri(path.join(root, 'include/uapi/linux/holes.h'));
  await client.openDocument(fooUri, 'c', FOO_DIRTY, 1);
  await client.openDocument(holesUri, 'c', fs.readFileSync(path.join(root, 'include/uapi/linux/holes.h'), 'utf8'), 1);
  assert.deepEqual(abiRules(await client.waitForDiagnostics(fooUri, (p) => p.version === 1)), []);
  const holes = await client.waitForDiagnostics(holesUri, (p) => p.version === 1 && p.diagnostics.length > 0);
  assert.ok(rulesOf(holes).includes('uapi-implicit-padding'), 'the other rules still run');
  assert.deepEqual(abiRules(holes), []);
  await client.changeDocument(fooUri, 2, [{ text: `${FOO_DIRTY}\n` }]);
  await client.waitForDiagnostics(fooUri, (p) => p.version === 2);
  const hover = await client.hover(fooUri, { line: lineOf(FOO_DIRTY, '__u32\tflags;'), character: 8 });
  assert.match(hover?.contents?.value ?? '', /flags/);
  const lines = logs(client, LOG_INFO).filter((m) => /not inside a git repository/.test(m));
  assert.equal(lines.length, 1, JSON.stringify(logs(client)));
  assert.match(lines[0], /ABI comparison with HEAD is off/);
  assertNoErrors(client);
  const status = await client.close();
  assert.deepEqual({ code: status.code, signal: status.signal }, { code: 0, signal: null }, client.stderr);
});

test('no git on the PATH: one info line, no abi findings, no errors', { skip }, async (t) => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-nogit-'));
  t.after(() => fs.rmSync(empty, { recursive: true, force: true }));
  const client = await startClient(t, { env: { PATH: empty } });
  const uri = fileUri(fixture.path(FOO));
  await client.openDocument(uri, 'c', FOO_DIRTY, 1);
  assert.deepEqual(abiRules(await client.waitForDiagnostics(uri, (p) => p.version === 1)), []);
  await client.changeDocument(uri, 2, [{ text: `${FOO_DIRTY}\n` }]);
  assert.deepEqual(abiRules(await client.waitForDiagnostics(uri, (p) => p.version === 2)), []);
  const lines = logs(client, LOG_INFO).filter((m) => /git is not installed/.test(m));
  assert.equal(lines.length, 1, JSON.stringify(logs(client)));
  assertNoErrors(client);
});
