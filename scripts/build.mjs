// Bundles the client, the language server, the CLI (and its worker threads) with esbuild, and copies the two wasm
// files beside the bundles (web-tree-sitter looks for them next to the running script).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, chmodSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const out = path.join(root, 'dist');
mkdirSync(out, { recursive: true });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  // web-tree-sitter is ESM-first and reads import.meta.url to find its wasm; in a CommonJS
  // bundle that has to be supplied.
  define: { 'import.meta.url': '__import_meta_url' },
  banner: { js: "const __import_meta_url = require('url').pathToFileURL(__filename).href;" },
  // No import() left in the bundles: a script compiled from V8's code cache (dist/vfio-review.js)
  // loses the callback import() needs. Node built-ins are then required, and web-tree-sitter is
  // taken in its own CommonJS build (its ESM build declares a `require` of its own that would
  // shadow the one esbuild's rewrite calls).
  supported: { 'dynamic-import': false },
  alias: { 'web-tree-sitter': require.resolve('web-tree-sitter') },
};

await Promise.all([
  build({ ...common, entryPoints: [path.join(root, 'client/src/extension.ts')], outfile: path.join(out, 'client.js'), external: ['vscode'] }),
  build({ ...common, entryPoints: [path.join(root, 'server/src/server-main.ts')], outfile: path.join(out, 'server.js') }),
  build({ ...common, entryPoints: [path.join(root, 'server/src/cli.ts')], outfile: path.join(out, 'cli.js') }),
  // The worker threads of `check --jobs N`; the CLI starts them from beside itself.
  build({ ...common, entryPoints: [path.join(root, 'server/src/check-worker.ts')], outfile: path.join(out, 'check-worker.js') }),
  // The language server's patch reviewer, started from beside server.js.
  build({ ...common, entryPoints: [path.join(root, 'server/src/patch-worker.ts')], outfile: path.join(out, 'patch-worker.js') }),
  build({ ...common, entryPoints: [path.join(root, 'server/src/engine/index.ts')], outfile: path.join(out, 'engine.js') }),
  // What bin/vfio-review runs: cli.js compiled with a code cache (server/src/startup-cache.ts).
  build({ ...common, entryPoints: [path.join(root, 'server/src/cli-loader.ts')], outfile: path.join(out, 'vfio-review.js') }),
]);

copyFileSync(require.resolve('web-tree-sitter/web-tree-sitter.wasm'), path.join(out, 'web-tree-sitter.wasm'));
copyFileSync(path.join(root, 'grammars/tree-sitter-c.wasm'), path.join(out, 'tree-sitter-c.wasm'));
chmodSync(path.join(out, 'cli.js'), 0o755);
chmodSync(path.join(out, 'vfio-review.js'), 0o755);
