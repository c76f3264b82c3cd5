// The CLI's store takes the disk as unchanging for the length of a run (each file stat'd and
// read once); the editor's store sees a file change under it. Both answer the same for files
// that do not change, which is what lets the CLI skip the stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SourceStore } from '../../dist/engine.js';

function scratch() {
  return mkdtempSync(path.join(tmpdir(), 'vfio-review-snapshot-'));
}

test('a snapshot store answers from its first read; the editor store follows the disk', () => {
  const dir = scratch();
  try {
    const file = path.join(dir, 'a.h');
    const missing = path.join(dir, 'b.h');
    writeFileSync(file, 'struct a { int x; };\n');
    const snapshot = new SourceStore(true);
    const live = new SourceStore();
    assert.equal(snapshot.read(file).text, live.read(file).text);
    assert.equal(snapshot.read(missing), undefined);
    assert.equal(live.read(missing), undefined);

    // Changed under both stores (a later mtime, so the live store's stat sees it).
    writeFileSync(file, 'struct a { long x; };\n');
    const later = new Date(Date.now() + 5000);
    utimesSync(file, later, later);
    writeFileSync(missing, 'struct b { int y; };\n');

    assert.equal(snapshot.read(file).text, 'struct a { int x; };\n');
    assert.equal(snapshot.read(missing), undefined);
    assert.equal(live.read(file).text, 'struct a { long x; };\n');
    assert.equal(live.read(missing).text, 'struct b { int y; };\n');

    // A fresh snapshot store sees the disk as it is now.
    const next = new SourceStore(true);
    assert.equal(next.read(file).text, 'struct a { long x; };\n');
    assert.equal(next.read(missing).text, 'struct b { int y; };\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('overlays shadow the disk in a snapshot store too', () => {
  const dir = scratch();
  try {
    const file = path.join(dir, 'a.h');
    writeFileSync(file, 'int on_disk;\n');
    const store = new SourceStore(true);
    assert.equal(store.read(file).text, 'int on_disk;\n');
    store.setOverlay(file, 'int in_editor;\n');
    assert.equal(store.read(file).text, 'int in_editor;\n');
    store.clearOverlay(file);
    assert.equal(store.read(file).text, 'int on_disk;\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
