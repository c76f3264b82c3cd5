// An open document's tree is reparsed when it is next read, not on every change: a burst of
// keystrokes (typed while a check runs, or within the debounce) is one reparse of all of them.
// The findings after a burst must be those of a fresh engine given the resulting text: checked
// on seeded random bursts of edits of every C file of the fixtures and the example tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, liveTreeCount } from '../../dist/engine.js';
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

const TYPED = [' ', 'x', ';', '(', ')', '{', '}', '__user', 'flags', '|', '&', '~', '-1', 'struct ', '/*', '*/', '#', '\n', '\t'];

/** The LSP position of an offset. */
function positionAt(text, offset) {
  const before = text.slice(0, offset);
  const line = before.split('\n').length - 1;
  return { line, character: offset - (before.lastIndexOf('\n') + 1) };
}

/** A random LSP change of `text`, and the text after it. */
function randomChange(text, rnd) {
  const start = Math.floor(rnd() * (text.length + 1));
  const end = rnd() < 0.5 ? start : Math.min(text.length, start + 1 + Math.floor(rnd() * 4));
  const inserted = end > start && rnd() < 0.5 ? '' : TYPED[Math.floor(rnd() * TYPED.length)];
  const change = { range: { start: positionAt(text, start), end: positionAt(text, end) }, text: inserted };
  return { change, after: text.slice(0, start) + inserted + text.slice(end) };
}

const findings = (list) => JSON.stringify(list.map(({ rule, range, message, severity }) => ({ rule, range, message, severity })));

test('findings after bursts of unparsed edits equal those of a fresh engine on the same text', async () => {
  const rnd = mulberry32(SEED);
  const files = [...cFiles(path.join(repo, 'test/fixtures')), ...cFiles(path.join(repo, 'examples/linux'))]
    .filter((f) => !f.includes(`${path.sep}fuzz${path.sep}`));
  assert.ok(files.length > 30, `C files to edit: ${files.length}`);
  const edited = await createEngine({ arches: ['x86_64', 'i386'] });
  let compared = 0;
  let withFindings = 0;
  for (const file of files) {
    let text = readFileSync(file, 'utf8');
    let version = 1;
    const trees = liveTreeCount();
    edited.openDocument(file, text, version);
    for (let burst = 0; burst < 3; burst++) {
      // One to five changes before anything reads the tree.
      const n = 1 + Math.floor(rnd() * 5);
      for (let k = 0; k < n; k++) {
        const { change, after } = randomChange(text, rnd);
        edited.changeDocument(file, [change], ++version);
        text = after;
      }
      const got = edited.check(file, undefined, { projectRules: false });
      const fresh = await createEngine({ arches: ['x86_64', 'i386'] });
      fresh.openDocument(file, text, 1);
      const want = fresh.check(file, undefined, { projectRules: false });
      fresh.dispose();
      assert.equal(findings(got), findings(want), `${path.relative(repo, file)} after burst ${burst} (seed ${SEED})`);
      compared++;
      if (want.length) withFindings++;
    }
    // Every tree the edits and checks made is gone with the document.
    edited.closeDocument(file);
    assert.equal(liveTreeCount(), trees, `live trees after editing and closing ${path.relative(repo, file)}`);
  }
  assert.ok(withFindings > 10, `bursts whose text has findings: ${withFindings} of ${compared}`);
});
