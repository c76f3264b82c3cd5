// A function nested deeper than the control-flow analysis takes is left out of the lock, flag and
// union analyses: the file gets an analysis-incomplete note naming it, and a merely deep function
// does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEngine } from '../../dist/engine.js';

/** A function whose body is `depth` nested `if (x) {` blocks around one call. */
function nested(name, depth) {
  const open = Array.from({ length: depth }, () => 'if (x) {').join('\n');
  return `static void ${name}(int x)\n{\n${open}\nmutex_lock(&l);\n${'}\n'.repeat(depth)}}\n`;
}

test('a function nested beyond the CFG limit gets an analysis-incomplete note; a deep but analysable one does not', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-deep-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'drivers/vfio'), { recursive: true });
  writeFileSync(path.join(root, 'Kbuild'), '');
  const file = path.join(root, 'drivers/vfio/deep.c');
  const text = `#include <linux/mutex.h>\nstatic DEFINE_MUTEX(l);\n\n${nested('shallow_enough', 150)}\n${nested('far_too_deep', 500)}`;
  writeFileSync(file, text);
  const deepLine = text.split('\n').findIndex((l) => l.startsWith('static void far_too_deep'));

  const engine = await createEngine({ root, arches: ['x86_64'] });
  const notes = engine.check(file).filter((f) => f.rule === 'analysis-incomplete');
  assert.deepEqual(notes.map((f) => [f.range.start.line, f.severity]), [[deepLine, 'info']]);
  assert.match(notes[0].message, /^function far_too_deep: statements nested more than 400 levels deep; the lock, flag and union analyses leave it out\.$/);
  engine.dispose();

  const quiet = await createEngine({ root, arches: ['x86_64'], severities: { 'analysis-incomplete': 'off' } });
  assert.deepEqual(quiet.check(file).filter((f) => f.rule === 'analysis-incomplete'), []);
  quiet.dispose();
});
