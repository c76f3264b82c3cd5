// Hostile trees: links pointing out of the tree, device files and FIFOs, include cycles, a macro
// that expands to itself, 10,000-deep nesting and 1 MB lines. Each is refused or bounded: the
// CLI ends by itself with 0/1/2 and no internal error, and nothing outside the root is read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, readFileSync, copyFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from './fuzz/targets.mjs';
import { deepNesting } from './fuzz/mutate.mjs';
import { repoRoot } from './support/lsp-client.mjs';

const require = createRequire(import.meta.url);
const { createEngine } = require('../dist/engine.js');
/** A hang guard, not a speed target. */
const GUARD_MS = 60_000;
const SEED_H = readFileSync(path.join(repoRoot, 'test/fixtures/fuzz/seeds/fuzz_uapi.h'), 'utf8');

/** A kernel-style tree and, beside it (outside), a folder of things the tree must not reach. */
function makeTrees(t) {
  const base = mkdtempSync(path.join(tmpdir(), 'vfio-review-hostile-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const root = path.join(base, 'linux');
  const outside = path.join(base, 'outside');
  mkdirSync(path.join(root, 'include/uapi/linux'), { recursive: true });
  mkdirSync(path.join(root, 'drivers/vfio'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(path.join(root, 'Kbuild'), '');
  const uapi = (name) => path.join(root, 'include/uapi/linux', name);
  return { base, root, outside, uapi };
}

const args = (root) => ['--root', root, '--arch', 'x86_64,i386', '--format', 'json', '--fail-on', 'never'];
const layoutArgs = (root) => ['--root', root, '--arch', 'x86_64,i386', '--format', 'json'];
const findingsOf = (run) => JSON.parse(run.stdout).findings;

test('a header linked to a file outside the tree, or reached through a linked folder, is not read', async (t) => {
  const { root, outside, uapi } = makeTrees(t);
  writeFileSync(path.join(outside, 'secret.h'), 'struct secret { char bytes[123]; };\n');
  mkdirSync(path.join(outside, 'dir'));
  writeFileSync(path.join(outside, 'dir', 'other.h'), 'struct other { char bytes[77]; };\n');
  symlinkSync(path.join(outside, 'secret.h'), uapi('secret.h'));
  symlinkSync(path.join(outside, 'dir'), uapi('linked'));
  writeFileSync(
    uapi('user.h'),
    '#include <linux/secret.h>\n#include <linux/linked/other.h>\n#include "../../../../outside/secret.h"\n' +
      'struct user {\n\tstruct secret s;\n\tstruct other o;\n};\n',
  );
  const run = await runCli(['layout', uapi('user.h'), ...layoutArgs(root)], GUARD_MS, { json: true });
  const user = JSON.parse(run.stdout).arches.x86_64.types.find((x) => x.name === 'struct user');
  assert.equal(user.size, null, 'the sizes of the outside structs are unknown: their files were not read');
  assert.ok(user.members.every((m) => !/123|77/.test(String(m.size))), JSON.stringify(user.members));
  // A link inside the tree to a file inside the tree still works.
  writeFileSync(uapi('inner_real.h'), 'struct inner { char bytes[5]; };\n');
  symlinkSync(uapi('inner_real.h'), uapi('inner.h'));
  writeFileSync(uapi('uses_inner.h'), '#include <linux/inner.h>\nstruct holder { struct inner i; };\n');
  const inner = await runCli(['layout', uapi('uses_inner.h'), ...layoutArgs(root)], GUARD_MS, { json: true });
  assert.equal(JSON.parse(inner.stdout).arches.x86_64.types[0].size, 5);
  // `check` on the folder does not follow the links out either.
  const check = await runCli(['check', root, '--no-cache', ...args(root)], GUARD_MS, { json: true });
  assert.ok(findingsOf(check).every((f) => !f.file.includes('outside') && !f.file.includes('secret.h') && !f.file.includes('linked')), JSON.stringify(findingsOf(check).map((f) => f.file)));
});

test('device files and FIFOs in the tree: check of the folder skips them without blocking', async (t) => {
  const { root, uapi } = makeTrees(t);
  execFileSync('mkfifo', [uapi('fifo.h')]);
  symlinkSync('/dev/zero', uapi('zero.h'));
  symlinkSync('/dev/urandom', path.join(root, 'drivers/vfio/random.c'));
  writeFileSync(uapi('includes_them.h'), '#include <linux/fifo.h>\n#include <linux/zero.h>\nstruct ok { __u32 a; };\n');
  const run = await runCli(['check', root, '--no-cache', ...args(root)], GUARD_MS, { json: true });
  assert.ok([0, 1].includes(run.code), run.stderr);
  const files = findingsOf(run).map((f) => path.basename(f.file));
  assert.ok(!files.includes('fifo.h') || findingsOf(run).some((f) => f.rule === 'input-skipped'), JSON.stringify(files));
  // Through the library: an include of a FIFO or a device is "not found", never read.
  const engine = await createEngine({ root, arches: ['x86_64'] });
  t.after(() => engine.dispose());
  const findings = engine.check(uapi('includes_them.h'));
  assert.ok(findings.some((f) => /include not found: linux\/fifo\.h/.test(f.message)), JSON.stringify(findings.map((f) => f.message)));
  assert.ok(findings.some((f) => /include not found: linux\/zero\.h/.test(f.message)));
});

test('a FIFO named on the command line does not block check: it is reported as not a regular file', async (t) => {
  const { root, uapi } = makeTrees(t);
  execFileSync('mkfifo', [uapi('named.h')]);
  const run = await runCli(['check', uapi('named.h'), '--no-cache', ...args(root)], 10_000, { json: true });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /not a regular file \(a FIFO\)/);
});

test('header include cycles and a macro that expands to itself are bounded', async (t) => {
  const { root, uapi } = makeTrees(t);
  writeFileSync(uapi('cycle_a.h'), '#include <linux/cycle_b.h>\n#define A_SIZE (B_SIZE + 1)\nstruct a { __u8 x[A_SIZE]; };\n');
  writeFileSync(uapi('cycle_b.h'), '#include <linux/cycle_a.h>\n#include "cycle_b.h"\n#define B_SIZE 4\nstruct b { __u32 y; };\n');
  writeFileSync(
    uapi('self.h'),
    '#define SELF SELF\n#define PING PONG\n#define PONG PING\n#define F(x) F(F(x)) + F(x)\n' +
      '#if SELF || PING || F(1)\nstruct in_if { __u32 a; };\n#endif\n' +
      'struct selfish {\n\t__u8 a[SELF];\n\t__u8 b[PING];\n\t__u8 c[F(2)];\n\t__u32 d;\n};\n',
  );
  for (const file of ['cycle_a.h', 'cycle_b.h', 'self.h']) {
    const run = await runCli(['check', uapi(file), '--no-cache', ...args(root)], GUARD_MS, { json: true });
    assert.ok([0, 1].includes(run.code), `${file}: ${run.stderr}`);
  }
  const layout = await runCli(['layout', uapi('cycle_a.h'), ...layoutArgs(root)], GUARD_MS, { json: true });
  assert.equal(JSON.parse(layout.stdout).arches.x86_64.types.find((x) => x.name === 'struct a').size, 5, 'the cycle is cut and B_SIZE still known');
  const selfish = await runCli(['layout', uapi('self.h'), ...layoutArgs(root)], GUARD_MS, { json: true });
  const s = JSON.parse(selfish.stdout).arches.x86_64.types.find((x) => x.name === 'struct selfish');
  assert.equal(s.size, null, 'array lengths that never evaluate leave the size unknown');
});

test('10,000-deep nesting of every kind and 1 MB lines: check, layout and abi-diff end by themselves', async (t) => {
  const { root, uapi } = makeTrees(t);
  const cases = {
    'deep_braces.c': SEED_H + deepNesting('braces', 10_000),
    'deep_structs.h': SEED_H + deepNesting('structs', 10_000),
    'deep_ifdefs.h': SEED_H + deepNesting('ifdefs', 10_000),
    'deep_ifs.c': SEED_H + deepNesting('ifs', 10_000),
    'deep_parens.h': SEED_H + deepNesting('parens', 10_000),
    'long_line.h': `#define LONG ${'x'.repeat(1024 * 1024)}\n${SEED_H}`,
    'long_member.h': SEED_H.replace('__u32\tcount;', `__u32\tcount${'_'.repeat(1024 * 1024)};`),
  };
  for (const [name, text] of Object.entries(cases)) {
    const file = name.endsWith('.c') ? path.join(root, 'drivers/vfio', name) : uapi(name);
    writeFileSync(file, text);
    const check = await runCli(['check', file, '--no-cache', ...args(root)], GUARD_MS, { json: true });
    assert.ok([0, 1].includes(check.code), `${name}: ${check.stderr}`);
    if (name.endsWith('.h')) {
      const layout = await runCli(['layout', file, ...layoutArgs(root)], GUARD_MS, { json: true });
      assert.equal(layout.code, 0, `${name}: ${layout.stderr}`);
      assert.equal(JSON.parse(layout.stdout).arches.x86_64.types.find((x) => x.name === 'struct fuzz_device_info').size, 24, name);
      copyFileSync(path.join(repoRoot, 'test/fixtures/fuzz/seeds/fuzz_uapi.h'), uapi('seed.h'));
      const diff = await runCli(['abi-diff', uapi('seed.h'), file, ...args(root)], GUARD_MS, { json: true });
      assert.ok([0, 1].includes(diff.code), `${name}: ${diff.stderr}`);
    }
  }
});

test('a line of 9,363 comments in a struct body does not corrupt the parser (runs of comments are bounded before parsing)', async (t) => {
  const { root, uapi } = makeTrees(t);
  copyFileSync(path.join(repoRoot, 'test/fixtures/fuzz/open/wasm-stack-comments.h'), uapi('comments.h'));
  const run = await runCli(['check', uapi('comments.h'), '--no-cache', ...args(root)], GUARD_MS, { json: true });
  assert.ok([0, 1].includes(run.code), run.stderr);
});
