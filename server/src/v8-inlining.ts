// How much TurboFan inlines into one optimised function, for the commands that run long enough
// to optimise (check, patch, reply, and the language server). V8's default budget (920 bytes of bytecode inlined per
// function) made the engine's large functions (the lock analysis's fixed point, the rules'
// walks) cost 100-150 ms of compilation each, and each of them is compiled several times as its
// type feedback settles: 13 s of TurboFan work over a whole-tree check, done again by every
// worker thread of `--jobs N`. With 60 bytes the compiled code is not measurably slower and
// compiles in a fraction of the time: `check` of the VFIO set 3.17 -> 2.64 s (CPU 5.25 ->
// 4.12 s), mean of 5 alternated runs; see docs/architecture.md, "V8 flags".
//
// The language server gains too (edit -> diagnostics p95 31.6/30.9 -> 27.7/27.1 ms, CPU per edit
// 21.3/21.1 -> 18.8/19.5 ms, two alternated bench runs each): its code was no faster for the
// extra inlining. The short commands (layout, abi-diff) do not optimise at all (cli-loader.ts).
import v8 from 'node:v8';

/** The flag, as `node` takes it on its command line. */
export const INLINING_FLAG = '--max-inlined-bytecode-size-cumulative=60';

/** The commands that optimise (cli-loader.ts turns TurboFan off for the others). */
const TUNED_COMMANDS = new Set(['check', 'patch', 'reply', 'lsp']);

let applied = false;

/**
 * Sets the inlining budget for `command` (the CLI's first argument), once per process; V8's
 * flags are the process's, so worker threads started afterwards share it. VFIO_REVIEW_V8_DEFAULTS=1
 * keeps V8's own budget (for measuring one against the other).
 */
export function tuneInlining(command: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (applied || !command || !TUNED_COMMANDS.has(command) || env.VFIO_REVIEW_V8_DEFAULTS === '1') return applied;
  v8.setFlagsFromString(INLINING_FLAG);
  applied = true;
  return true;
}
