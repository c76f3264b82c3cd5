// The kernel flag index builds each uapi header's flag model on the engine's own unit of that
// header (RuleContext.project.uapiUnit: cached, its models shared with the layouts and with the
// other headers' units) instead of preprocessing and parsing the header's include closure again.
// Both ways must give the same index: compared here on every C file of the flag fixtures and,
// when this machine has it, on the kernel C files of 6.12's VFIO set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { kernel612 } from './support/kernel-612.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.dirname(here);

/**
 * Two independent copies of the engine with kernelFlagIndex (each its own module state: header
 * caches, parser), so that neither way of building reads what the other cached. They load the
 * parser's wasm from their folder, which `done()` removes.
 */
async function twoEngines() {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-flags-share-'));
  const entry = path.join(dir, 'entry.ts');
  writeFileSync(entry, [
    `export * from ${JSON.stringify(path.join(repo, 'server/src/engine/index.ts'))};`,
    `export { kernelFlagIndex } from ${JSON.stringify(path.join(repo, 'server/src/engine/analyses/flags/kernel.ts'))};`,
  ].join('\n'));
  for (const wasm of ['web-tree-sitter.wasm', 'tree-sitter-c.wasm']) copyFileSync(path.join(repo, 'dist', wasm), path.join(dir, wasm));
  const copies = [];
  for (const name of ['shared.cjs', 'own.cjs']) {
    const outfile = path.join(dir, name);
    // As scripts/build.mjs does for the bundles.
    await build({
      entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', outfile, logLevel: 'warning',
      define: { 'import.meta.url': '__import_meta_url' },
      banner: { js: "const __import_meta_url = require('url').pathToFileURL(__filename).href;" },
    });
    copies.push(createRequire(import.meta.url)(outfile));
  }
  return { copies, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The index as text: Maps and Sets as entry lists, bigints as strings, functions left out. */
function canonical(index) {
  const { macros, fields, dependencies, discriminants } = index;
  return JSON.stringify({ macros, fields, dependencies, discriminants }, (_k, v) => {
    if (v instanceof Map) return [...v];
    if (v instanceof Set) return [...v];
    if (typeof v === 'bigint') return `${v}n`;
    return v;
  });
}

/** kernelFlagIndex of `file` as the rules build it, with or without the engine's units. */
function indexOf(engineModule, analyser, file, shared) {
  return analyser.withTree(file, (tree, text) => {
    const src = analyser.store.read(file);
    const facts = analyser.store.factsOf(src);
    const root = analyser.rootFor(file);
    const project = { store: analyser.store, root, options: { root } };
    if (shared) project.uapiUnit = (header, abi) => (analyser.isUapi(header) && analyser.rootFor(header) === root ? analyser.unit(header, abi) : undefined);
    const ctx = {
      file, uapi: false, arches: analyser.arches, layouts: new Map(), models: new Map(), parseProblems: [], unitProblems: [], memo: new Map(),
      source: { text, tree, blank: facts.blank, directives: facts.directives },
      project,
    };
    const index = engineModule.kernelFlagIndex(ctx);
    // Evaluations through the header's macros and layout engine, for every field's owner.
    const evaluated = [...index.fields.values()].map((f) => {
      const size = index.evaluate(f.owner, `sizeof(${f.owner})`);
      return [f.owner, size ? `${size.v}${size.unsigned ? 'u' : ''}` : null];
    });
    return `${canonical(index)}\n${JSON.stringify(evaluated)}`;
  });
}

async function compareOn(root, files) {
  const { copies: [sharedModule, ownModule], done } = await twoEngines();
  let sharedEngine;
  let ownEngine;
  let nonEmpty = 0;
  try {
    sharedEngine = await sharedModule.createEngine({ root });
    ownEngine = await ownModule.createEngine({ root });
    for (const file of files) {
      const viaUnits = indexOf(sharedModule, sharedEngine, file, true);
      const own = indexOf(ownModule, ownEngine, file, false);
      assert.equal(viaUnits, own, path.relative(root, file));
      if (!viaUnits.startsWith('{"macros":[]')) nonEmpty++;
    }
  } finally {
    sharedEngine?.dispose();
    ownEngine?.dispose();
    done();
  }
  return nonEmpty;
}

const cFiles = (dir) => readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && /\.c$/.test(e.name)).map((e) => path.join(e.parentPath ?? e.path, e.name)).sort();

test('flag fixtures: the kernel flag index is the same on the engine\'s units as on its own parse', async () => {
  const root = path.join(here, 'fixtures/flags/linux');
  const files = cFiles(root);
  assert.ok(files.length >= 2);
  assert.equal(await compareOn(root, files), files.length, 'every fixture reaches a uapi header with flags');
});

const kernel = kernel612();

test('6.12: the same index both ways on every C file of drivers/vfio and drivers/iommu/iommufd', { skip: !kernel && 'no 6.12 tree', timeout: 600_000 }, async () => {
  const files = [...cFiles(path.join(kernel, 'drivers/vfio')), ...cFiles(path.join(kernel, 'drivers/iommu/iommufd'))];
  const nonEmpty = await compareOn(kernel, files);
  assert.ok(nonEmpty > 20, `${nonEmpty} files with flag facts`);
});
