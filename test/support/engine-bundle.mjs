// A bundle of engine modules for a test that needs more than dist/engine.js exports, built as
// scripts/build.mjs builds dist/ (CommonJS, web-tree-sitter's CommonJS build, import.meta.url
// from a banner) and put beside the two wasm files web-tree-sitter loads from its own folder.
import { copyFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repo = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));

/** Bundles `entry` to `dir/name` (a .cjs file) and returns that file's path. */
export async function buildTestBundle(entry, dir, name) {
  const outfile = path.join(dir, name);
  await build({
    entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', outfile, logLevel: 'warning',
    alias: { 'web-tree-sitter': createRequire(path.join(repo, 'package.json')).resolve('web-tree-sitter') },
    define: { 'import.meta.url': '__import_meta_url' }, banner: { js: "const __import_meta_url = require('url').pathToFileURL(__filename).href;" },
  });
  for (const wasm of ['web-tree-sitter.wasm', 'tree-sitter-c.wasm']) copyFileSync(path.join(repo, 'dist', wasm), path.join(dir, wasm));
  return outfile;
}

/**
 * The engine's public surface (server/src/engine/index.ts) and more of its modules' exports,
 * bundled to `dir/engine.cjs`: `extra` maps a module (relative to server/src/engine) to the names
 * it adds. Returns the bundle's path.
 */
export async function buildEngineBundle(dir, extra) {
  const engine = (rel) => JSON.stringify(path.join(repo, 'server/src/engine', rel));
  const entry = path.join(dir, 'entry.ts');
  writeFileSync(entry, [
    `export * from ${engine('index.ts')};`,
    ...Object.entries(extra).map(([rel, names]) => `export { ${names.join(', ')} } from ${engine(rel)};`),
  ].join('\n'));
  return buildTestBundle(entry, dir, 'engine.cjs');
}

/** The bundle of `entry` required, with its parser loaded (the entry exports loadParser). */
export async function loadTestBundle(entry, dir, name) {
  const m = createRequire(import.meta.url)(await buildTestBundle(entry, dir, name));
  await m.loadParser();
  return m;
}
