// `vfio-review abi-diff OLD NEW` and `vfio-review check --base REV` end to end (node dist/cli.js),
// on the temporary git repository of test/support/git-fixture.mjs: HEAD~1 has foo.h with a plain
// `__u32 group_id;`, HEAD wraps it in a union (compatible) and changes FOO_INFO_FLAG_RESET (not).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import Ajv04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { repoRoot } from './support/lsp-client.mjs';
import { BAR, FOO, FOO_UNION_ONLY, FOO_V1, FOO_V2, createGitFixture, gitAvailable } from './support/git-fixture.mjs';

const require = createRequire(import.meta.url);
const cliPath = path.join(repoRoot, 'dist', 'cli.js');
const skip = gitAvailable() ? false : 'git is not installed';

const MACRO = 'abi-macro-value-changed';
const UNION = 'abi-union-wrap';

let fixture;
let pairs; // a folder of loose header pairs, outside any repository
let noRepo; // an empty folder outside any repository
let statusBefore;

before(() => {
  if (skip) return;
  fixture = createGitFixture();
  pairs = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-pairs-'));
  noRepo = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-norepo-'));
  fs.writeFileSync(path.join(pairs, 'v1.h'), FOO_V1);
  fs.writeFileSync(path.join(pairs, 'union-only.h'), FOO_UNION_ONLY);
  fs.writeFileSync(path.join(pairs, 'v2.h'), FOO_V2);
  fs.writeFileSync(path.join(pairs, 'empty.h'), '/* nothing here */\n#ifndef _EMPTY_H\n#define _EMPTY_H\n#endif\n');
  // __u64 -> __aligned_u64 moves `offset` on i386 only (the other ABIs align __u64 to 8 already).
  const region = (type) => `#include <linux/types.h>\n\nstruct foo_region {\n\t__u32\targsz;\n\t__u32\tindex;\n\t__u32\tflags;\n\t${type}\toffset;\n};\n`;
  fs.writeFileSync(path.join(pairs, 'region-old.h'), region('__u64'));
  fs.writeFileSync(path.join(pairs, 'region-new.h'), region('__aligned_u64'));
  statusBefore = fixture.git('status', '--porcelain', '--ignored');
});

after(() => {
  if (skip) return;
  // The runs must not have written anything into the repository.
  assert.equal(fixture.git('status', '--porcelain', '--ignored'), statusBefore);
  fixture.cleanup();
  fs.rmSync(pairs, { recursive: true, force: true });
  fs.rmSync(noRepo, { recursive: true, force: true });
});

function run(args, cwd = fixture.root) {
  const result = spawnSync(process.execPath, [cliPath, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function runJson(args, cwd) {
  const result = run([...args, '--format', 'json'], cwd);
  assert.equal(result.stderr, '');
  return { code: result.code, findings: JSON.parse(result.stdout).findings };
}

const rulesOf = (findings) => findings.map((f) => f.rule).sort();

/** Temporarily replaces a work-tree file. */
function withWorkTreeFile(rel, text, fn) {
  const saved = fixture.read(rel);
  fixture.write(rel, text);
  try {
    return fn();
  } finally {
    fixture.write(rel, saved);
  }
}

test('abi-diff, two files: a union wrap alone is compatible (exit 0)', { skip }, () => {
  const { code, findings } = runJson(['abi-diff', 'v1.h', 'union-only.h', '--root', fixture.root], pairs);
  assert.equal(code, 0);
  assert.deepEqual(rulesOf(findings), [UNION]);
  const [wrap] = findings;
  assert.equal(wrap.severity, 'info');
  assert.equal(wrap.file, 'union-only.h');
  assert.match(wrap.message, /'group_id'/);
  assert.match(wrap.message, /'devid'/);
  assert.match(wrap.message, /every ABI/);
  assert.deepEqual(wrap.related.map((r) => r.file), ['v1.h']);
  assert.equal(wrap.related[0].line, FOO_V1.split('\n').findIndex((l) => l.includes('group_id;')) + 1);
});

test('abi-diff, two files: a changed macro value is an error on every ABI (exit 1)', { skip }, () => {
  const { code, findings } = runJson(['abi-diff', 'v1.h', 'v2.h', '--root', fixture.root], pairs);
  assert.equal(code, 1);
  assert.deepEqual(rulesOf(findings), [MACRO, UNION]);
  const macro = findings.find((f) => f.rule === MACRO);
  assert.equal(macro.severity, 'error');
  assert.match(macro.message, /FOO_INFO_FLAG_RESET/);
  assert.match(macro.message, /every ABI/);
  assert.equal(macro.line, FOO_V2.split('\n').findIndex((l) => l.includes('#define FOO_INFO_FLAG_RESET')) + 1);
  // --fail-on never: the same findings, exit 0.
  assert.equal(run(['abi-diff', 'v1.h', 'v2.h', '--root', fixture.root, '--fail-on', 'never'], pairs).code, 0);
});

test('abi-diff names the ABIs a change holds for: __u64 -> __aligned_u64 moves a member on i386 only', { skip }, () => {
  const { code, findings } = runJson(['abi-diff', 'region-old.h', 'region-new.h', '--root', fixture.root, '--arch', 'x86_64,i386,arm64'], pairs);
  assert.equal(code, 1);
  const moved = findings.find((f) => f.rule === 'abi-member-offset-changed');
  assert.ok(moved, JSON.stringify(findings));
  assert.match(moved.message, /'offset'/);
  assert.match(moved.message, /\bi386\b/);
  assert.doesNotMatch(moved.message, /x86_64|arm64|every ABI/);
  assert.ok(rulesOf(findings).includes('abi-size-changed'));
  for (const finding of findings) assert.match(finding.message, /\bi386\b/, finding.rule);
  // Without i386 there is nothing to report.
  const without = runJson(['abi-diff', 'region-old.h', 'region-new.h', '--root', fixture.root, '--arch', 'x86_64,arm64'], pairs);
  assert.equal(without.code, 0);
  assert.deepEqual(without.findings, []);
});

test('abi-diff with REV:path: HEAD~1 against the work tree, text format', { skip }, () => {
  const { code, stdout, stderr } = run(['abi-diff', `HEAD~1:${FOO}`, FOO]);
  assert.equal(stderr, '');
  assert.equal(code, 1);
  const macroLine = FOO_V2.split('\n').findIndex((l) => l.includes('#define FOO_INFO_FLAG_RESET')) + 1;
  assert.match(stdout, new RegExp(`^${FOO}:${macroLine}:9: error: .*FOO_INFO_FLAG_RESET.*compared with HEAD~1:${FOO}.* \\[${MACRO}\\]$`, 'm'));
  // The related location names the file at the revision, with the old line.
  assert.match(stdout, new RegExp(`^HEAD~1:${FOO}:${macroLine}:9: note: `, 'm'));
  assert.match(stdout, new RegExp(`^${FOO}:\\d+:\\d+: note: .*'group_id'.* \\[${UNION}\\]$`, 'm'));
});

test('abi-diff with REV:path on both sides, and paths from the cwd with ./', { skip }, () => {
  const both = runJson(['abi-diff', `HEAD~1:${FOO}`, `HEAD:${FOO}`]);
  assert.equal(both.code, 1);
  assert.deepEqual(rulesOf(both.findings), [MACRO, UNION]);
  for (const finding of both.findings) {
    assert.equal(finding.file, FOO, 'findings are on the work-tree path of NEW');
    assert.deepEqual(finding.related.map((r) => r.file), [`HEAD~1:${FOO}`]);
  }
  const sub = path.join(fixture.root, 'include', 'uapi', 'linux');
  const fromSub = runJson(['abi-diff', 'HEAD~1:./foo.h', './foo.h'], sub);
  assert.equal(fromSub.code, 1);
  assert.deepEqual(rulesOf(fromSub.findings), [MACRO, UNION]);
  assert.equal(fromSub.findings[0].file, 'foo.h');
  // The revision's path is shown from the top of the repository.
  assert.equal(fromSub.findings[0].related[0].file, `HEAD~1:${FOO}`);
});

test('abi-diff against an uncommitted work tree: only the union wrap since HEAD~1 (exit 0)', { skip }, () => {
  withWorkTreeFile(FOO, FOO_UNION_ONLY, () => {
    const { code, findings } = runJson(['abi-diff', `HEAD~1:${FOO}`, FOO]);
    assert.equal(code, 0);
    assert.deepEqual(rulesOf(findings), [UNION]);
    // And the same work tree against HEAD: the macro went back, which is a change too.
    const againstHead = runJson(['abi-diff', `HEAD:${FOO}`, FOO]);
    assert.equal(againstHead.code, 1);
    assert.deepEqual(rulesOf(againstHead.findings), [MACRO]);
    assert.match(againstHead.findings[0].message, /from 0x4 to 0x1/);
  });
});

test('check --base HEAD~1: abi findings for the changed header only; the new header has none', { skip }, () => {
  const { code, findings } = runJson(['check', '--base', 'HEAD~1']);
  assert.equal(code, 1);
  const abi = findings.filter((f) => f.rule.startsWith('abi-'));
  assert.deepEqual(rulesOf(abi), [MACRO, UNION]);
  for (const finding of abi) {
    assert.equal(finding.file, FOO);
    assert.deepEqual(finding.related.map((r) => r.file), [`HEAD~1:${FOO}`]);
    assert.match(finding.message, /compared with HEAD~1:include\/uapi\/linux\/foo\.h/);
  }
  assert.ok(!findings.some((f) => f.file === BAR && f.rule.startsWith('abi-')), 'bar.h is new since HEAD~1');
  // Restricted to paths: the new header alone has nothing to compare.
  const barOnly = runJson(['check', '--base', 'HEAD~1', BAR]);
  assert.equal(barOnly.code, 0);
  assert.deepEqual(barOnly.findings, []);
  // Against HEAD nothing changed; without --base there is no comparison at all.
  assert.deepEqual(runJson(['check', '--base', 'HEAD']).findings.filter((f) => f.rule.startsWith('abi-')), []);
  const plain = runJson(['check']);
  assert.equal(plain.code, 0);
  assert.deepEqual(plain.findings, []);
});

test('check --base compares the work tree, uncommitted changes included', { skip }, () => {
  withWorkTreeFile(FOO, FOO_UNION_ONLY, () => {
    const sinceParent = runJson(['check', '--base', 'HEAD~1', 'include/uapi']);
    assert.equal(sinceParent.code, 0);
    assert.deepEqual(rulesOf(sinceParent.findings), [UNION]);
    const sinceHead = runJson(['check', '--base', 'HEAD', 'include/uapi']);
    assert.equal(sinceHead.code, 1);
    assert.deepEqual(rulesOf(sinceHead.findings), [MACRO]);
  });
});

test('check --base, sarif: valid SARIF 2.1.0; the revision is named in a message-only related location', { skip }, () => {
  const { code, stdout } = run(['check', '--base', 'HEAD~1', '--format', 'sarif']);
  assert.equal(code, 1);
  const log = JSON.parse(stdout);
  const schema = JSON.parse(fs.readFileSync(require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8'));
  const ajv = new Ajv04({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  assert.ok(validate(log), JSON.stringify(validate.errors, null, 2));
  const [run0] = log.runs;
  const ruleIds = run0.tool.driver.rules.map((r) => r.id);
  assert.ok(ruleIds.includes(MACRO) && ruleIds.includes(UNION), ruleIds.join(' '));
  const macro = run0.results.find((r) => r.ruleId === MACRO);
  assert.equal(macro.level, 'error');
  assert.deepEqual(macro.locations[0].physicalLocation.artifactLocation, { uri: FOO, uriBaseId: '%SRCROOT%' });
  assert.equal(macro.relatedLocations.length, 1);
  assert.equal(macro.relatedLocations[0].physicalLocation, undefined);
  assert.match(macro.relatedLocations[0].message.text, new RegExp(`^HEAD~1:${FOO}:\\d+:9: `));
  assert.equal(run0.tool.driver.rules[macro.ruleIndex].id, MACRO);
});

test('abi-diff, sarif with two files: related locations stay physical', { skip }, () => {
  const { code, stdout } = run(['abi-diff', 'v1.h', 'v2.h', '--root', fixture.root, '--format', 'sarif'], pairs);
  assert.equal(code, 1);
  const macro = JSON.parse(stdout).runs[0].results.find((r) => r.ruleId === MACRO);
  assert.deepEqual(macro.relatedLocations[0].physicalLocation.artifactLocation, { uri: 'v1.h', uriBaseId: '%SRCROOT%' });
});

test('abi-diff and check --base, github: annotations on the work-tree file, the revision in the text', { skip }, () => {
  for (const args of [['abi-diff', `HEAD~1:${FOO}`, FOO], ['check', '--base', 'HEAD~1']]) {
    const { code, stdout } = run([...args, '--format', 'github']);
    assert.equal(code, 1);
    const lines = stdout.trimEnd().split('\n');
    const macro = lines.find((l) => l.includes(`title=${MACRO}::`));
    assert.match(macro, new RegExp(`^::error file=${FOO},line=\\d+,col=9,endLine=\\d+,endColumn=\\d+,title=${MACRO}::`));
    assert.match(macro, new RegExp(`%0AHEAD~1:${FOO}:\\d+:9: in HEAD~1:${FOO}`));
    assert.ok(lines.some((l) => l.startsWith(`::notice file=${FOO},`) && l.includes(`title=${UNION}::`)), stdout);
  }
});

const usageErrors = [
  ['unknown revision', ['abi-diff', `nope:${FOO}`, FOO], /unknown revision 'nope'/],
  ['file missing at the revision', ['abi-diff', `HEAD~1:${BAR}`, BAR], /no such file at HEAD~1/],
  ['missing OLD file', ['abi-diff', 'old/foo.h', FOO], /old\/foo\.h: no such file/],
  ['missing NEW file', ['abi-diff', `HEAD:${FOO}`, 'include/uapi/linux/nope.h'], /nope\.h: no such file/],
  ['REV:path outside the repository', ['abi-diff', 'HEAD:../outside.h', FOO], /outside the repository/],
  ['REV:path into .git', ['abi-diff', 'HEAD:.git/config', FOO], /\.git/],
  ['no types and no macros', ['abi-diff', 'Kbuild', FOO], /Kbuild: no struct, union, enum, typedef or macro/],
  ['a folder', ['abi-diff', 'include', FOO], /include: not a file/],
  ['one argument', ['abi-diff', FOO], /expected OLD and NEW/],
  ['three arguments', ['abi-diff', FOO, FOO, FOO], /expected OLD and NEW/],
  ['unknown arch', ['abi-diff', `HEAD~1:${FOO}`, FOO, '--arch', 'vax'], /unknown arch 'vax'/],
  ['unknown format', ['abi-diff', `HEAD~1:${FOO}`, FOO, '--format', 'xml'], /unknown format 'xml'/],
  ['check --base: unknown revision', ['check', '--base', 'no-such-rev'], /--base: unknown revision 'no-such-rev'/],
  ['check --base: an option as revision', ['check', '--base=--output=x'], /not a valid revision/],
  ['check --base: empty revision', ['check', '--base='], /empty revision/],
];
for (const [name, args, message] of usageErrors) {
  test(`exit 2 with a one-line message and no output: ${name}`, { skip }, () => {
    const { code, stdout, stderr } = run(args);
    assert.equal(code, 2, stderr);
    assert.equal(stdout, '');
    assert.match(stderr, /^vfio-review: [^\n]+\n$/);
    assert.match(stderr, message);
  });
}

test('exit 2 outside a git repository: REV:path and check --base', { skip }, () => {
  fs.writeFileSync(path.join(noRepo, 'new.h'), FOO_V2);
  try {
    for (const args of [['abi-diff', `HEAD:${FOO}`, 'new.h'], ['check', '--base', 'HEAD', 'new.h']]) {
      const { code, stdout, stderr } = run(args, noRepo);
      assert.equal(code, 2, stderr);
      assert.equal(stdout, '');
      assert.match(stderr, /^vfio-review: [^\n]*not inside a git repository\n$/);
    }
    // Two plain files need no repository.
    fs.writeFileSync(path.join(noRepo, 'old.h'), FOO_V1);
    assert.equal(run(['abi-diff', 'old.h', 'new.h', '--fail-on', 'never'], noRepo).code, 0);
  } finally {
    fs.rmSync(path.join(noRepo, 'new.h'), { force: true });
    fs.rmSync(path.join(noRepo, 'old.h'), { force: true });
  }
});

test('abi-diff with a header that declares nothing is refused on either side', { skip }, () => {
  for (const args of [['abi-diff', 'empty.h', 'v1.h'], ['abi-diff', 'v1.h', 'empty.h']]) {
    const { code, stdout, stderr } = run(args, pairs);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /^vfio-review: empty\.h: no struct, union, enum, typedef or macro to compare\n$/);
  }
});

test('--help lists abi-diff and --base', { skip }, () => {
  const { code, stdout } = run(['--help']);
  assert.equal(code, 0);
  assert.match(stdout, /abi-diff OLD NEW/);
  assert.match(stdout, /--base REV/);
  assert.match(run(['abi-diff', '--help']).stdout, /^Usage: vfio-review/);
});
