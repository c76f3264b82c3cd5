// The lock extraction reads a plain copy of each tree (parse/plain-tree.ts) instead of walking
// web-tree-sitter's Node API. Its IR (each function's CFG, events, parameters, locals, aliases,
// and the file's structs, globals and initializers) must be what the same extraction gives over
// web-tree-sitter's own nodes (extractTree with tree.rootNode), on the same trees: every C file
// of the test fixtures and examples (syntax errors, bodies too deep for a CFG, kernel-style lock
// code, the fuzz regressions), and 6.12's drivers/vfio, drivers/iommu/iommufd and
// include/linux/vfio*.h when this machine has the tree. The copy itself is compared node by node
// with web-tree-sitter's nodes on the fixtures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTestBundle } from './support/engine-bundle.mjs';
import { kernel612 } from './support/kernel-612.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.dirname(here);

/** The shipped extraction in one bundle, beside the wasm files it loads. */
const bothModule = (dir) => loadTestBundle(path.join(here, 'support/lock-extract-both.ts'), dir, 'both.cjs');

const cFiles = (dir) => readdirSync(dir).flatMap((e) => {
  const p = path.join(dir, e);
  return statSync(p).isDirectory() ? cFiles(p) : /\.[ch]$/.test(e) ? [p] : [];
});

/** The IR as text: Maps and Sets kept, undefined spelled out. */
const canonical = (ir) => JSON.stringify(ir, (_k, v) => (v instanceof Map ? { map: [...v] } : v instanceof Set ? { set: [...v] } : v === undefined ? '<undefined>' : v));

function firstDifference(a, b) {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at ${i}:\n  reference: …${a.slice(Math.max(0, i - 160), i + 160)}\n  plain:     …${b.slice(Math.max(0, i - 160), i + 160)}`;
}

/** Compares the extraction over both trees on each file; returns the number of functions compared. */
function compareOn(m, files) {
  const store = new m.SourceStore();
  let functions = 0;
  for (const file of files) {
    const src = store.read(file);
    if (!src) continue;
    const facts = store.factsOf(src);
    const tree = m.parseText(facts.parseText);
    try {
      // Both ways of reading #if blocks: opened (the index, C files) and closed (other headers).
      for (const open of [true, false]) {
        const reference = canonical(m.extractTree(file, tree.rootNode, facts.blank, open));
        const ir = m.extractFile(file, tree, facts.blank, open);
        const plain = canonical(ir);
        assert.ok(reference === plain, `${file} (#if blocks ${open ? 'opened' : 'closed'}): the IR differs ${firstDifference(reference, plain)}`);
        if (open) functions += ir.functions.length;
      }
    } finally {
      tree.delete();
    }
  }
  return functions;
}

const allFixtureFiles = [...cFiles(path.join(here, 'fixtures')), ...cFiles(path.join(repo, 'examples'))].sort();

test('lock IR from the plain tree equals the IR from web-tree-sitter\'s nodes on every fixture and example file', { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-plain-'));
  try {
    const m = await bothModule(dir);
    const functions = compareOn(m, allFixtureFiles);
    // The fixtures hold well over a hundred functions: an extraction that found none would pass vacuously.
    assert.ok(functions > 100, `only ${functions} functions compared`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lock IR from the plain tree equals the IR from web-tree-sitter\'s nodes on 6.12 drivers/vfio, iommufd and include/linux/vfio*.h', { timeout: 600_000 }, async (t) => {
  const kernel = kernel612();
  if (!kernel) return t.skip('no 6.12 tree on this machine (../shared/scripts/kernel-src 6.12)');
  const files = [
    ...cFiles(path.join(kernel, 'drivers/vfio')),
    ...cFiles(path.join(kernel, 'drivers/iommu/iommufd')),
    ...readdirSync(path.join(kernel, 'include/linux')).filter((f) => /^vfio.*\.h$/.test(f)).map((f) => path.join(kernel, 'include/linux', f)),
  ];
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-plain-'));
  try {
    const m = await bothModule(dir);
    const functions = compareOn(m, files);
    assert.ok(functions > 1000, `only ${functions} functions compared`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A file outside the lock index whose tree shows no function definition and no initializer list
// where the extraction looks is answered by the index without being extracted
// (mayHoldFunctionsOrInitializers): its IR must have neither, on every file where it says so,
// with #if blocks opened or closed.
test('a tree without functions or initializer lists at its top level extracts to no functions and no initializers (fixtures, 6.12 include/linux)', { timeout: 600_000 }, async (t) => {
  const kernel = kernel612();
  const files = [...allFixtureFiles, ...(kernel ? readdirSync(path.join(kernel, 'include/linux')).filter((f) => f.endsWith('.h')).map((f) => path.join(kernel, 'include/linux', f)) : [])];
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-plain-'));
  try {
    const m = await bothModule(dir);
    const store = new m.SourceStore();
    let without = 0;
    let withSome = 0;
    for (const file of files) {
      const src = store.read(file);
      if (!src) continue;
      const facts = store.factsOf(src);
      const tree = m.parseText(facts.parseText);
      try {
        for (const open of [true, false]) {
          const ir = m.extractFile(file, tree, facts.blank, open);
          const some = ir.functions.length + ir.skipped.length + ir.initializers.length > 0;
          if (!m.mayHoldFunctionsOrInitializers(tree, open)) {
            if (!open) without++;
            assert.ok(!some, `${file} (#if blocks ${open ? 'opened' : 'closed'}): ${ir.functions.length} functions, ${ir.initializers.length} initializers`);
          } else if (some && open) withSome++;
        }
      } finally {
        tree.delete();
      }
    }
    t.diagnostic(`${without} files without (blocks closed), ${withSome} with functions or initializers (blocks opened)`);
    assert.ok(without >= 5 && withSome >= 50, `${without} without, ${withSome} with`);
    if (kernel) assert.ok(without >= 300, `${without} headers of 6.12 include/linux without`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the plain tree has the type, range, text, error flag and fields of every named node', { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-plain-'));
  try {
    const m = await bothModule(dir);
    const store = new m.SourceStore();
    let nodes = 0;
    let withErrors = 0;
    for (const file of allFixtureFiles) {
      // A fuzz fixture with NUL bytes is no source file to the store (nothing parses it).
      const source = store.read(file);
      if (!source) continue;
      const tree = m.parseText(store.factsOf(source).parseText);
      try {
        const plainRoot = m.plainTree(tree);
        if (tree.rootNode.hasError) withErrors++;
        const kinds = ['struct_specifier', 'union_specifier', 'call_expression', 'initializer_pair', 'return_statement'];
        assert.deepEqual(plainRoot.descendantsOfType(kinds).map((n) => n.startIndex), tree.rootNode.descendantsOfType(kinds).map((n) => n.startIndex), file);
        const pairs = [[tree.rootNode, plainRoot]];
        while (pairs.length) {
          const [real, plain] = pairs.pop();
          nodes++;
          const where = `${file}:${real.startPosition.row + 1}:${real.startPosition.column + 1} ${real.type}`;
          assert.equal(plain.type, real.type, where);
          assert.deepEqual([plain.startIndex, plain.endIndex, plain.startPosition, plain.endPosition], [real.startIndex, real.endIndex, real.startPosition, real.endPosition], where);
          assert.equal(plain.text, real.text, where);
          assert.equal(plain.hasError, real.hasError, where);
          // Punctuation is left out of the copy but for a block's closing brace (its return position).
          if (real.type === 'compound_statement') assert.deepEqual([plain.lastChild?.type, plain.lastChild?.startIndex], [real.lastChild?.type, real.lastChild?.startIndex], where);
          const realNamed = real.namedChildren;
          assert.deepEqual(plain.namedChildren.map((c) => c.type), realNamed.map((c) => c.type), where);
          for (let i = 0; i < real.childCount; i++) {
            const field = real.fieldNameForChild(i);
            if (!field) continue;
            assert.equal(plain.childForFieldName(field)?.startIndex, real.childForFieldName(field)?.startIndex, `${where} field ${field}`);
            assert.deepEqual(plain.childrenForFieldName(field).map((c) => c.type), real.childrenForFieldName(field).map((c) => c.type), `${where} field ${field}`);
          }
          realNamed.forEach((c, i) => pairs.push([c, plain.namedChildren[i]]));
        }
      } finally {
        tree.delete();
      }
    }
    assert.ok(nodes > 10_000 && withErrors > 0, `${nodes} nodes, ${withErrors} files with syntax errors`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
