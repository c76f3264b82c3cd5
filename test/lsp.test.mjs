// The language server end to end (dist/server.js and `dist/cli.js lsp` over stdio, real JSON-RPC),
// plus unit tests of the pure modules server/src/formats/lsp.ts and server/src/config.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { fileUri, repoRoot, startLspClient, summarize } from './support/lsp-client.mjs';

const fixtureRoot = path.join(repoRoot, 'test', 'fixtures', 'lsp');
const headerPath = path.join(fixtureRoot, 'include', 'uapi', 'linux', 'vfio_lsp_demo.h');
const headerUri = fileUri(headerPath);
const headerText = readFileSync(headerPath, 'utf8');
const SETTINGS = { arches: ['x86_64', 'i386'], debounceMs: 100 };
const PADDING = 'uapi-implicit-padding';
const ARCH_DEP = 'uapi-arch-dependent-layout';
const NON_FIXED = 'uapi-non-fixed-type';

/** 0-based line of the first line containing `needle` (after line `from`), in `text`. */
function lineOf(text, needle, from = 0) {
  const lines = text.split('\n');
  for (let i = from; i < lines.length; i++) if (lines[i].includes(needle)) return i;
  throw new Error(`'${needle}' not in the text`);
}

/** Position of `needle` (+ `delta` characters) on the first line containing it. */
function positionOf(text, needle, delta = 0, from = 0) {
  const line = lineOf(text, needle, from);
  return { line, character: text.split('\n')[line].indexOf(needle) + delta };
}

/** Applies LSP content changes in order, as a client would to its buffer. */
function applyChanges(text, changes) {
  for (const c of changes) {
    if (!c.range) {
      text = c.text;
      continue;
    }
    const offset = (p) => {
      const lines = text.split('\n');
      let o = 0;
      for (let i = 0; i < p.line; i++) o += lines[i].length + 1;
      return o + p.character;
    };
    text = text.slice(0, offset(c.range.start)) + c.text + text.slice(offset(c.range.end));
  }
  return text;
}

const rulesOf = (p) => p.diagnostics.map((d) => d.code);
const hasRules = (...rules) => (p) => rules.every((r) => rulesOf(p).includes(r));

/** The lines of `struct <name> {` ... `};` in `text`. */
function structLines(text, name) {
  const start = lineOf(text, `struct ${name} {`);
  return { start, end: lineOf(text, '};', start) };
}

function hoverText(hover) {
  assert.ok(hover, 'expected a hover');
  assert.equal(hover.contents.kind, 'markdown');
  return hover.contents.value;
}

async function startClient(t, args, settings = SETTINGS) {
  const client = await startLspClient({ args, settings });
  t.after(() => client.close());
  const init = await client.initialize({ workspaceFolders: [fixtureRoot] });
  return { client, init };
}

const SERVER_ARGS = [path.join(repoRoot, 'dist', 'server.js'), '--stdio'];
const CLI_ARGS = [path.join(repoRoot, 'dist', 'cli.js'), 'lsp', '--stdio'];

/** The whole editing session, run against both entry points. */
async function editingSession(t, args) {
  const { client, init } = await startClient(t, args);
  assert.equal(init.capabilities.textDocumentSync.change, 2, 'incremental sync');
  assert.equal(init.capabilities.hoverProvider, true);
  assert.equal(init.serverInfo?.name, 'vfio-review');

  // VS Code and Neovim open headers as C++.
  await client.openDocument(headerUri, 'cpp', headerText, 1);
  const first = await client.waitForDiagnostics(headerUri, (p) => p.version === 1 && hasRules(PADDING, ARCH_DEP, NON_FIXED)(p));

  const region = structLines(headerText, 'vfio_demo_region');
  const irq = structLines(headerText, 'vfio_demo_irq_set');
  const clean = structLines(headerText, 'vfio_demo_clean');
  for (const d of first.diagnostics) {
    assert.equal(d.source, 'vfio-review');
    assert.ok(d.codeDescription.href.endsWith(`/${d.code}.md`), d.codeDescription.href);
    assert.ok(
      d.range.start.line < clean.start || d.range.start.line > clean.end,
      `nothing to report in struct vfio_demo_clean: ${JSON.stringify(summarize(first))}`,
    );
  }
  const byRule = (p, rule) => p.diagnostics.filter((d) => d.code === rule);
  const identifierRange = (needle, name) => {
    const at = positionOf(headerText, needle, needle.indexOf(name));
    return { start: at, end: { line: at.line, character: at.character + name.length } };
  };
  // The hole and the ABI difference are reported on the member that moves: `offset`.
  const offsetRange = identifierRange('\t__u64\toffset;', 'offset');
  assert.deepEqual(byRule(first, PADDING).map((d) => d.range), [offsetRange], JSON.stringify(summarize(first)));
  assert.ok(byRule(first, ARCH_DEP).some((d) => JSON.stringify(d.range) === JSON.stringify(offsetRange)), JSON.stringify(summarize(first)));
  for (const d of byRule(first, ARCH_DEP)) {
    assert.ok(d.range.start.line >= region.start && d.range.start.line <= region.end, `${d.code} inside vfio_demo_region: line ${d.range.start.line}`);
  }
  const countRange = identifierRange('\tint\tcount;', 'count');
  assert.deepEqual(byRule(first, NON_FIXED).map((d) => d.range), [countRange], JSON.stringify(summarize(first)));
  assert.ok(countRange.start.line > irq.start && countRange.start.line < irq.end);

  // Hover on a member: its offset and size per ABI, over the member's name.
  const row = (abi, ...cells) => new RegExp(`\\|\\s*${abi}\\s*\\|\\s*${cells.join('\\s*\\|\\s*')}\\s*\\|`);
  const offsetHoverResult = await client.hover(headerUri, positionOf(headerText, 'offset;', 2));
  assert.deepEqual(offsetHoverResult?.range, offsetRange);
  const offsetHover = hoverText(offsetHoverResult);
  assert.match(offsetHover, /`offset`/);
  assert.match(offsetHover, row('x86_64', 8, 8), 'offset 8, size 8 on x86_64');
  assert.match(offsetHover, row('i386', 4, 8), 'offset 4, size 8 on i386');
  const countHover = hoverText(await client.hover(headerUri, positionOf(headerText, 'count;', 1)));
  assert.match(countHover, /`count`/);
  assert.match(countHover, row('x86_64, i386', 8, 4), 'count: offset 8, size 4 on both');

  // Hover on something that is not an identifier.
  assert.equal(await client.hover(headerUri, positionOf(headerText, 'struct vfio_demo_region {', 'struct vfio_demo_region '.length)), null);
  assert.equal(await client.hover(headerUri, positionOf(headerText, '\t__u64\toffset;')), null, 'leading whitespace');

  // Fix both structs with two incremental edits in one notification; the second range is in
  // the coordinates left by the first (one line further down).
  const padAt = positionOf(headerText, '\t__u64\toffset;');
  const intAt = positionOf(headerText, 'int\tcount;');
  const fix = [
    { range: { start: padAt, end: padAt }, text: '\t__u32\tpad;\n' },
    { range: { start: { line: intAt.line + 1, character: intAt.character }, end: { line: intAt.line + 1, character: intAt.character + 3 } }, text: '__s32' },
  ];
  const fixed = applyChanges(headerText, fix);
  assert.match(fixed, /__u32\tpad;\n\t__u64\toffset;/);
  assert.match(fixed, /\t__s32\tcount;/);
  await client.changeDocument(headerUri, 2, fix);
  const second = await client.waitForDiagnostics(headerUri, (p) => p.version === 2);
  assert.deepEqual(rulesOf(second), [], JSON.stringify(summarize(second)));

  // The engine saw the same text as the client: hovers land on the moved members.
  const countHover2 = hoverText(await client.hover(headerUri, positionOf(fixed, 'count;', 1)));
  assert.match(countHover2, /`count`/);
  assert.match(countHover2, /__s32/);
  const padHover = hoverText(await client.hover(headerUri, positionOf(fixed, 'pad;', 1, structLines(fixed, 'vfio_demo_region').start)));
  assert.match(padHover, /`pad`/);
  assert.match(padHover, row('x86_64, i386', 4, 4), 'pad: offset 4, size 4 on both');
  const offsetHover2 = hoverText(await client.hover(headerUri, positionOf(fixed, 'offset;', 2)));
  assert.match(offsetHover2, row('x86_64', 8, 8), 'offset: 8 on x86_64');
  assert.match(offsetHover2, row('i386', 8, 8), 'offset: 8 on i386 too once padded');

  // A newer version supersedes an older one before its debounce ends: v3 must never be published.
  const countAt = positionOf(fixed, '__s32\tcount;');
  const to = (n) => ({ line: countAt.line, character: countAt.character + n });
  await client.changeDocument(headerUri, 3, [{ range: { start: to(0), end: to(5) }, text: 'long' }]);
  await client.changeDocument(headerUri, 4, [{ range: { start: to(0), end: to(4) }, text: 'int' }]);
  const fourth = await client.waitForDiagnostics(headerUri, (p) => p.version === 4);
  assert.deepEqual(rulesOf(fourth), [NON_FIXED], JSON.stringify(summarize(fourth)));
  assert.equal(fourth.diagnostics[0].range.start.line, countAt.line);
  assert.deepEqual(
    client.diagnosticsFor(headerUri).filter((p) => p.version === 3),
    [],
    'diagnostics of the superseded version 3 were published',
  );

  // Closing clears the document's diagnostics.
  await client.closeDocument(headerUri);
  await client.waitForDiagnostics(headerUri, (p) => p.diagnostics.length === 0 && p.version === undefined);

  const status = await client.close();
  assert.deepEqual({ code: status.code, signal: status.signal }, { code: 0, signal: null }, client.stderr);
}

function requireBuild() {
  const server = path.join(repoRoot, 'dist', 'server.js');
  assert.ok(existsSync(server), 'dist/server.js is missing: run `npm run build` first');
}

test('server over stdio: diagnostics, hovers, incremental edits, superseded versions, close', async (t) => {
  requireBuild();
  await editingSession(t, SERVER_ARGS);
});

test('`vfio-review lsp --stdio` serves the same session', async (t) => {
  const cli = path.join(repoRoot, 'dist', 'cli.js');
  const help = existsSync(cli) ? spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8', timeout: 10_000 }) : undefined;
  if (!help || !/\blsp\b/.test(`${help.stdout}${help.stderr}`)) {
    t.skip('dist/cli.js has no `lsp` command yet');
    return;
  }
  await editingSession(t, CLI_ARGS);
});

test('documents are chosen by extension or C language id; others are ignored', async (t) => {
  requireBuild();
  const { client } = await startClient(t, SERVER_ARGS);
  const c = 'struct vfio_demo_x {\n\tint\tcount;\n};\n';
  const txtUri = fileUri(path.join(fixtureRoot, 'include', 'uapi', 'linux', 'notes.txt'));
  const cppUri = fileUri(path.join(fixtureRoot, 'include', 'uapi', 'linux', 'demo.cpp'));
  const untitledUri = 'untitled:Untitled-1';
  await client.openDocument(txtUri, 'plaintext', c);
  await client.openDocument(cppUri, 'cpp', c);
  await client.openDocument(untitledUri, 'c', c);
  // Opened last, so its debounce ends last: once it is published, the others would have been.
  await client.openDocument(headerUri, 'cpp', headerText);
  await client.waitForDiagnostics(headerUri, hasRules(NON_FIXED));
  for (const uri of [txtUri, cppUri, untitledUri]) {
    assert.deepEqual(client.diagnosticsFor(uri), [], `${uri} must be ignored`);
    assert.equal(await client.hover(uri, { line: 1, character: 6 }), null);
  }
});

test('settings: severities and arches apply at run time; bad values are reported once', async (t) => {
  requireBuild();
  const { client } = await startClient(t, SERVER_ARGS);
  await client.openDocument(headerUri, 'c', headerText);
  const first = await client.waitForDiagnostics(headerUri, hasRules(PADDING, ARCH_DEP, NON_FIXED));
  const nonFixed = first.diagnostics.find((d) => d.code === NON_FIXED);
  assert.notEqual(nonFixed.severity, 1, 'default severity of uapi-non-fixed-type is not error');

  // Per-rule severity, pulled again on didChangeConfiguration.
  client.setSettings({ ...SETTINGS, severities: { [NON_FIXED]: 'error', [PADDING]: 'off' } });
  await client.notify('workspace/didChangeConfiguration', { settings: null });
  const second = await client.waitForDiagnostics(headerUri, (p) => !rulesOf(p).includes(PADDING));
  assert.equal(second.diagnostics.find((d) => d.code === NON_FIXED)?.severity, 1, JSON.stringify(second.diagnostics));
  assert.ok(rulesOf(second).includes(ARCH_DEP));

  // One ABI: nothing to compare. 'vax' and the string debounce are reported and ignored.
  client.setSettings({ arches: ['x86_64', 'vax'], debounceMs: 'soon' });
  await client.notify('workspace/didChangeConfiguration', { settings: null });
  const third = await client.waitForDiagnostics(headerUri, (p) => !rulesOf(p).includes(ARCH_DEP));
  assert.ok(rulesOf(third).includes(PADDING), 'x86_64 still has the hole');
  // The same bad settings again: no second warning.
  await client.notify('workspace/didChangeConfiguration', { settings: null });
  await client.changeDocument(headerUri, 2, [{ text: headerText + '\n' }]);
  await client.waitForDiagnostics(headerUri, (p) => p.version === 2);
  const warnings = client.notifications.filter((n) => n.method === 'window/showMessage' && n.params.type === 2);
  assert.equal(warnings.filter((n) => n.params.message.includes("'vax'")).length, 1, JSON.stringify(warnings));
  assert.equal(warnings.filter((n) => n.params.message.includes('debounceMs')).length, 1, JSON.stringify(warnings));
  assert.ok(client.notifications.some((n) => n.method === 'window/logMessage' && n.params.message.includes("'vax'")));
});

test('settings pushed without workspace/configuration support (initializationOptions + didChangeConfiguration)', async (t) => {
  requireBuild();
  const client = await startLspClient({ args: SERVER_ARGS });
  t.after(() => client.close());
  await client.initialize({
    workspaceFolders: [fixtureRoot],
    initializationOptions: { vfioReview: { arches: ['x86_64'], debounceMs: 50 } },
    capabilities: { workspace: { configuration: false } },
  });
  await client.openDocument(headerUri, 'c', headerText);
  const first = await client.waitForDiagnostics(headerUri, hasRules(PADDING, NON_FIXED));
  assert.ok(!rulesOf(first).includes(ARCH_DEP), 'one ABI from initializationOptions');
  assert.ok(!client.serverRequests.some((r) => r.method === 'workspace/configuration'));
  await client.notify('workspace/didChangeConfiguration', { settings: { vfioReview: { arches: ['x86_64', 'i386'] } } });
  await client.waitForDiagnostics(headerUri, hasRules(ARCH_DEP));
});

// --- pure modules, bundled on the fly (they are not entry points of their own) -----------------

async function loadModule(t, entry) {
  // Bundled to <tmp>/dist/, so __dirname-relative paths behave as in the real dist/.
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-lsp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const outfile = path.join(dir, 'dist', `${path.basename(entry, '.ts')}.cjs`);
  await build({ entryPoints: [path.join(repoRoot, entry)], outfile, bundle: true, platform: 'node', format: 'cjs', logLevel: 'silent' });
  return { mod: createRequire(import.meta.url)(outfile), dir };
}

test('formats/lsp: findings and hovers to LSP', async (t) => {
  const { mod: lsp, dir } = await loadModule(t, 'server/src/formats/lsp.ts');

  assert.deepEqual(['error', 'warning', 'info', 'hint'].map(lsp.toLspSeverity), [1, 2, 3, 4]);

  const finding = {
    file: '/k/include/uapi/linux/vfio.h',
    range: { start: { line: 12, character: 1 }, end: { line: 12, character: 14 } },
    severity: 'warning',
    rule: 'uapi-implicit-padding',
    message: '4 bytes of padding before offset',
    related: [{ file: '/k/include/uapi/linux/my types.h', range: { start: { line: 3, character: 0 }, end: { line: 3, character: 5 } }, message: 'declared here' }],
  };
  const d = lsp.findingToDiagnostic(finding, { docsBase: 'file:///ext/docs/rules/' });
  assert.deepEqual(d, {
    range: finding.range,
    severity: 2,
    source: 'vfio-review',
    code: 'uapi-implicit-padding',
    codeDescription: { href: 'file:///ext/docs/rules/uapi-implicit-padding.md' },
    message: '4 bytes of padding before offset',
    relatedInformation: [
      { location: { uri: 'file:///k/include/uapi/linux/my%20types.h', range: finding.related[0].range }, message: 'declared here' },
    ],
  });

  const plain = lsp.findingToDiagnostic({ ...finding, related: [], severity: 'error' }, { docsBase: 'https://example.org/rules' });
  assert.equal(plain.severity, 1);
  assert.equal(plain.codeDescription.href, 'https://example.org/rules/uapi-implicit-padding.md');
  assert.equal('relatedInformation' in plain, false);

  const mapped = lsp.findingsToDiagnostics([finding], { uriForPath: (p) => `test:${p}` });
  assert.equal(mapped[0].relatedInformation[0].location.uri, 'test:/k/include/uapi/linux/my types.h');
  // Default docs: docs/rules next to the bundle's folder.
  const docs = pathToFileURL(path.join(dir, 'docs', 'rules')).href;
  assert.equal(lsp.defaultDocsBase(), docs);
  assert.equal(mapped[0].codeDescription.href, `${docs}/uapi-implicit-padding.md`);

  assert.equal(lsp.hoverToLsp(null), null);
  const range = { start: { line: 1, character: 2 }, end: { line: 1, character: 8 } };
  assert.deepEqual(lsp.hoverToLsp({ contents: '**offset** 8', range }), { contents: { kind: 'markdown', value: '**offset** 8' }, range });

  assert.equal(lsp.uriToPath('untitled:Untitled-1'), undefined);
  assert.equal(lsp.uriToPath('file:///k/a%20b.h'), '/k/a b.h');
  assert.equal(lsp.uriToPath(lsp.pathToUri('/k/x#y.h')), '/k/x#y.h');
});

test('config: defaults, validation, reported errors', async (t) => {
  const { mod: config } = await loadModule(t, 'server/src/config.ts');
  const ctx = { abis: ['x86_64', 'i386', 'arm64'], rules: [NON_FIXED, PADDING], workspaceFolder: '/ws' };

  assert.deepEqual(config.validateSettings(undefined, ctx), { options: { engine: {}, debounceMs: 150 }, errors: [] });

  const good = config.validateSettings(
    {
      arches: ['i386', 'x86_64', 'i386'],
      includePaths: ['extra/include'],
      uapiGlobs: [],
      severities: { [NON_FIXED]: 'off', [PADDING]: 'error' },
      root: 'linux',
      debounceMs: 20.4,
      trace: { server: 'off' },
    },
    ctx,
  );
  assert.deepEqual(good.errors, []);
  assert.deepEqual(good.options, {
    engine: { arches: ['i386', 'x86_64'], includePaths: ['extra/include'], severities: { [NON_FIXED]: 'off', [PADDING]: 'error' }, root: '/ws/linux' },
    debounceMs: 20,
  });

  const bad = config.validateSettings(
    { arches: ['vax', 'arm64'], includePaths: 'include', severities: { nope: 'off', [PADDING]: 'loud' }, root: 7, debounceMs: -1, colour: 'blue' },
    ctx,
  );
  assert.deepEqual(bad.options, { engine: { arches: ['arm64'] }, debounceMs: 150 });
  const expect = ["'vax'", 'includePaths', 'severities.nope', 'severities.uapi-implicit-padding', 'root', 'debounceMs', 'colour'];
  for (const e of expect) assert.ok(bad.errors.some((m) => m.includes(e)), `an error about ${e}: ${JSON.stringify(bad.errors)}`);
  assert.equal(bad.errors.length, expect.length, JSON.stringify(bad.errors));

  assert.deepEqual(config.validateSettings({ root: 'rel' }, { abis: [] }).options.engine, {});
  assert.equal(config.validateSettings({ root: 'rel' }, { abis: [] }).errors.length, 1);
  assert.equal(config.validateSettings({ root: '/abs/../k/' }, { abis: [] }).options.engine.root, path.normalize('/k/'));
  assert.equal(config.validateSettings('x86_64', ctx).errors.length, 1);
  assert.equal(config.validateSettings({ arches: [] }, ctx).errors.length, 1);
});

// --- the server against a scripted engine --------------------------------------------------------
// server-main.ts bundled with './engine' replaced by the fake below, so the LSP glue (overlay
// sync, debounce, stale results, failure handling) is tested apart from the real analysis.

const FAKE_ENGINE = `
import { readFileSync } from 'node:fs';
export const ALL_ABIS = ['x86_64', 'i386'];
export const RULES = [{ id: 'fake-int', defaultSeverity: 'warning', summary: 'an int' }];
export class UsageError extends Error { name = 'UsageError'; }
export async function createEngine(options) {
  if (options.root === '/engine-fails') throw new Error('fake engine cannot start');
  return new FakeEngine(options);
}
function offsetAt(text, p) {
  const lines = text.split('\\n');
  let o = 0;
  for (let i = 0; i < p.line; i++) o += lines[i].length + 1;
  return o + p.character;
}
class FakeEngine {
  constructor(options) { this.options = options; this.docs = new Map(); }
  configure(o) { this.options = { ...this.options, ...o }; }
  openDocument(p, text) { this.docs.set(p, text); }
  changeDocument(p, changes) {
    let t = this.docs.get(p);
    if (t === undefined) throw new Error('change before open');
    for (const c of changes) t = c.range ? t.slice(0, offsetAt(t, c.range.start)) + c.text + t.slice(offsetAt(t, c.range.end)) : c.text;
    this.docs.set(p, t);
  }
  closeDocument(p) { this.docs.delete(p); }
  text(p) { return this.docs.get(p) ?? readFileSync(p, 'utf8'); }
  check(p) {
    const text = this.text(p);
    if (text.includes('CHECK_THROWS')) throw new Error('fake check failure');
    if (text.includes('USAGE_ERROR')) throw new UsageError('no kernel tree above ' + p);
    const severity = this.options.severities?.['fake-int'] ?? 'warning';
    if (severity === 'off') return [];
    const findings = [];
    text.split('\\n').forEach((line, i) => {
      const c = line.search(/\\bint\\b/);
      if (c >= 0) findings.push({ file: p, range: { start: { line: i, character: c }, end: { line: i, character: c + 3 } }, severity, rule: 'fake-int', message: 'an int' });
    });
    findings.push({ file: p + '.elsewhere', range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } }, severity, rule: 'fake-int', message: 'another file' });
    return findings;
  }
  hover(p, pos) {
    const text = this.text(p);
    const line = text.split('\\n')[pos.line] ?? '';
    if (line.includes('HOVER_THROWS')) throw new Error('fake hover failure');
    let s = pos.character, e = pos.character;
    while (s > 0 && /\\w/.test(line[s - 1])) s--;
    while (e < line.length && /\\w/.test(line[e])) e++;
    if (s === e) return null;
    return { contents: line.slice(s, e) + '\\n---\\n' + text, range: { start: { line: pos.line, character: s }, end: { line: pos.line, character: e } } };
  }
  dispose() {}
}
`;

async function buildFakeServer(t) {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-fake-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const outfile = path.join(dir, 'dist', 'server.js');
  const fakeEngine = {
    name: 'fake-engine',
    setup(b) {
      b.onResolve({ filter: /^\.\/engine$/ }, (args) =>
        args.importer.endsWith(path.join('server', 'src', 'server.ts')) ? { path: 'fake-engine', namespace: 'fake' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'fake' }, () => ({ contents: FAKE_ENGINE, loader: 'js', resolveDir: repoRoot }));
    },
  };
  await build({
    entryPoints: [path.join(repoRoot, 'server', 'src', 'server-main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    logLevel: 'silent',
    plugins: [fakeEngine],
  });
  return outfile;
}

/** A deterministic pseudo-random sequence (tests must be reproducible). */
function lcg(seed) {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

function positionAt(text, offset) {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length - 1, character: before.at(-1).length };
}

test('fake engine: the overlay follows incremental edits exactly (multi-line, deletions, UTF-16)', async (t) => {
  const server = await buildFakeServer(t);
  const { client } = await startClient(t, [server, '--stdio'], { debounceMs: 200 });
  await client.waitForNotification('vfioReview/status', (p) => p.state === 'ready');
  const uri = fileUri(path.join(fixtureRoot, 'drivers', 'demo.c'));
  let text = 'int main(void)\n{\n\treturn 0;\n}\n';
  await client.openDocument(uri, 'c', text, 1);
  const rand = lcg(7);
  const pieces = ['x', 'int ', '\n', '\t/* é */', '😀', 'a\nb\nc', ''];
  let version = 1;
  for (let batch = 0; batch < 12; batch++) {
    const changes = [];
    for (let k = 0; k < 3; k++) {
      const a = rand(text.length + 1);
      const b = Math.min(text.length, a + rand(6));
      // Never split a surrogate pair: editors do not either.
      if (/[\uDC00-\uDFFF]/.test(text[a] ?? '') || /[\uDC00-\uDFFF]/.test(text[b] ?? '')) continue;
      const change = { range: { start: positionAt(text, a), end: positionAt(text, b) }, text: pieces[rand(pieces.length)] };
      text = applyChanges(text, [change]);
      changes.push(change);
    }
    await client.changeDocument(uri, ++version, changes);
  }
  text = applyChanges(text, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'probe ' }]);
  await client.changeDocument(uri, ++version, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'probe ' }]);
  const hover = hoverText(await client.hover(uri, { line: 0, character: 1 }));
  assert.equal(hover, `probe\n---\n${text}`);
  // Diagnostics describe the final version only, and only this file.
  const last = await client.waitForDiagnostics(uri, (p) => p.version === version);
  const expected = text.split('\n').filter((l) => /\bint\b/.test(l)).length;
  assert.equal(last.diagnostics.length, expected, JSON.stringify(summarize(last)));
  assert.ok(client.notifications.every((n) => n.method !== 'textDocument/publishDiagnostics' || !n.params.uri.endsWith('.elsewhere')));
  // The edits came back to back: every intermediate version was superseded within the debounce.
  const published = client.diagnosticsFor(uri).map((p) => p.version);
  assert.ok(published.every((v) => v === 1 || v === version), `published versions ${published}`);
});

test('fake engine: exceptions become log lines and empty results; the server keeps serving', async (t) => {
  const server = await buildFakeServer(t);
  const { client } = await startClient(t, [server, '--stdio'], { debounceMs: 10 });
  const uri = fileUri(path.join(fixtureRoot, 'drivers', 'demo.c'));
  await client.openDocument(uri, 'c', 'int a; /* CHECK_THROWS */\n// HOVER_THROWS here\n', 1);
  const failed = await client.waitForDiagnostics(uri, (p) => p.version === 1);
  assert.deepEqual(failed.diagnostics, []);
  await client.waitForNotification('window/logMessage', (p) => p.type === 1 && p.message.includes('fake check failure'));
  assert.equal(await client.hover(uri, { line: 1, character: 4 }), null);
  await client.waitForNotification('window/logMessage', (p) => p.type === 1 && p.message.includes('fake hover failure'));

  await client.changeDocument(uri, 2, [{ text: 'int a;\nint b;\n' }]);
  const ok = await client.waitForDiagnostics(uri, (p) => p.version === 2);
  assert.deepEqual(ok.diagnostics.map((d) => d.range.start.line), [0, 1]);

  // A usage problem (no kernel tree) is a warning, said once however often it happens.
  for (let v = 3; v <= 5; v++) {
    await client.changeDocument(uri, v, [{ text: `/* USAGE_ERROR ${v} */\n` }]);
    await client.waitForDiagnostics(uri, (p) => p.version === v);
  }
  const usage = client.notifications.filter((n) => n.method === 'window/logMessage' && n.params.message.includes('no kernel tree'));
  assert.equal(usage.length, 1, JSON.stringify(usage));
  assert.equal(usage[0].params.type, 2);
  assert.equal((await client.close()).code, 0);
});

test('fake engine: an engine that does not start is reported; requests still answer', async (t) => {
  const server = await buildFakeServer(t);
  const { client } = await startClient(t, [server, '--stdio'], { root: '/engine-fails' });
  const status = await client.waitForNotification('vfioReview/status', (p) => p.state === 'error');
  assert.match(status.message, /fake engine cannot start/);
  const uri = fileUri(path.join(fixtureRoot, 'drivers', 'demo.c'));
  await client.openDocument(uri, 'c', 'int a;\n', 1);
  assert.equal(await client.hover(uri, { line: 0, character: 1 }), null);
  assert.equal((await client.close()).code, 0);
});

test('package.json documents every setting, with the engine\'s ABI names', async (t) => {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  const props = pkg.contributes.configuration.properties;
  for (const key of ['arches', 'includePaths', 'uapiGlobs', 'severities', 'root', 'debounceMs']) {
    const p = props[`vfioReview.${key}`];
    assert.ok(p, `vfioReview.${key} is contributed`);
    assert.ok(p.description || p.markdownDescription, `vfioReview.${key} has a description`);
    assert.ok('default' in p, `vfioReview.${key} has a default`);
  }
  const { mod: config } = await loadModule(t, 'server/src/config.ts');
  const engine = createRequire(import.meta.url)(path.join(repoRoot, 'dist', 'engine.js'));
  assert.deepEqual(props['vfioReview.arches'].items.enum, engine.ALL_ABIS);
  assert.deepEqual(props['vfioReview.arches'].default, engine.ALL_ABIS);
  assert.deepEqual(props['vfioReview.severities'].additionalProperties.enum, config.SEVERITY_SETTINGS);
  assert.equal(props['vfioReview.debounceMs'].default, config.DEFAULT_DEBOUNCE_MS);
  // The defaults VS Code sends back must validate cleanly.
  const defaults = Object.fromEntries(
    Object.entries(props)
      .filter(([k]) => !k.startsWith('vfioReview.trace.'))
      .map(([k, v]) => [k.slice('vfioReview.'.length), v.default]),
  );
  const checked = config.validateSettings({ ...defaults, trace: { server: 'off' } }, { abis: engine.ALL_ABIS, rules: engine.RULES.map((r) => r.id) });
  assert.deepEqual(checked.errors, []);
  assert.deepEqual(pkg.activationEvents, ['onLanguage:c', 'onLanguage:cpp', 'workspaceContains:**/include/uapi/**', 'onLanguage:vfio-patch']);
  const commands = pkg.contributes.commands.map((c) => c.command).sort();
  assert.deepEqual(commands, ['vfioReview.compareWithBase', 'vfioReview.draftReply', 'vfioReview.restartServer', 'vfioReview.reviewPatchFile', 'vfioReview.showLayout', 'vfioReview.showOutput']);
});
