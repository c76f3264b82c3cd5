// showFiles (server/src/git.ts): many files at one commit through one `git cat-file --batch`
// process must give what showFile gives for each, one git process per file, on a real repository
// (test/support/git-fixture.mjs plus a commit with awkward names and contents).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { repoRoot } from './support/lsp-client.mjs';
import { BAR, FOO, FOO_CORE, TYPES, createGitFixture, gitAvailable } from './support/git-fixture.mjs';

const skip = gitAvailable() ? false : 'git is not installed';

let git;
let fixture;
let bundleDir;

// Names one input line can carry but a careless reader would split or trim, and contents that
// are not plain ASCII: UTF-8, bytes that are not UTF-8, an empty file, a file with no final newline.
const AWKWARD = {
  'include/uapi/linux/with space.h': '#define SPACED 1\n',
  'include/uapi/linux/colon:name.h': '#define COLON 2\n',
  'include/uapi/linux/utf8-é.h': '/* Größe — 大小 */\n#define UTF8 3\n',
  'include/uapi/linux/empty.h': '',
  'include/uapi/linux/no-newline.h': '#define LAST 4',
};
const NOT_UTF8 = 'include/uapi/linux/latin1.h';

before(async () => {
  if (skip) return;
  bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-showfiles-'));
  const outfile = path.join(bundleDir, 'git.cjs');
  await build({ entryPoints: [path.join(repoRoot, 'server', 'src', 'git.ts')], outfile, bundle: true, platform: 'node', format: 'cjs', logLevel: 'silent' });
  git = createRequire(import.meta.url)(outfile);
  fixture = createGitFixture();
  for (const [rel, text] of Object.entries(AWKWARD)) fixture.write(rel, text);
  fs.writeFileSync(fixture.path(NOT_UTF8), Buffer.from([0x2f, 0x2a, 0x20, 0xe9, 0xff, 0x20, 0x2a, 0x2f, 0x0a]));
  fixture.git('add', '-A');
  fixture.git('commit', '-q', '-m', 'awkward names');
});

after(() => {
  fixture?.cleanup();
  if (bundleDir) fs.rmSync(bundleDir, { recursive: true, force: true });
});

test('showFiles gives what showFile gives, file by file, at several revisions', { skip }, async () => {
  const paths = [FOO, BAR, TYPES, FOO_CORE, ...Object.keys(AWKWARD), NOT_UTF8,
    'include/uapi/linux/nothing.h', 'include/uapi', 'include/uapi/linux', FOO];
  for (const rev of ['HEAD', 'HEAD~1', 'HEAD~2']) {
    const slow = [];
    for (const rel of paths) slow.push(await git.showFile(fixture.root, rev, rel));
    // Another copy of the module: its contents cache is empty, so every path goes through the batch.
    fs.copyFileSync(path.join(bundleDir, 'git.cjs'), path.join(bundleDir, `git-${rev.replace('~', '-')}.cjs`));
    const fresh = createRequire(import.meta.url)(path.join(bundleDir, `git-${rev.replace('~', '-')}.cjs`));
    const fast = await fresh.showFiles(fixture.root, rev, paths);
    assert.deepEqual(fast, slow, rev);
  }
  // Sanity of the reference itself: the awkward files exist at HEAD only, folders have no text.
  const head = await git.showFiles(fixture.root, 'HEAD', [...Object.keys(AWKWARD), 'include/uapi']);
  assert.deepEqual(head, [...Object.values(AWKWARD), undefined]);
  assert.equal((await git.showFile(fixture.root, 'HEAD', NOT_UTF8)).includes('\ufffd'), true);
});

test('showFiles: the cache is filled and used; no path is empty input', { skip }, async () => {
  fs.copyFileSync(path.join(bundleDir, 'git.cjs'), path.join(bundleDir, 'git-cache.cjs'));
  const fresh = createRequire(import.meta.url)(path.join(bundleDir, 'git-cache.cjs'));
  const head = fixture.git('rev-parse', 'HEAD').trim();
  assert.deepEqual(await fresh.showFiles(fixture.root, head, []), []);
  const first = await fresh.showFiles(fixture.root, head, [FOO, BAR]);
  // With git unreachable, cached contents still answer and an uncached one fails as showFile does.
  const savedPath = process.env.PATH;
  process.env.PATH = path.join(fixture.temp, 'no-such-bin');
  try {
    assert.deepEqual(await fresh.showFiles(fixture.root, head, [BAR, FOO]), [first[1], first[0]]);
    await assert.rejects(fresh.showFiles(fixture.root, head, [TYPES]), { name: 'GitError', message: /git is not installed/ });
  } finally {
    process.env.PATH = savedPath;
  }
});

test('showFiles refuses what showFile refuses', { skip }, async () => {
  await assert.rejects(git.showFiles(fixture.root, 'no-such-rev', [FOO]), { name: 'GitError', message: /unknown revision 'no-such-rev'/ });
  await assert.rejects(git.showFiles(fixture.root, 'HEAD', [FOO, '../outside.h']), { name: 'PathOutsideRepoError' });
  await assert.rejects(git.showFiles(fixture.root, 'HEAD', ['/etc/passwd']), { name: 'PathOutsideRepoError' });
  await assert.rejects(git.showFiles(fixture.root, 'HEAD', ['.']), { name: 'PathOutsideRepoError' });
});
