// dist/vfio-review.js, what `vfio-review` runs: the CLI bundle (dist/cli.js, beside this file)
// compiled with a V8 code cache kept in the cache folder (code-cache/), and for the short
// commands, WebAssembly left at its baseline compiler (see docs/architecture.md, "Performance:
// layout, abi-diff and the whole-uapi comparison").
import path from 'node:path';
import v8 from 'node:v8';
import { defaultCacheDir } from './engine/cache/entries';
import { runBundle } from './startup-cache';
import { INLINING_FLAG, tuneInlining } from './v8-inlining';

/**
 * Commands that parse a few headers and end: optimising tree-sitter's wasm with TurboFan costs
 * them more CPU (about 0.25 s for vfio.h) than it ever saves, and so does optimising their
 * JavaScript (abi-diff of vfio.h: 0.41 -> 0.34 s CPU, median of 12 alternated runs; layout 0.29 ->
 * 0.26 s). Long runs (check, patch, lsp) keep V8's tiering.
 */
const SHORT_COMMANDS = new Set(['layout', 'abi-diff', '--version', '--help', '-h']);
const SHORT_FLAGS = ['--liftoff-only', '--no-opt'];

/** The code cache's folder from the command line as the CLI reads it: --no-cache, --cache DIR, or the default. */
export function codeCacheFolder(args: string[], env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.VFIO_REVIEW_CODE_CACHE === '0') return undefined;
  let dir: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') break;
    if (arg === '--no-cache') return undefined;
    if (arg === '--cache' && i + 1 < args.length) dir = args[++i];
    else if (arg.startsWith('--cache=')) dir = arg.slice('--cache='.length);
  }
  return path.join(path.resolve(dir ?? defaultCacheDir(env)), 'code-cache');
}

const args = process.argv.slice(2);
const short = SHORT_COMMANDS.has(args[0]);
if (short) for (const flag of SHORT_FLAGS) v8.setFlagsFromString(flag);
// Set before the bundle is compiled (cli.js sets it again, to no effect): V8 refuses a code cache
// made under other flags, so each set of flags has its own entry.
const tuned = tuneInlining(args[0]);
const variant = short ? SHORT_FLAGS.join(' ') : tuned ? INLINING_FLAG : 'default';
const run = runBundle(path.join(__dirname, 'cli.js'), module, codeCacheFolder(args), variant);
if (process.env.VFIO_REVIEW_CACHE_STATS && run.entry) process.stderr.write(`vfio-review: code cache ${run.outcome}: ${run.entry}\n`);
