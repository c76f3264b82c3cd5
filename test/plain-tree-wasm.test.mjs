// parse/plain-tree.ts copies each tree with a cursor that calls web-tree-sitter's wasm exports
// directly (parse/wasm-cursor.ts), leaving out the JavaScript wrapper's marshalling. The copy must
// be the one web-tree-sitter's own TreeCursor gives: every node's type, field, range, text, error
// flag and children, compared on every C file of the fixtures (syntax errors, MISSING and ERROR
// leaves, the fuzz regressions) and examples, and on 6.12's lock index when this machine has it.
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

const waysModule = (dir) => loadTestBundle(path.join(here, 'support/plain-tree-ways.ts'), dir, 'ways.cjs');

const cFiles = (dir) => readdirSync(dir).flatMap((e) => {
  const p = path.join(dir, e);
  return statSync(p).isDirectory() ? cFiles(p) : /\.[ch]$/.test(e) ? [p] : [];
});

/** Everything the copy holds, depth first, as lines. */
function dump(root) {
  const lines = [];
  const stack = [[root, 0]];
  while (stack.length) {
    const [n, depth] = stack.pop();
    lines.push(`${depth} ${n.id} ${n.type} ${n.field ?? '-'} ${n.isNamed} ${n.startIndex}-${n.endIndex} ${n.hasError} ${n.parent?.id ?? '-'}`);
    for (let i = n.children.length - 1; i >= 0; i--) stack.push([n.children[i], depth + 1]);
  }
  return lines;
}

/** Compares the two ways on each file; returns [nodes, files with syntax errors]. */
function compareOn(m, files) {
  const store = new m.SourceStore();
  let nodes = 0;
  let withErrors = 0;
  for (const file of files) {
    const source = store.read(file);
    if (!source) continue;
    const tree = m.parseText(store.factsOf(source).parseText);
    try {
      const viaWasm = dump(m.plainTree(tree));
      const viaCursor = dump(m.plainTree(tree, { viaWasm: false }));
      if (tree.rootNode.hasError) withErrors++;
      for (let i = 0; i < Math.max(viaWasm.length, viaCursor.length); i++) {
        if (viaWasm[i] !== viaCursor[i]) assert.fail(`${file}: node ${i} differs\n  cursor: ${viaCursor[i]}\n  wasm:   ${viaWasm[i]}`);
      }
      nodes += viaWasm.length;
      // web-tree-sitter still works on the tree afterwards (the transfer buffer was left usable).
      assert.equal(tree.rootNode.descendantsOfType('translation_unit').length, 1, file);
    } finally {
      tree.delete();
    }
  }
  return [nodes, withErrors];
}

test('the plain tree copied through wasm equals the copy through web-tree-sitter\'s cursor on every fixture and example file', { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-wasm-cursor-'));
  try {
    const m = await waysModule(dir);
    const [nodes, withErrors] = compareOn(m, [...cFiles(path.join(here, 'fixtures')), ...cFiles(path.join(repo, 'examples'))].sort());
    // Found at the first Parser.init and checked against web-tree-sitter's cursor on the first tree
    // copied: otherwise every copy took the fallback and the comparison compared it with itself.
    assert.ok(m.wasmCursorAvailable(), 'the wasm cursor is not in use');
    assert.ok(nodes > 10_000 && withErrors > 5, `${nodes} nodes, ${withErrors} files with syntax errors`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the plain tree copied through wasm equals the copy through web-tree-sitter\'s cursor on 6.12\'s lock index', { timeout: 600_000 }, async (t) => {
  const kernel = kernel612();
  if (!kernel) return t.skip('no 6.12 tree on this machine (../shared/scripts/kernel-src 6.12)');
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-wasm-cursor-'));
  try {
    const m = await waysModule(dir);
    const files = [...cFiles(path.join(kernel, 'drivers/vfio')), ...cFiles(path.join(kernel, 'drivers/iommu/iommufd'))];
    const [nodes] = compareOn(m, files);
    assert.ok(nodes > 150_000, `only ${nodes} nodes compared`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
