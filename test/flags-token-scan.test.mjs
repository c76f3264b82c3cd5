// The flag index's token scan (server/src/engine/analyses/flags/token-scan.ts) is brought up to
// date from the part of a file's text that changed. After every edit of a long random series
// it must equal a new scan of the whole text: the same tokens at the same offsets, the same counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { buildTestBundle } from './support/engine-bundle.mjs';
import { mulberry32 } from './support/random.mjs';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

async function loadTokenScan() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-token-scan-'));
  const bundle = await buildTestBundle(path.join(repo, 'server/src/engine/analyses/flags/token-scan.ts'), dir, 'token-scan.cjs');
  return { ...createRequire(import.meta.url)(bundle), dir };
}

function kernelCText() {
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.[ch]$/.test(e.name)) files.push(p);
    }
  };
  walk(path.join(repo, 'test/fixtures/flags'));
  walk(path.join(repo, 'test/fixtures/locks'));
  return files.sort().map((f) => fs.readFileSync(f, 'utf8')).join('\n');
}

const sameScan = (got, want, what) => {
  assert.equal(got.text, want.text, what);
  assert.equal(got.names.length, want.names.length, `${what}: number of tokens`);
  for (let i = 0; i < want.names.length; i++) {
    if (got.names[i] !== want.names[i] || got.starts[i] !== want.starts[i]) {
      assert.fail(`${what}: token ${i} is ${got.names[i]}@${got.starts[i]}, a new scan gives ${want.names[i]}@${want.starts[i]}`);
    }
  }
  assert.equal(got.counts.size, want.counts.size, `${what}: distinct tokens`);
  for (const [name, n] of want.counts) if (got.counts.get(name) !== n) assert.fail(`${what}: ${name} counted ${got.counts.get(name)}, a new scan counts ${n}`);
};

test('the token scan follows edits exactly, identifiers split, joined, or turned into numbers', async () => {
  const { tokenScanOf, fullScan, dir } = await loadTokenScan();
  try {
    const next = mulberry32(8);
    const pick = (s) => s[Math.floor(next() * s.length)];
    // Word characters, digits and separators, so that edits join and split identifiers.
    const alphabet = 'abc_XYZ0189 \n\t(){};,.*/x';
    let text = kernelCText();
    assert.ok(text.length > 20_000, 'fixtures give a text of some size');
    sameScan(tokenScanOf('a.c', text), fullScan(text), 'first scan');
    for (let i = 0; i < 1500; i++) {
      const at = Math.floor(next() * (text.length + 1));
      const kind = next();
      let edited;
      if (kind < 0.4) {
        let inserted = '';
        for (let n = 1 + Math.floor(next() * 6); n > 0; n--) inserted += pick(alphabet);
        edited = text.slice(0, at) + inserted + text.slice(at);
      } else if (kind < 0.8) {
        edited = text.slice(0, at) + text.slice(Math.min(text.length, at + 1 + Math.floor(next() * 8)));
      } else if (kind < 0.9) {
        // A block moved: the common prefix and suffix are far apart.
        const to = Math.min(text.length, at + Math.floor(next() * 3000));
        edited = text.slice(0, at) + text.slice(to) + text.slice(at, to);
      } else {
        edited = `${pick(alphabet)}${text}${pick(alphabet)}`;
      }
      text = edited;
      sameScan(tokenScanOf('a.c', text), fullScan(text), `edit ${i}`);
    }
    // Another file's scan does not disturb this one's; a text seen before is answered again.
    sameScan(tokenScanOf('b.c', 'int x1; 0x1f;'), fullScan('int x1; 0x1f;'), 'another file');
    sameScan(tokenScanOf('a.c', text), fullScan(text), 'same text again');
    for (const [before, after] of [['foo bar', 'foobar'], ['foobar', 'foo bar'], ['x', '1x'], ['1x', 'x'], ['0x1f', '0x1fg'], ['', 'a'], ['a', '']]) {
      tokenScanOf('c.c', before);
      sameScan(tokenScanOf('c.c', after), fullScan(after), `${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a kept scan does not keep the texts of earlier edits alive', async () => {
  const { dir } = await loadTokenScan();
  try {
    // 2,000 edits each adding a long identifier (a view of its text, unless copied) to a 60 KB
    // text: the heap after them, collected, against the heap after the first scan.
    const script = `
      const { tokenScanOf } = require(${JSON.stringify(path.join(dir, 'token-scan.cjs'))});
      let text = ${JSON.stringify(kernelCText())};
      while (text.length < 60000) text += text;
      tokenScanOf('f.c', text);
      gc();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < 2000; i++) {
        const at = 1000 + ((i * 7919) % (text.length - 2000));
        text = text.slice(0, at) + ' vfio_pci_core_token_' + i + ' ' + text.slice(at);
        tokenScanOf('f.c', text);
      }
      gc();
      console.log(process.memoryUsage().heapUsed - before);`;
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const grown = Number(r.stdout.trim());
    // Each text kept would be about 120 KB (two bytes a character once edited): 2,000 of them, 240 MB.
    assert.ok(grown < 16 * 1024 * 1024, `the heap grew ${(grown / 1048576).toFixed(1)} MB over 2,000 edits`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
