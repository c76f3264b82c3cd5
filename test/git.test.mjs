// server/src/git.ts against a real temporary repository (test/support/git-fixture.mjs): revision
// resolution, file contents at a revision, changed files, paths kept inside the repository,
// and an environment that cannot redirect git elsewhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { repoRoot } from './support/lsp-client.mjs';
import { BAR, FOO, FOO_CORE, FOO_V1, FOO_V2, createGitFixture, gitAvailable, isolatedGitEnv } from './support/git-fixture.mjs';

const skip = gitAvailable() ? false : 'git is not installed';

let git; // the module under test
let fixture;
let bundleDir;

before(async () => {
  if (skip) return;
  bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-gitmod-'));
  const outfile = path.join(bundleDir, 'git.cjs');
  await build({ entryPoints: [path.join(repoRoot, 'server', 'src', 'git.ts')], outfile, bundle: true, platform: 'node', format: 'cjs', logLevel: 'silent' });
  git = createRequire(import.meta.url)(outfile);
  fixture = createGitFixture();
});

after(() => {
  fixture?.cleanup();
  if (bundleDir) fs.rmSync(bundleDir, { recursive: true, force: true });
});

/** Runs `fn` with process.env changed as given (undefined deletes), then restores it. */
async function withEnv(changes, fn) {
  const saved = {};
  for (const key of Object.keys(changes)) saved[key] = process.env[key];
  try {
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    return await fn();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

test('top level: from a file, a folder and a path that does not exist yet; none outside a repository', { skip }, async () => {
  assert.equal(await git.repoTopLevel(fixture.path(FOO)), fixture.root);
  assert.equal(await git.repoTopLevel(fixture.path('include/uapi')), fixture.root);
  assert.equal(await git.repoTopLevel(fixture.path('include/uapi/linux/not-yet.h')), fixture.root);
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-norepo-'));
  try {
    assert.equal(await git.repoTopLevel(outside), undefined);
    const lookup = await git.lookupRepo(outside);
    assert.match(lookup.reason, /not inside a git repository/);
  } finally {
    fs.rmSync(outside, { recursive: true, force: true });
  }
});

test('revisions resolve to full commit hashes; unknown ones to undefined; options are refused', { skip }, async () => {
  const head = fixture.git('rev-parse', 'HEAD').trim();
  const parent = fixture.git('rev-parse', 'HEAD~1').trim();
  assert.equal(await git.resolveCommit(fixture.root, 'HEAD'), head);
  assert.equal(await git.resolveCommit(fixture.root, 'HEAD~1'), parent);
  assert.equal(await git.resolveCommit(fixture.root, 'main~1'), parent);
  assert.equal(await git.resolveCommit(fixture.root, parent.slice(0, 10)), parent);
  assert.equal(await git.resolveCommit(fixture.root, 'HEAD~5'), undefined);
  assert.equal(await git.resolveCommit(fixture.root, 'no-such-branch'), undefined);
  // A tree is not a commit.
  assert.equal(await git.resolveCommit(fixture.root, 'HEAD^{tree}'), undefined);
  await assert.rejects(git.resolveCommit(fixture.root, '--output=/tmp/x'), { name: 'GitError' });
  await assert.rejects(git.resolveCommit(fixture.root, ''), { name: 'GitError' });
});

test('file contents at a revision; undefined for a file added since; GitError for an unknown revision', { skip }, async () => {
  assert.equal(await git.showFile(fixture.root, 'HEAD~1', FOO), FOO_V1);
  assert.equal(await git.showFile(fixture.root, 'HEAD', FOO), FOO_V2);
  const parent = fixture.git('rev-parse', 'HEAD~1').trim();
  assert.equal(await git.showFile(fixture.root, parent, FOO), FOO_V1);
  assert.equal(await git.showFile(fixture.root, 'HEAD~1', BAR), undefined, 'bar.h is new in HEAD');
  assert.equal(await git.showFile(fixture.root, 'HEAD', 'include/uapi/linux/nothing.h'), undefined);
  assert.equal(await git.showFile(fixture.root, 'HEAD', 'include/uapi'), undefined, 'a folder is not a file');
  await assert.rejects(git.showFile(fixture.root, 'no-such-rev', FOO), { name: 'GitError', message: /unknown revision 'no-such-rev'/ });
  await assert.rejects(git.showFile(fixture.root, 'HEAD', '../outside.h'), { name: 'PathOutsideRepoError' });
  await assert.rejects(git.showFile(fixture.root, 'HEAD', '/etc/passwd'), { name: 'PathOutsideRepoError' });
});

test('contents are cached by (commit, path): a cached file needs no git, another one does', { skip }, async () => {
  const head = fixture.git('rev-parse', 'HEAD').trim();
  assert.equal(await git.showFile(fixture.root, head, FOO_CORE), fs.readFileSync(fixture.path(FOO_CORE), 'utf8'));
  // With no git on the PATH, only the cache can answer.
  await withEnv({ PATH: path.join(fixture.temp, 'no-bin') }, async () => {
    assert.equal(await git.showFile(fixture.root, head, FOO_CORE), fs.readFileSync(fixture.path(FOO_CORE), 'utf8'));
    await assert.rejects(git.showFile(fixture.root, head, 'Kbuild'), { name: 'GitError', message: /git is not installed/ });
    assert.match((await git.lookupRepo(fixture.root)).reason, /git is not installed/);
  });
});

test('paths: repository-relative with /, links and .. resolved; escapes refused', { skip }, async () => {
  const { root } = fixture;
  assert.equal(git.repoPath(root, fixture.path(FOO)), FOO);
  assert.equal(git.repoPath(root, 'include/uapi/../uapi/linux/foo.h', root), FOO);
  assert.equal(git.repoPath(root, './linux/foo.h', path.join(root, 'include', 'uapi')), FOO);
  assert.equal(git.repoPath(root, 'include/uapi/linux/new.h', root), 'include/uapi/linux/new.h', 'need not exist');
  assert.equal(git.repoPath(root, root), '.');
  const refused = (file, cwd = root) => assert.throws(() => git.repoPath(root, file, cwd), { name: 'PathOutsideRepoError' }, file);
  refused('../outside.h');
  refused('include/../../outside.h');
  refused(path.join(fixture.temp, 'home'));
  refused('/etc/passwd');
  refused('.git/config');
  // A link inside the tree that leads out of it.
  const outsideFile = path.join(fixture.temp, 'home', 'outside.h');
  fs.writeFileSync(outsideFile, 'struct outside { int x; };\n');
  const link = fixture.path('include/uapi/linux/link.h');
  fs.symlinkSync(outsideFile, link);
  try {
    refused(link);
  } finally {
    fs.rmSync(link);
  }
  // The same repository seen through a link to it is still the repository.
  const viaLink = path.join(fixture.temp, 'linux-link');
  fs.symlinkSync(root, viaLink);
  try {
    assert.equal(git.repoPath(root, path.join(viaLink, FOO)), FOO);
    assert.equal(await git.repoTopLevel(path.join(viaLink, 'include')), root);
  } finally {
    fs.rmSync(viaLink);
  }
});

test('changed files between a revision and the work tree, under pathspecs; untracked on request', { skip }, async () => {
  const { root } = fixture;
  assert.deepEqual(await git.changedFiles(root, 'HEAD', ['include/uapi']), [], 'a clean tree');
  assert.deepEqual(await git.changedFiles(root, 'HEAD~1'), [BAR, FOO]);
  assert.deepEqual(await git.changedFiles(root, 'HEAD~1', ['drivers']), []);
  fixture.write(FOO, FOO_V2.replace('(1 << 2)', '(1 << 3)'));
  fixture.write('include/uapi/linux/new.h', '#define NEW_THING 1\n');
  fixture.write('include/uapi/linux/weird *name.h', '#define WEIRD 1\n');
  fs.rmSync(fixture.path(FOO_CORE));
  try {
    assert.deepEqual(await git.changedFiles(root, 'HEAD', ['include/uapi']), [FOO]);
    assert.deepEqual(await git.changedFiles(root, 'HEAD', ['include/uapi'], { untracked: true }), [FOO, 'include/uapi/linux/new.h', 'include/uapi/linux/weird *name.h']);
    // Deleted files have no new version to check.
    assert.deepEqual(await git.changedFiles(root, 'HEAD', ['.']), [FOO]);
    // Pathspecs are literal: `*` matches only itself.
    assert.deepEqual(await git.changedFiles(root, 'HEAD', ['include/uapi/linux/*.h'], { untracked: true }), []);
    await assert.rejects(git.changedFiles(root, 'no-such-rev', []), { name: 'GitError' });
  } finally {
    fixture.git('checkout', '-q', '--', FOO, FOO_CORE);
    fs.rmSync(fixture.path('include/uapi/linux/new.h'));
    fs.rmSync(fixture.path('include/uapi/linux/weird *name.h'));
  }
  assert.deepEqual(await git.changedFiles(root, 'HEAD'), []);
});

test('the environment cannot redirect git: GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, ... are dropped', { skip }, async () => {
  // Another repository whose HEAD:include/uapi/linux/foo.h says something else.
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-other-'));
  try {
    const env = isolatedGitEnv(other);
    const run = (...args) => execFileSync('git', args, { cwd: other, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    run('-c', 'init.defaultBranch=main', 'init', '-q');
    fs.mkdirSync(path.join(other, 'include', 'uapi', 'linux'), { recursive: true });
    fs.writeFileSync(path.join(other, FOO), '/* the other repository */\n');
    run('add', '-A');
    run('-c', 'user.name=x', '-c', 'user.email=x@example.org', '-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'other');

    const bogus = {
      GIT_DIR: path.join(other, '.git'),
      GIT_WORK_TREE: other,
      GIT_INDEX_FILE: path.join(other, '.git', 'index'),
      GIT_OBJECT_DIRECTORY: path.join(other, '.git', 'objects'),
      GIT_CONFIG_PARAMETERS: "'core.fsmonitor=/bin/false'",
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'alias.cat-file',
      GIT_CONFIG_VALUE_0: '!false',
      GIT_EXEC_PATH: path.join(other, 'no-exec-path'),
    };
    const scrubbed = git.gitEnvironment({ ...bogus, PATH: '/usr/bin', Git_Dir: 'x', HOME: '/home/u' });
    assert.deepEqual(Object.keys(scrubbed).filter((k) => /^git_/i.test(k)).sort(), ['GIT_OPTIONAL_LOCKS', 'GIT_TERMINAL_PROMPT']);
    assert.equal(scrubbed.PATH, '/usr/bin');
    assert.equal(scrubbed.HOME, '/home/u');

    await withEnv(bogus, async () => {
      assert.equal(await git.repoTopLevel(fixture.path(FOO)), fixture.root);
      assert.equal(await git.showFile(fixture.root, 'HEAD~1', FOO), FOO_V1);
      assert.equal(await git.resolveCommit(fixture.root, 'HEAD~1'), fixture.git('rev-parse', 'HEAD~1').trim());
      assert.deepEqual(await git.changedFiles(fixture.root, 'HEAD~1'), [BAR, FOO]);
      // Outside any repository, GIT_DIR would have made git answer for the other one.
      assert.equal(await git.repoTopLevel(os.tmpdir()), undefined);
    });
  } finally {
    fs.rmSync(other, { recursive: true, force: true });
  }
});
