// End-to-end tests of `node dist/cli.js` on a miniature kernel tree (test/fixtures/cli/linux),
// copied into a temporary directory together with what must not be committed: a binary file,
// an oversized header, a dangling link, a link out of the tree and a .git directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import Ajv04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';

const require = createRequire(import.meta.url);
const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const cliPath = path.join(repo, 'dist', 'cli.js');
const fixture = path.join(repo, 'test', 'fixtures', 'cli', 'linux');

let temp; // holds linux/ (the tree) and outside/ (what a link points to)
let tree;

function listTree(dir) {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((entry) => path.relative(dir, path.join(entry.parentPath ?? entry.path, entry.name)))
    .sort();
}
let treeBefore;

before(() => {
  temp = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-cli-'));
  tree = path.join(temp, 'linux');
  fs.cpSync(fixture, tree, { recursive: true });
  const vfio = path.join(tree, 'drivers', 'vfio');
  fs.writeFileSync(path.join(vfio, 'blob.c'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2]));
  fs.writeFileSync(path.join(vfio, 'huge.h'), Buffer.alloc(9 * 1024 * 1024, 0x20));
  fs.symlinkSync('does-not-exist.c', path.join(vfio, 'dangling.c'));
  fs.mkdirSync(path.join(tree, '.git'));
  fs.writeFileSync(path.join(tree, '.git', 'hidden.h'), 'struct in_git { int x; };\n');
  fs.mkdirSync(path.join(temp, 'outside'));
  fs.writeFileSync(path.join(temp, 'outside', 'escape.h'), 'struct escaped { int x; };\n');
  fs.symlinkSync(path.join(temp, 'outside'), path.join(tree, 'linked-outside'));
  fs.symlinkSync(path.join(temp, 'outside', 'escape.h'), path.join(vfio, 'escape.h'));
  treeBefore = listTree(temp);
});

after(() => {
  // The runs must not have left anything in the tree.
  assert.deepEqual(listTree(temp), treeBefore);
  fs.rmSync(temp, { recursive: true, force: true });
});

function run(args, cwd = tree) {
  const result = spawnSync(process.execPath, [cliPath, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const UAPI = 'include/uapi/linux/vfio_cli.h';

test('check, text: gcc-style lines for every uapi rule; exit 1 on errors', () => {
  const { code, stdout, stderr } = run(['check', UAPI]);
  assert.equal(code, 1, stderr);
  assert.equal(stderr, '');
  assert.match(stdout, new RegExp(`^${UAPI}:11:8: warning: .*vfio_cli_padded.* \\[uapi-implicit-padding\\]$`, 'm'));
  assert.match(stdout, new RegExp(`^${UAPI}:15:8: error: .*vfio_cli_arch.* \\[uapi-arch-dependent-layout\\]$`, 'm'));
  assert.match(stdout, new RegExp(`^${UAPI}:17:8: error: .*'b'.* \\[uapi-arch-dependent-layout\\]$`, 'm'));
  assert.match(stdout, new RegExp(`^${UAPI}:23:6: warning: .*'count'.* \\[uapi-non-fixed-type\\]$`, 'm'));
  assert.doesNotMatch(stdout, /vfio_cli_clean/);
});

test('check --fail-on: warning, error (default) and never', () => {
  // With one ABI nothing can differ between ABIs: only warnings remain.
  assert.equal(run(['check', UAPI, '--arch', 'x86_64']).code, 0);
  assert.equal(run(['check', UAPI, '--arch', 'x86_64', '--fail-on', 'error']).code, 0);
  assert.equal(run(['check', UAPI, '--arch', 'x86_64', '--fail-on', 'warning']).code, 1);
  assert.equal(run(['check', UAPI, '--fail-on', 'never']).code, 0);
  const clean = run(['check', 'drivers/vfio/clean.c', '--fail-on', 'warning']);
  assert.equal(clean.code, 0);
  assert.equal(clean.stdout, '');
});

test('check, json: the version 1 contract with 1-based positions and cwd-relative files', () => {
  const { code, stdout } = run(['check', UAPI, '--format', 'json']);
  assert.equal(code, 1);
  const doc = JSON.parse(stdout);
  assert.equal(doc.version, 1);
  const member = doc.findings.find((f) => f.rule === 'uapi-arch-dependent-layout' && f.line === 17);
  assert.deepEqual(
    { ...member, message: undefined },
    { file: UAPI, line: 17, column: 8, endLine: 17, endColumn: 9, severity: 'error', rule: 'uapi-arch-dependent-layout', message: undefined, related: member.related },
  );
  assert.ok(Array.isArray(member.related));
  for (const finding of doc.findings) {
    assert.deepEqual(Object.keys(finding), ['file', 'line', 'column', 'endLine', 'endColumn', 'severity', 'rule', 'message', 'related']);
  }
  assert.deepEqual(
    [...new Set(doc.findings.map((f) => f.rule))].sort(),
    ['uapi-arch-dependent-layout', 'uapi-implicit-padding', 'uapi-non-fixed-type'],
  );
});

test('check from another directory: paths relative to the cwd, root discovered from the path', () => {
  const { code, stdout } = run(['check', path.join('linux', UAPI), '--format', 'json'], temp);
  assert.equal(code, 1);
  const doc = JSON.parse(stdout);
  assert.ok(doc.findings.length >= 4);
  for (const finding of doc.findings) assert.equal(finding.file, `linux/${UAPI}`);
});

test('check, sarif: valid SARIF 2.1.0 with rules and %SRCROOT%-relative locations', () => {
  const { code, stdout } = run(['check', '--format', 'sarif']);
  assert.equal(code, 1);
  const log = JSON.parse(stdout);
  const schema = JSON.parse(fs.readFileSync(require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8'));
  const ajv = new Ajv04({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  assert.ok(validate(log), JSON.stringify(validate.errors, null, 2));
  const [run0] = log.runs;
  assert.equal(run0.tool.driver.name, 'vfio-review');
  const ruleIds = run0.tool.driver.rules.map((r) => r.id);
  for (const id of ['uapi-arch-dependent-layout', 'uapi-implicit-padding', 'uapi-non-fixed-type', 'input-skipped']) assert.ok(ruleIds.includes(id), id);
  for (const rule of run0.tool.driver.rules) {
    assert.ok(rule.shortDescription.text);
    assert.match(rule.helpUri, new RegExp(`/${rule.id}\\.md$`));
    assert.ok(['error', 'warning', 'note', 'none'].includes(rule.defaultConfiguration.level));
  }
  const result = run0.results.find((r) => r.ruleId === 'uapi-arch-dependent-layout' && r.locations[0].physicalLocation.region.startLine === 17);
  assert.equal(result.level, 'error');
  assert.deepEqual(result.locations[0].physicalLocation.artifactLocation, { uri: UAPI, uriBaseId: '%SRCROOT%' });
  assert.equal(result.locations[0].physicalLocation.region.startColumn, 8);
  assert.equal(run0.tool.driver.rules[result.ruleIndex].id, result.ruleId);
});

test('check, github: workflow commands', () => {
  const { code, stdout } = run(['check', UAPI, '--format', 'github']);
  assert.equal(code, 1);
  const lines = stdout.trimEnd().split('\n');
  assert.ok(lines.length >= 4);
  for (const line of lines) assert.match(line, /^::(error|warning|notice) file=[^,]+,line=\d+,col=\d+,endLine=\d+,endColumn=\d+,title=[a-z-]+::\S/);
  assert.ok(lines.some((l) => l.startsWith(`::error file=${UAPI},line=17,col=8,endLine=17,endColumn=9,title=uapi-arch-dependent-layout::`)));
});

test('check walks directories: skipped inputs are reported as info findings, never fatal', () => {
  const { code, stdout, stderr } = run(['check', 'drivers', '--format', 'json', '--fail-on', 'warning']);
  assert.equal(stderr, '');
  assert.equal(code, 0, stdout);
  const doc = JSON.parse(stdout);
  const skipped = Object.fromEntries(doc.findings.filter((f) => f.rule === 'input-skipped').map((f) => [f.file, f]));
  assert.deepEqual(Object.keys(skipped).sort(), ['drivers/vfio/blob.c', 'drivers/vfio/dangling.c', 'drivers/vfio/huge.h']);
  assert.match(skipped['drivers/vfio/blob.c'].message, /binary/);
  assert.match(skipped['drivers/vfio/huge.h'].message, /too large/);
  assert.match(skipped['drivers/vfio/dangling.c'].message, /unreadable/);
  for (const finding of Object.values(skipped)) {
    assert.equal(finding.severity, 'info');
    assert.equal(finding.line, 1);
  }
  // broken.c is analysed (its unparsable region is a finding of its own); the link out of the
  // tree is not followed.
  assert.ok(doc.findings.some((f) => f.file === 'drivers/vfio/broken.c'));
  assert.ok(!doc.findings.some((f) => f.file.includes('escape')));
});

test('check on the whole tree skips .git and links out of the tree', () => {
  const { code, stdout } = run(['check', '--format', 'json', '--fail-on', 'never']);
  assert.equal(code, 0);
  const files = new Set(JSON.parse(stdout).findings.map((f) => f.file));
  assert.ok(files.has(UAPI));
  for (const file of files) assert.doesNotMatch(file, /^\.git\/|linked-outside|escape/);
});

test('layout, text: offsets and sizes as gcc lays them out on x86_64 and i386', () => {
  const { code, stdout, stderr } = run(['layout', UAPI, 'vfio_cli_arch', '--arch', 'x86_64,i386']);
  assert.equal(code, 0, stderr);
  const [, x86, i386] = stdout.split('/* arch: ');
  assert.match(x86, /^x86_64 \*\//);
  assert.match(x86, /struct vfio_cli_arch \{/);
  assert.match(x86, /__u32 +a; +\/\* +0 +4 \*\//);
  assert.match(x86, /XXX 4 bytes hole, try to pack/);
  assert.match(x86, /__u64 +b; +\/\* +8 +8 \*\//);
  assert.match(x86, /size: 16, align: 8, members: 2, holes: 1, sum holes: 4, padding: 0/);
  assert.match(x86, /differs: x86_64 offset 8, i386 offset 4/);
  assert.match(i386, /^i386 \*\//);
  assert.match(i386, /__u64 +b; +\/\* +4 +8 \*\//);
  assert.match(i386, /size: 12, align: 4, members: 2, holes: 0, sum holes: 0, padding: 0/);
  assert.match(i386, /differs: x86_64 size 16, i386 size 12/);
});

test('layout, json: the version 1 contract', () => {
  const { code, stdout, stderr } = run(['layout', UAPI, 'struct vfio_cli_arch', 'vfio_cli_padded', '--arch', 'x86_64', '--arch', 'i386', '--format', 'json']);
  assert.equal(code, 0, stderr);
  const doc = JSON.parse(stdout);
  assert.equal(doc.version, 1);
  assert.deepEqual(Object.keys(doc.arches).sort(), ['i386', 'x86_64']);
  const find = (arch, name) => doc.arches[arch].types.find((t) => t.name === name);
  assert.deepEqual(find('x86_64', 'struct vfio_cli_arch'), {
    name: 'struct vfio_cli_arch',
    kind: 'struct',
    file: UAPI,
    line: 15,
    size: 16,
    align: 8,
    members: [
      { path: 'a', type: '__u32', offset: 0, size: 4 },
      { path: 'b', type: '__u64', offset: 8, size: 8 },
    ],
    holes: [{ offset: 4, size: 4 }],
  });
  assert.deepEqual(find('i386', 'struct vfio_cli_arch'), {
    name: 'struct vfio_cli_arch',
    kind: 'struct',
    file: UAPI,
    line: 15,
    size: 12,
    align: 4,
    members: [
      { path: 'a', type: '__u32', offset: 0, size: 4 },
      { path: 'b', type: '__u64', offset: 4, size: 8 },
    ],
    holes: [],
  });
  assert.deepEqual(find('i386', 'struct vfio_cli_padded').holes, [{ offset: 1, size: 3 }]);
});

test('layout: bit-fields carry bitOffset (from the start of the type) and bitSize', () => {
  const { code, stdout, stderr } = run(['layout', UAPI, 'vfio_cli_bits', '--arch', 's390x', '--format', 'json']);
  assert.equal(code, 0, stderr);
  const [type] = JSON.parse(stdout).arches.s390x.types;
  assert.equal(type.size, 4);
  assert.deepEqual(type.members, [
    { path: 'flags', type: '__u32', offset: 0, size: 4, bitOffset: 0, bitSize: 3 },
    { path: 'mode', type: '__u32', offset: 0, size: 4, bitOffset: 3, bitSize: 5 },
    { path: 'rest', type: '__u32', offset: 1, size: 4, bitOffset: 8, bitSize: 24 },
  ]);
  assert.deepEqual(type.holes, []);
  const text = run(['layout', UAPI, 'vfio_cli_bits', '--arch', 'x86_64']).stdout;
  assert.match(text, /__u32 +mode:5; +\/\* +0:3 +4 \*\//);
  assert.match(text, /__u32 +rest:24; +\/\* +1:0 +4 \*\//);
});

test('layout without TYPE lays out every type of the file', () => {
  const { code, stdout } = run(['layout', UAPI, '--arch', 'arm64', '--format', 'json']);
  assert.equal(code, 0);
  const names = JSON.parse(stdout).arches.arm64.types.map((t) => t.name);
  assert.deepEqual(names.sort(), ['struct vfio_cli_arch', 'struct vfio_cli_bits', 'struct vfio_cli_clean', 'struct vfio_cli_nonfixed', 'struct vfio_cli_padded']);
});

const usageErrors = [
  ['unknown type', ['layout', UAPI, 'no_such_struct'], /no_such_struct/],
  ['unknown arch (layout)', ['layout', UAPI, '--arch', 'vax'], /unknown arch 'vax'/],
  ['unknown arch (check)', ['check', UAPI, '--arch', 'x86_64,mips'], /unknown arch 'mips'/],
  ['missing path', ['check', 'no/such/path.h'], /no such file/],
  ['missing layout file', ['layout', 'nope.h'], /no such file/],
  ['missing FILE', ['layout'], /missing FILE/],
  ['unknown option', ['check', '--frobnicate'], /--frobnicate/],
  ['unknown format', ['check', '--format', 'xml'], /unknown format 'xml'/],
  ['unknown layout format', ['layout', UAPI, '--format', 'sarif'], /unknown format 'sarif'/],
  ['unknown --fail-on', ['check', '--fail-on', 'info'], /--fail-on/],
  ['--root not a directory', ['check', UAPI, '--root', 'Kbuild'], /not a directory/],
  ['unknown command', ['lint'], /unknown command 'lint'/],
  ['lsp without --stdio', ['lsp'], /--stdio/],
];
for (const [name, args, message] of usageErrors) {
  test(`exit 2 with a one-line message: ${name}`, () => {
    const { code, stdout, stderr } = run(args);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /^vfio-review: [^\n]+\n$/);
    assert.match(stderr, message);
  });
}

test('--help, -h and --version', () => {
  for (const args of [['--help'], ['-h'], ['check', '--help'], ['layout', '-h']]) {
    const { code, stdout } = run(args);
    assert.equal(code, 0);
    assert.match(stdout, /^Usage: vfio-review/);
    assert.match(stdout, /--fail-on/);
  }
  const version = run(['--version']);
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')).version);
  const bare = run([]);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /^Usage:/);
});

test('lsp --stdio answers initialize over stdin/stdout', async () => {
  const child = spawn(process.execPath, [cliPath, 'lsp', '--stdio'], { cwd: tree, stdio: ['pipe', 'pipe', 'pipe'] });
  const send = (message) => {
    const body = JSON.stringify({ jsonrpc: '2.0', ...message });
    child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  };
  let received = '';
  const response = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no initialize response; got: ${received}`)), 20_000);
    child.stdout.on('data', (chunk) => {
      received += chunk;
      const match = /Content-Length: (\d+)\r\n\r\n/.exec(received);
      if (!match) return;
      const start = match.index + match[0].length;
      const body = Buffer.from(received.slice(start));
      if (body.length < Number(match[1])) return;
      const message = JSON.parse(body.subarray(0, Number(match[1])).toString());
      if (message.id === 1) {
        clearTimeout(timer);
        resolve(message);
      } else {
        received = body.subarray(Number(match[1])).toString();
      }
    });
  });
  send({ id: 1, method: 'initialize', params: { processId: process.pid, rootUri: null, capabilities: {}, workspaceFolders: null } });
  try {
    const message = await response;
    assert.ok(message.result?.capabilities, JSON.stringify(message));
    send({ id: 2, method: 'shutdown' });
    send({ method: 'exit' });
    const code = await new Promise((resolve) => {
      const timer = setTimeout(() => (child.kill(), resolve('killed')), 10_000);
      child.on('exit', (exitCode) => (clearTimeout(timer), resolve(exitCode)));
    });
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill();
  }
});

test('bin/vfio-review (the npm bin) runs the CLI: the same output as dist/cli.js', () => {
  const bin = path.join(repo, 'bin', 'vfio-review');
  const example = path.join(repo, 'examples', 'linux');
  const header = path.join(example, 'include', 'uapi', 'linux', 'vfio_example.h');
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-bin-'));
  try {
    const version = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(version.stdout.trim(), require('../package.json').version);
    const args = ['check', header, '--root', example, '--format', 'json', '--cache', cache];
    const viaBin = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });
    const direct = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(viaBin.status, direct.status, viaBin.stderr);
    assert.ok(JSON.parse(viaBin.stdout).findings.length > 0, 'the example header has findings');
    assert.equal(viaBin.stdout, direct.stdout);
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
});
