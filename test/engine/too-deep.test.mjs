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

/** A function assigning one expression of `depth` nested parentheses, after a lock it holds. */
function deepExpression(name, depth) {
  return `static int ${name}(int x)\n{\n\tmutex_lock(&l);\n\tx = ${'('.repeat(depth)}x${')'.repeat(depth)};\n\tmutex_unlock(&l);\n\treturn x;\n}\n`;
}

test('an expression nested thousands deep: no stack overflow in check or code actions, and a note', async (t) => {
  // A fuzzed file with 10,000 nested parentheses overflowed the lock extraction's expression walk
  // (and the CFG's label search in unreachable code) through codeActions.
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-deep-expr-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'drivers/vfio'), { recursive: true });
  writeFileSync(path.join(root, 'Kbuild'), '');
  const file = path.join(root, 'drivers/vfio/deep_expr.c');
  const text = `#include <linux/mutex.h>\nstatic DEFINE_MUTEX(l);\n\n${deepExpression('plain_enough', 100)}\n${deepExpression('far_too_nested', 10000)}`;
  writeFileSync(file, text);
  const deepLine = text.split('\n').findIndex((l) => l.startsWith('static int far_too_nested'));

  const engine = await createEngine({ root, arches: ['x86_64'] });
  engine.openDocument(file, text, 1);
  const findings = engine.check(file);
  const notes = findings.filter((f) => f.rule === 'analysis-incomplete');
  assert.deepEqual(notes.map((f) => f.range.start.line), [deepLine]);
  assert.match(notes[0].message, /^function far_too_nested: expressions nested more than 400 levels deep;/);
  assert.deepEqual(findings.filter((f) => /failed on this file/.test(f.message)), []);
  const lines = text.split('\n').length;
  assert.ok(Array.isArray(engine.codeActions(file, { start: { line: 0, character: 0 }, end: { line: lines, character: 0 } })));
  engine.dispose();
});
