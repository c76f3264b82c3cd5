// How much TurboFan inlines into one optimised function, for the commands that run long enough
// to optimise (check, patch, reply). V8's default budget (920 bytes of bytecode inlined per
// function) made the engine's large functions (the lock analysis's fixed point, the rules'
// walks) cost 100-150 ms of compilation each, and each of them is compiled several times as its
// type feedback settles: 13 s of TurboFan work over a whole-tree check, done again by every
// worker thread of `--jobs N`. With 60 bytes the compiled code is not measurably slower and
// compiles in a fraction of the time: `check` of the VFIO set 3.17 -> 2.64 s (CPU 5.25 ->
// 4.12 s), mean of 5 alternated runs; see docs/architecture.md, "Performance: the inlining budget".
//
// The language server keeps V8's default: with the budget its edits cost about the same CPU (the
// differences stayed inside the machine's noise over four alternated bench runs each), and its
// memory after 2,000 edits grew by 10.4-10.7% over the indexed state against 6.9-7.8% (target
// 10%). The short commands (layout, abi-diff) do not optimise at all (cli-loader.ts).
import v8 from 'node:v8';

/** The flag, as `node` takes it on its command line. */
export const INLINING_FLAG = '--max-inlined-bytecode-size-cumulative=60';

/** The one-shot commands that optimise (cli-loader.ts turns TurboFan off for layout and abi-diff). */
const TUNED_COMMANDS = new Set(['check', 'patch', 'reply']);

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
