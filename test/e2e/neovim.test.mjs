// The language server in Neovim (Debian package neovim; skipped without nvim): diagnostics of the
// example uapi header arrive through Neovim's own LSP client, and a member hover shows its layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const folder = path.join(repoRoot, 'examples', 'linux');
const header = path.join(folder, 'include', 'uapi', 'linux', 'vfio_example.h');
const hasNvim = spawnSync('nvim', ['--version'], { stdio: 'ignore' }).status === 0;

test('Neovim: diagnostics and a member hover from the vfio-review server', { skip: hasNvim ? false : 'nvim is not installed (apt-get install neovim)', timeout: 90_000 }, (t) => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'vfio-review-nvim-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const out = path.join(tmp, 'result.json');
  const lines = readFileSync(header, 'utf8').split('\n');
  const line = lines.findIndex((l) => /\bnum_regions;/.test(l));
  const r = spawnSync('nvim', ['--headless', '--clean', '-c', `luafile ${path.join(repoRoot, 'test', 'e2e', 'neovim', 'check.lua')}`, header], {
    cwd: folder,
    env: {
      ...process.env,
      VR_OUT: out,
      VR_NODE: process.execPath,
      VR_SERVER: path.join(repoRoot, 'dist', 'server.js'),
      VR_ROOT: folder,
      VR_HOVER: `${line + 1},${lines[line].indexOf('num_regions') + 2}`,
    },
    encoding: 'utf8',
    timeout: 80_000,
  });
  let result;
  try {
    result = JSON.parse(readFileSync(out, 'utf8'));
  } catch {
    assert.fail(`nvim wrote no result (exit ${r.status}, ${r.error?.message ?? ''}):\n${r.stdout}\n${r.stderr}`);
  }
  assert.equal(result.error, undefined, result.error);
  const codes = new Set(result.diagnostics.map((d) => d.code));
  for (const rule of ['uapi-arch-dependent-layout', 'uapi-implicit-padding', 'uapi-non-fixed-type']) assert.ok(codes.has(rule), `${rule} in ${[...codes]}`);
  assert.ok(result.diagnostics.every((d) => d.source === 'vfio-review'));
  const dma = result.diagnostics.find((d) => d.code === 'uapi-arch-dependent-layout');
  assert.equal(dma.line, lines.findIndex((l) => l.startsWith('struct vfio_example_dma_map {')));
  assert.match(result.hover, /struct vfio_example_device_info\*\*::`num_regions`/);
  assert.match(result.hover, /\| x86_64, i386 \| 8 \| 4 \| 4 \|/);
});
