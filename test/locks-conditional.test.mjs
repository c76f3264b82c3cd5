// Functions inside #if/#ifdef blocks are analysed: a header's include guard holds all of it, and
// a C file's `#ifdef CONFIG_...` holds functions (test/fixtures/locks/conditional). A static
// inline helper of a header is reached from the files that include it. Headers outside the lock
// index keep their blocks closed (docs/architecture.md, "Files outside the lock index").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Analyser, createEngine, lockAnalysisOf } from '../dist/engine.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, 'fixtures/locks/conditional');
const file = path.join(root, 'drivers/vfio/fx_cond.c');

const lockFindings = (findings) => findings.filter((f) => f.rule.startsWith('lock-'));

test('a helper inside the include guard of an index header, and one inside #ifdef, are contracts their callers break', async () => {
  const engine = await createEngine({ root });
  const found = lockFindings(engine.check(file)).map((f) => [f.rule, f.range.start.line + 1, f.message.replace(/ at .*/, '')]);
  assert.deepEqual(found, [
    ['lock-not-held', 30, '`d->lock` is not held here, but the call requires it: fx_cond_open -> fx_cond_get_locked -> lockdep_assert_held(&d->lock)'],
    ['lock-not-held', 40, '`d->lock` is not held here, but the call requires it: fx_cond_release -> fx_cond_debug_put -> lockdep_assert_held(&d->lock)'],
  ]);
  engine.dispose();
});

test('both branches of an #ifdef are extracted; the first definition in the file is the one called', async () => {
  await createEngine({});
  const { store } = new Analyser({ root });
  const { program } = lockAnalysisOf({ store, root, file });
  const names = program.functions.map((f) => `${path.basename(f.file)}:${f.name}:${f.at.line + 1}`);
  assert.deepEqual(names.filter((n) => n.startsWith('fx_cond.h')), ['fx_cond.h:fx_cond_get_locked:20']);
  assert.deepEqual(names.filter((n) => n.includes('fx_cond_debug_put')), ['fx_cond.c:fx_cond_debug_put:9', 'fx_cond.c:fx_cond_debug_put:15']);
  assert.ok(names.includes('fx_cond.c:fx_cond_release:36'), names.join('\n'));
});

test('a header outside the index keeps its guard closed: its trylock wrapper is not analysed', async () => {
  const engine = await createEngine({ root });
  const header = path.join(root, 'include/linux/fx_cond_outside.h');
  assert.deepEqual(lockFindings(engine.check(header)), []);
  const { store } = new Analyser({ root });
  const { program, outsider } = lockAnalysisOf({ store, root, file: header });
  assert.ok(!outsider, 'answered by the index alone');
  assert.ok(!program.functions.some((f) => f.file === header));
  engine.dispose();
});
