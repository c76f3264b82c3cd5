// An edit redoes the blanking of its line only when nothing outside the line can notice
// (reblankLine), and the store carries directives and parse text over on the same grounds
// (SourceStore.setOverlayEdited). Both must give exactly what a full pass gives: checked here on
// seeded random edits of every C file of the fixtures and the example tree, each edit applied to
// the result of the one before (as the editor's overlay does), including edits that must fall back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { blankTracked, reblankLine, SourceStore } from '../../dist/engine.js';
import { mulberry32 } from '../support/random.mjs';

const repo = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
const SEED = Number(process.env.VFIO_REVIEW_SEED ?? 20261123);

function* cFiles(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* cFiles(p);
    else if (/\.[ch]$/.test(e.name)) yield p;
  }
}

// What gets typed: plain text, the kernel words the blanking rewrites, and what ends or spans lines.
const TYPED = [' ', 'x', 'a_b', ';', '(', ')', '{', '}', ',', '__user', '__iomem', '__must_hold(&l)', '__packed', '__signed__',
  'list_for_each_entry(p, h, m) ', 'scoped_guard(mutex, &l) ', 'container_of(p, struct s, m)', '__attribute__((packed))',
  'case 1 ... 3:', 'else ', 'do ', 'struct ', '"s"', "'c'", '/*', '*/', '//', '#', '\\', '\n', '\t'];

function randomEdit(text, rnd) {
  const at = Math.floor(rnd() * (text.length + 1));
  const kind = rnd();
  if (kind < 0.45) return { start: at, end: at, inserted: TYPED[Math.floor(rnd() * TYPED.length)] };
  // Delete (or replace) a few characters, usually within the line.
  const end = Math.min(text.length, at + 1 + Math.floor(rnd() * 6));
  return { start: at, end, inserted: kind < 0.8 ? '' : TYPED[Math.floor(rnd() * TYPED.length)] };
}

const apply = (text, e) => text.slice(0, e.start) + e.inserted + text.slice(e.end);

test('reblankLine gives what blankKernelC gives, or declines, on random edits of every fixture', () => {
  const rnd = mulberry32(SEED);
  let edits = 0;
  let carried = 0;
  const files = [...cFiles(path.join(repo, 'test/fixtures')), ...cFiles(path.join(repo, 'examples/linux'))]
    .filter((f) => !f.includes(`${path.sep}fuzz${path.sep}`));
  assert.ok(files.length > 30, `C files to edit: ${files.length}`);
  for (const file of files) {
    let text = readFileSync(file, 'utf8');
    if (text.length > 200_000) continue;
    let tracked = blankTracked(text);
    for (let k = 0; k < 40; k++) {
      const edit = randomEdit(text, rnd);
      const next = apply(text, edit);
      const full = blankTracked(next);
      const quick = reblankLine(text, tracked, next, edit);
      edits++;
      if (quick) {
        carried++;
        const where = `${path.relative(repo, file)}, edit ${k} ${JSON.stringify(edit)} (seed ${SEED})`;
        assert.equal(quick.result.text, full.result.text, where);
        assert.deepEqual(quick.result.annotations, full.result.annotations, where);
        assert.deepEqual(quick.result.statementMacros, full.result.statementMacros, where);
        assert.deepEqual(quick.comments, full.comments, where);
      }
      text = next;
      tracked = quick ?? full;
    }
  }
  // The equivalence means something only if many edits took the short way (most random edits
  // land in comments or type something that spans lines, and must not).
  assert.ok(carried > 200 && carried < edits * 0.9, `carried over ${carried} of ${edits} edits`);
});

test('the store carries directives and parse text over an edit exactly as a fresh scan makes them', () => {
  const rnd = mulberry32(SEED + 1);
  const file = path.join(repo, 'examples/linux/drivers/vfio/pci/vfio_example_core.c');
  let text = readFileSync(file, 'utf8');
  const store = new SourceStore();
  const fresh = new SourceStore();
  store.factsOf(store.setOverlay(file, text)).parseText;
  let checked = 0;
  for (let k = 0; k < 300; k++) {
    // Keystrokes inside statements, as typing does: a character typed at a line's indentation and removed.
    const lines = text.split('\n');
    const line = Math.floor(rnd() * lines.length);
    const start = text.split('\n').slice(0, line).join('\n').length + (line ? 1 : 0) + Math.floor(rnd() * (lines[line].length + 1));
    const edit = rnd() < 0.5 || start >= text.length ? { start, end: start, inserted: TYPED[Math.floor(rnd() * 9)] } : { start, end: start + 1, inserted: '' };
    text = apply(text, edit);
    const facts = store.factsOf(store.setOverlayEdited(file, text, edit));
    const want = fresh.factsOf(fresh.setOverlay(file, text));
    assert.equal(facts.parseText, want.parseText, `edit ${k} ${JSON.stringify(edit)}`);
    assert.deepEqual(facts.directives, want.directives, `edit ${k}`);
    assert.deepEqual(facts.blank, want.blank, `edit ${k}`);
    assert.equal(facts.lineCount, want.lineCount);
    checked++;
  }
  assert.equal(checked, 300);
});
