// The model extraction (aggregates, enums, typedefs, their attributes and positions, and the
// regions that did not parse) walks a plain copy of the tree (parse/plain-tree.ts) for texts
// without function bodies or braced initializers, and web-tree-sitter's nodes otherwise. Both
// walks run the same shipped code (model/extract.ts, generic over the node) and must give the
// same model: compared here, forcing each walk, on every unit variant and every whole text of the
// test fixtures and examples (broken code, bit-fields with missing names, declaration macros,
// pack pragmas), and of 6.12's include/uapi/linux headers on three ABIs and some kernel C.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTestBundle } from './support/engine-bundle.mjs';
import { kernel612 } from './support/kernel-612.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.dirname(here);
let temp;
let m;

before(async () => {
  temp = mkdtempSync(path.join(tmpdir(), 'vfio-review-model-'));
  m = await loadTestBundle(path.join(here, 'support/model-extract-both.ts'), temp, 'both.cjs');
});

after(() => {
  if (temp) rmSync(temp, { recursive: true, force: true });
});

const sources = (dir) => readdirSync(dir).flatMap((e) => {
  const p = path.join(dir, e);
  return statSync(p).isDirectory() ? sources(p) : /\.[ch]$/.test(e) ? [p] : [];
});

const canonical = (model) => JSON.stringify(model, (_k, v) => (v === undefined ? '<undefined>' : v));

function firstDifference(a, b) {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at ${i}:\n  nodes: …${a.slice(Math.max(0, i - 200), i + 200)}\n  plain: …${b.slice(Math.max(0, i - 200), i + 200)}`;
}

/** Both walks on one text; returns whether the text had anything to extract. */
function compareText(label, file, text, annotations, uses) {
  const tree = m.parseText(text);
  try {
    const nodes = canonical(m.extractModel(file, tree, annotations, uses, 'nodes'));
    const plain = canonical(m.extractModel(file, tree, annotations, uses, 'plain'));
    if (nodes !== plain) assert.fail(`${label}: the walks differ ${firstDifference(nodes, plain)}`);
    return nodes.length > 80;
  } finally {
    tree.delete();
  }
}

/**
 * Every variant of each file's unit on each ABI (the models the layouts and comparisons use), and
 * the file's whole blanked text with no macro uses; returns how many texts were compared.
 */
function compareFiles(root, files, abis) {
  const store = new m.SourceStore(true);
  const done = new Set();
  let compared = 0;
  let nonEmpty = 0;
  for (const file of files) {
    const src = store.read(file);
    if (!src) continue;
    const facts = store.factsOf(src);
    if (compareText(`${file} (whole text)`, file, facts.parseText, facts.blank.annotations)) nonEmpty++;
    compared++;
    const uapi = /\/include\/uapi\//.test(file);
    for (const abi of abis) {
      const predefined = { ...m.ABIS[abi].predefined };
      if (!uapi) predefined.__KERNEL__ = '1';
      const unit = m.preprocessUnit(file, { store, include: { root, abi: m.ABIS[abi], uapi, extra: [] }, predefined });
      for (const v of unit.files) {
        const key = `${v.path}\0${v.text}\0${JSON.stringify([v.declarations, v.attributes, v.packs])}`;
        if (done.has(key)) continue;
        done.add(key);
        const vsrc = store.read(v.path);
        const annotations = vsrc && vsrc.hash === v.sourceHash ? store.factsOf(vsrc).blank.annotations : [];
        if (compareText(`${v.path} (${abi} variant from ${file})`, v.path, v.text, annotations, v)) nonEmpty++;
        compared++;
      }
    }
  }
  return { compared, nonEmpty };
}

test('the plain walk and the node walk give the same models: fixtures and examples', { timeout: 300_000 }, () => {
  const files = [...sources(path.join(here, 'fixtures')), ...sources(path.join(repo, 'examples'))];
  assert.ok(files.length > 50);
  const { compared, nonEmpty } = compareFiles(undefined, files, ['x86_64', 'i386']);
  assert.ok(compared >= files.length && nonEmpty > 40, `${compared} texts, ${nonEmpty} with declarations`);
});

const tree = kernel612();

test('the plain walk and the node walk give the same models: 6.12 uapi headers and kernel C', { skip: tree ? false : 'no 6.12 tree on this machine', timeout: 900_000 }, () => {
  const uapi = path.join(tree, 'include/uapi/linux');
  const headers = readdirSync(uapi).filter((f) => f.endsWith('.h')).sort().map((f) => path.join(uapi, f));
  // The headers the benchmarks time take the plain walk.
  for (const h of ['vfio.h', 'iommufd.h', 'types.h']) assert.equal(m.worthCopying(readFileSync(path.join(uapi, h), 'utf8')), true, h);
  const { compared } = compareFiles(tree, headers, ['x86_64', 'i386', 'arm64']);
  assert.ok(compared > headers.length * 2);
  const kernelC = ['drivers/vfio/pci/vfio_pci_core.c', 'drivers/vfio/vfio_main.c', 'include/linux/vfio.h'].map((f) => path.join(tree, f));
  compareFiles(tree, kernelC, ['x86_64']);
});

test('the plain copy is taken for uapi headers, not for code with function bodies or initializers', () => {
  assert.equal(m.worthCopying('struct a {\n\tint b;\n};\n#define X(a) ((a) + 1)\nenum e { E = 1 };\n'), true);
  assert.equal(m.worthCopying('static inline int f(void)\n{\n\treturn 0;\n}\n'), false);
  assert.equal(m.worthCopying('static const struct s table[] = {\n\t{ 1 },\n};\n'), false);
  assert.equal(m.worthCopying('/* a = { 1 } */\nstruct a { int b; }; // f(x) {\n'), true);
  assert.equal(m.worthCopying('/* never closed = {'), true);
  assert.equal(m.worthCopying('struct a { int b; }; /**//* x */ int f(void) {'), false);
  assert.equal(m.worthCopying(undefined), false);
});
