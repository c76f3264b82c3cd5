// Identifiers of hundreds of kilobytes (a fuzzed line, a generated file): every lookup that used to
// make a regular expression of the word threw V8's "Regular expression too large" (found by
// `npm run fuzz`, target lsp: a hover on such a type name failed inside the server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, hasWord, readPatchInput, reviewPatchInput } from '../../dist/engine.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const LONG = 'a_b'.repeat(70_000);

test('hover and check on a struct and a typedef named by a 210,000-character identifier answer without throwing', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-long-ident-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(path.join(root, 'Kbuild'), '');
  mkdirSync(path.join(root, 'drivers/vfio'), { recursive: true });
  const file = path.join(root, 'drivers/vfio/long.c');
  const lines = ['// SPDX-License-Identifier: GPL-2.0-only', `struct ${LONG} *fx_a;`, `${LONG} fx_b;`, 'int fx_c(void)', '{', `\treturn sizeof(struct ${LONG});`, '}', ''];
  writeFileSync(file, lines.join('\n'));
  const engine = await createEngine({ root });
  assert.ok(Array.isArray(engine.check(file)));
  for (const [line, character] of [[1, 10], [2, 5], [5, 25]]) {
    const hover = engine.hover(file, { line, character });
    assert.ok(hover === null || typeof hover === 'object', `hover at ${line}:${character}`);
  }
  engine.dispose();
});

test('hasWord finds whole words only, whatever their length', () => {
  assert.equal(hasWord('a foo_bar b', 'foo_bar'), true);
  assert.equal(hasWord('a foo_barx b', 'foo_bar'), false);
  assert.equal(hasWord('xfoo_bar', 'foo_bar'), false);
  assert.equal(hasWord('foo_bar', 'foo_bar'), true);
  assert.equal(hasWord('(foo_bar)', 'foo_bar'), true);
  assert.equal(hasWord('foo_bar1 foo_bar', 'foo_bar'), true);
  assert.equal(hasWord('', 'foo'), false);
  assert.equal(hasWord('foo', ''), false);
  assert.equal(hasWord(` ${LONG} `, LONG), true);
  assert.equal(hasWord(`${LONG}x`, LONG), false);
});

test('a patch that renames a function of the lock index to a 210,000-character name is reviewed without throwing', () => {
  const tree = path.join(repo, 'examples/linux');
  const rel = 'drivers/vfio/pci/vfio_example_walk.c';
  const before = readFileSync(path.join(tree, rel), 'utf8');
  const after = before.replace('int vfio_example_walk_slot(', `int ${LONG}(`);
  assert.notEqual(after, before);
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-long-patch-'));
  try {
    writeFileSync(path.join(dir, 'old.c'), before);
    writeFileSync(path.join(dir, 'new.c'), after);
    const diff = spawnSync('diff', ['-u', '--label', `a/${rel}`, '--label', `b/${rel}`, 'old.c', 'new.c'], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;
    const text = `From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nFrom: A <a@example.org>\nSubject: [PATCH] vfio/example: rename the walk\n\n---\ndiff --git a/${rel} b/${rel}\n${diff}`;
    const review = reviewPatchInput(readPatchInput(text), { document: '/reviews/long.patch', documentText: text, tree, engine: { arches: ['x86_64'] } });
    assert.deepEqual(review.files.map((f) => f.path), [rel]);
    assert.ok(Array.isArray(review.findings));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
