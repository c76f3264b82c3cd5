// dist/vfio-review.js, the CLI behind a V8 code cache (server/src/startup-cache.ts): what it
// prints and returns is what dist/cli.js prints and returns, with no entry, with one, and with a
// damaged one; entries go where the cache folder options say, and nowhere with --no-cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const loader = path.join(repo, 'dist', 'vfio-review.js');
const cli = path.join(repo, 'dist', 'cli.js');
const example = path.join(repo, 'examples', 'linux');
const header = path.join(example, 'include', 'uapi', 'linux', 'vfio_example.h');

function run(script, args, env = {}, cwd = repo) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd, env: { ...process.env, VFIO_REVIEW_CACHE_STATS: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000); // a hang guard, not a speed target
    child.on('error', reject);
    child.on('close', (code) => (clearTimeout(guard), resolve({ code, stdout, stderr })));
  });
}

function scratch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-startup-'));
  const xdg = path.join(dir, 'xdg');
  const home = path.join(dir, 'home');
  fs.mkdirSync(xdg);
  fs.mkdirSync(home);
  return { dir, xdg, home, env: { XDG_CACHE_HOME: xdg, HOME: home }, codeCache: path.join(xdg, 'vfio-review', 'code-cache') };
}

const entriesIn = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

/** Whether an entry is whole: the magic line, then the sha1 of the V8 data that follows. */
function wholeEntry(file) {
  const bytes = fs.readFileSync(file);
  const magic = Buffer.from('VRCC1\n');
  if (!bytes.subarray(0, magic.length).equals(magic)) return false;
  const data = bytes.subarray(magic.length + 20);
  return data.length > 0 && createHash('sha1').update(data).digest().equals(bytes.subarray(magic.length, magic.length + 20));
}

const outcome = (r) => /code cache (hit|miss|rejected):/.exec(r.stderr)?.[1];
const withoutStats = (r) => ({ code: r.code, stdout: r.stdout, stderr: r.stderr.replace(/^vfio-review: code cache .*\n/m, '') });

const commands = (dir) => {
  // A new version of the example header: one struct grows a member, one member changes type.
  const newer = path.join(dir, 'vfio_example_new.h');
  const text = fs.readFileSync(header, 'utf8');
  const changed = text.replace(/(struct [a-z_]+ \{\n)/, '$1\t__u64\tadded_first;\n');
  assert.notEqual(changed, text, 'the fixture edit applies');
  fs.writeFileSync(newer, changed);
  return [
    ['layout', header, '--root', example, '--arch', 'x86_64,i386'],
    ['layout', header, '--root', example, '--format', 'json'],
    ['abi-diff', header, newer, '--root', example, '--arch', 'x86_64,i386', '--format', 'json'],
    ['check', example, '--root', example, '--fail-on', 'never', '--jobs', '1', '--no-cache'],
    ['layout', header, 'no_such_type', '--root', example],
    ['--version'],
  ];
};

test('the loader prints and exits as cli.js does, with no code cache, a fresh one and a used one', async () => {
  const s = scratch();
  try {
    for (const args of commands(s.dir)) {
      const plain = await run(cli, args, s.env);
      // --no-cache is a check option; the others run with the code cache of the default folder.
      const first = await run(loader, args, { ...s.env, VFIO_REVIEW_CACHE_STATS: '1' });
      const second = await run(loader, args, { ...s.env, VFIO_REVIEW_CACHE_STATS: '1' });
      assert.deepEqual(withoutStats(first), plain, args.join(' '));
      assert.deepEqual(withoutStats(second), plain, args.join(' '));
      if (args.includes('--no-cache')) {
        assert.equal(outcome(first), undefined);
        continue;
      }
      assert.equal(outcome(second), 'hit', `${args.join(' ')}: ${second.stderr}`);
    }
    // One entry per flag variant: Liftoff-only for layout, abi-diff and --version; V8's default for check.
    const entries = entriesIn(s.codeCache);
    assert.equal(entries.length, 1, entries.join(', '));
    assert.ok(entries.every((name) => /^cli-[0-9a-f]{40}\.bin$/.test(name) && wholeEntry(path.join(s.codeCache, name))));
    assert.deepEqual(fs.readdirSync(s.home), []);
  } finally {
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

test('a damaged entry is not used: the output is unchanged and the entry is written again whole', async () => {
  const s = scratch();
  try {
    const args = ['layout', header, '--root', example, '--arch', 'x86_64,i386', '--format', 'json'];
    const plain = await run(cli, args, s.env);
    const env = { ...s.env, VFIO_REVIEW_CACHE_STATS: '1' };
    assert.equal(outcome(await run(loader, args, env)), 'miss');
    const [name] = entriesIn(s.codeCache);
    const entry = path.join(s.codeCache, name);
    const good = fs.readFileSync(entry);
    const magic = 6;
    const damage = {
      empty: () => Buffer.alloc(0),
      truncated: (b) => b.subarray(0, b.length >> 1),
      'header only': (b) => b.subarray(0, magic + 20),
      'flipped byte': (b) => {
        const c = Buffer.from(b);
        c[c.length - 100] ^= 0xff;
        return c;
      },
      'other magic': (b) => Buffer.concat([Buffer.from('XXXXX\n'), b.subarray(magic)]),
      // A well-formed entry around data V8 does not accept (its own checks must catch it).
      'checksummed garbage': () => {
        const data = Buffer.alloc(4096, 7);
        return Buffer.concat([Buffer.from('VRCC1\n'), createHash('sha1').update(data).digest(), data]);
      },
      'another bundle\'s entry': () => {
        const data = good.subarray(magic + 20, magic + 20 + 2048);
        return Buffer.concat([Buffer.from('VRCC1\n'), createHash('sha1').update(data).digest(), data]);
      },
    };
    for (const [what, make] of Object.entries(damage)) {
      fs.writeFileSync(entry, make(good));
      const r = await run(loader, args, env);
      assert.deepEqual(withoutStats(r), plain, what);
      assert.equal(outcome(r), 'rejected', `${what}: ${r.stderr}`);
      assert.ok(wholeEntry(entry), `${what}: rewritten whole`);
      assert.equal(outcome(await run(loader, args, env)), 'hit', what);
    }
    assert.deepEqual(entriesIn(s.codeCache), [name], 'no temporary file left');
  } finally {
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

test('--no-cache writes nothing; --cache DIR holds the code cache; an unwritable folder changes nothing', async () => {
  const s = scratch();
  try {
    const layout = ['layout', header, '--root', example];
    const plain = await run(cli, layout, s.env);
    // layout has no --cache option: the CLI refuses it, the loader only reads the folder from it.
    const noCache = await run(loader, ['check', example, '--root', example, '--fail-on', 'never', '--jobs', '1', '--no-cache'], s.env);
    assert.equal(noCache.code, 0, noCache.stderr);
    assert.deepEqual(fs.readdirSync(s.xdg), []);
    assert.deepEqual(fs.readdirSync(s.home), []);
    const off = await run(loader, layout, { ...s.env, VFIO_REVIEW_CODE_CACHE: '0' });
    assert.deepEqual(off, plain);
    assert.deepEqual(fs.readdirSync(s.xdg), []);
    const own = path.join(s.dir, 'own-cache');
    const withDir = await run(loader, ['check', example, '--root', example, '--fail-on', 'never', '--jobs', '1', '--cache', own], s.env);
    assert.equal(withDir.code, 0, withDir.stderr);
    assert.equal(entriesIn(path.join(own, 'code-cache')).length, 1);
    assert.deepEqual(fs.readdirSync(s.xdg), []);
    // check sets its inlining budget (v8-inlining.ts) before the bundle is compiled: V8 takes
    // the entry it made, and V8's own flags (VFIO_REVIEW_V8_DEFAULTS=1) make and take another.
    const checkArgs = ['check', example, '--root', example, '--fail-on', 'never', '--jobs', '1', '--cache', own];
    const stats = { ...s.env, VFIO_REVIEW_CACHE_STATS: '1' };
    const again = await run(loader, checkArgs, stats);
    assert.equal(outcome(again), 'hit', again.stderr);
    const defaults = { ...stats, VFIO_REVIEW_V8_DEFAULTS: '1' };
    assert.equal(outcome(await run(loader, checkArgs, defaults)), 'miss');
    assert.equal(outcome(await run(loader, checkArgs, defaults)), 'hit');
    assert.equal(entriesIn(path.join(own, 'code-cache')).length, 2);
    assert.deepEqual(withoutStats(await run(loader, checkArgs, defaults)).stdout, withoutStats(again).stdout);
    // code-cache/ taken by a file: nothing can be written, the run is the same.
    fs.mkdirSync(path.join(s.xdg, 'vfio-review'));
    fs.writeFileSync(s.codeCache, 'not a folder');
    assert.deepEqual(await run(loader, layout, s.env), plain);
    assert.equal(fs.readFileSync(s.codeCache, 'utf8'), 'not a folder');
  } finally {
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

test('concurrent cold runs agree and leave one whole entry', async () => {
  const s = scratch();
  try {
    const args = ['layout', header, '--root', example, '--arch', 'all', '--format', 'json'];
    const plain = await run(cli, args, s.env);
    const runs = await Promise.all(Array.from({ length: 4 }, () => run(loader, args, s.env)));
    for (const r of runs) assert.deepEqual(r, plain);
    const entries = entriesIn(s.codeCache);
    assert.equal(entries.length, 1, entries.join(', '));
    assert.ok(wholeEntry(path.join(s.codeCache, entries[0])));
  } finally {
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

test('a rebuilt bundle does not read the previous build\'s entry', async () => {
  const s = scratch();
  try {
    // A copy of dist/ whose cli.js differs by one comment: another build.
    const copy = path.join(s.dir, 'dist');
    fs.mkdirSync(copy);
    for (const f of ['vfio-review.js', 'cli.js', 'check-worker.js', 'web-tree-sitter.wasm', 'tree-sitter-c.wasm']) fs.copyFileSync(path.join(repo, 'dist', f), path.join(copy, f));
    const args = ['layout', header, '--root', example];
    const env = { ...s.env, VFIO_REVIEW_CACHE_STATS: '1' };
    assert.equal(outcome(await run(path.join(copy, 'vfio-review.js'), args, env)), 'miss');
    assert.equal(outcome(await run(path.join(copy, 'vfio-review.js'), args, env)), 'hit');
    fs.appendFileSync(path.join(copy, 'cli.js'), '\n// rebuilt\n');
    const rebuilt = await run(path.join(copy, 'vfio-review.js'), args, env);
    assert.equal(outcome(rebuilt), 'miss');
    assert.deepEqual(withoutStats(rebuilt), await run(cli, args, s.env));
  } finally {
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

test('a new entry prunes the oldest entries of the same bundle, keeping three others; other bundles\' entries stay', async () => {
  const s = scratch();
  try {
    fs.mkdirSync(s.codeCache, { recursive: true });
    const hex = (i) => String(i).repeat(40).slice(0, 40);
    const old = [1, 2, 3, 4, 5].map((i) => `cli-${hex(i)}.bin`);
    const other = `check-worker-${hex(6)}.bin`;
    [...old, other].forEach((name, i) => {
      const file = path.join(s.codeCache, name);
      fs.writeFileSync(file, 'an older build');
      const at = new Date(Date.now() - (10 - i) * 60_000);
      fs.utimesSync(file, at, at);
    });
    const r = await run(loader, ['--version'], { ...s.env, VFIO_REVIEW_CACHE_STATS: '1' });
    assert.equal(outcome(r), 'miss');
    const left = entriesIn(s.codeCache);
    assert.deepEqual(left.filter((n) => old.includes(n) || n === other), [...old.slice(2), other].sort());
    assert.equal(left.length, 5, left.join(', '));
  } finally {
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});
