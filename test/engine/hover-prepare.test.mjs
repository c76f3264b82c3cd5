// Hover preparation (engine.prepareHovers, run by the language server when the user pauses) and
// the caches it fills: the hovers must say exactly what they say without it, and the include
// closure it keeps must follow the headers when they change.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../../dist/engine.js';

const repo = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
const EXAMPLE = path.join(repo, 'examples/linux');
const FILES = ['drivers/vfio/pci/vfio_example_core.c', 'drivers/vfio/pci/vfio_example_walk.c', 'include/uapi/linux/vfio_example.h'];

/** Every identifier start and the character after it, line by line. */
function positions(text) {
  const out = [];
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/[A-Za-z_]\w*/g)) out.push({ line: i, character: m.index }, { line: i, character: m.index + 1 });
  });
  return out;
}

test('hovers after prepareHovers are the hovers without it, on kernel C and on a uapi header', async () => {
  const cold = await createEngine({ root: EXAMPLE });
  const prepared = await createEngine({ root: EXAMPLE });
  let compared = 0;
  let answered = 0;
  for (const rel of FILES) {
    const file = path.join(EXAMPLE, rel);
    let steps = 0;
    for (const _ of prepared.prepareHovers(file)) steps++;
    assert.ok(steps >= 2, `${rel}: the preparation comes in steps (${steps})`);
    for (const pos of positions(readFileSync(file, 'utf8'))) {
      const want = cold.hover(file, pos);
      assert.deepEqual(prepared.hover(file, pos), want, `${rel}:${pos.line + 1}:${pos.character + 1}`);
      compared++;
      if (want) answered++;
    }
  }
  // The comparison means something only if many positions have something to say.
  assert.ok(answered > 100, `hovers with an answer: ${answered} of ${compared}`);
  cold.dispose();
  prepared.dispose();
});

test('a file with nothing to read prepares nothing and does not throw', async () => {
  const engine = await createEngine({ root: EXAMPLE });
  assert.deepEqual([...engine.prepareHovers(path.join(EXAMPLE, 'drivers/vfio/pci/missing.c'))], []);
  engine.dispose();
});

test('the include closure is kept while its headers are unchanged and follows them when they change', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-closure-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  cpSync(EXAMPLE, root, { recursive: true });
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  const engine = await createEngine({ root });
  const c = path.join(root, 'drivers/vfio/pci/vfio_example_core.c');
  const header = path.join(root, 'include/linux/vfio_example.h');
  const added = path.join(root, 'include/linux/vfio_example_extra.h');
  const first = engine.includeClosure(c);
  assert.ok(first.includes(header), 'the kernel header is in the closure');
  assert.ok(!first.includes(added));

  // Past the few seconds an answer stands unchecked: nothing changed, so the same closure.
  mock.timers.tick(60_000);
  assert.equal(engine.includeClosure(c), first, 'unchanged headers: the kept closure');

  // A header now includes a new one: the closure is worked out again and has it.
  writeFileSync(added, '#ifndef VFIO_EXAMPLE_EXTRA_H\n#define VFIO_EXAMPLE_EXTRA_H\nstruct vfio_example_extra { int x; };\n#endif\n');
  writeFileSync(header, readFileSync(header, 'utf8').replace(/(#define\s+\w+_H\b.*\n)/, '$1#include <linux/vfio_example_extra.h>\n'));
  mock.timers.tick(60_000);
  const second = engine.includeClosure(c);
  assert.ok(second.includes(added), `the new header is in the closure: ${second.map((f) => path.relative(root, f)).join(', ')}`);
  // And a hover finds the type it defines.
  assert.equal(engine.findDefinition(c, 'struct', 'vfio_example_extra'), added);
  engine.dispose();
});
