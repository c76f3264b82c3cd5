// A slot or bus reset (every device of the dev_set goes through reset) called where no dev_set
// lock is held, in a function that is not itself required to hold one.
import { lockAnalysis, rangeOf } from '../analyses/locks';
import { resolveCallee } from '../analyses/locks/analyse';
import type { LockPath } from '../analyses/locks/paths';
import { DEVSET_LOCK_CLASS, DEVSET_LOCK_PATH, DEVSET_RESETS } from '../analyses/locks/primitives';
import type { Rule } from './rule';

const isDevsetLock = (l: LockPath) => l.cls === DEVSET_LOCK_CLASS || (!l.cls && DEVSET_LOCK_PATH.test(l.display));

export const resetWithoutDevsetLock: Rule = {
  id: 'reset-without-devset-lock',
  defaultSeverity: 'error',
  summary: 'A slot or bus reset is called without the dev_set lock that serialises the devices it resets.',
  scope: 'kernel',
  cost: 'project',
  run(ctx, report) {
    const { program, result } = lockAnalysis(ctx);
    for (const [fn, points] of result.heldAt) {
      if (fn.file !== ctx.file) continue;
      const own = [...(result.summaries.get(fn)?.requires.values() ?? [])].map((r) => r.path);
      if (own.some(isDevsetLock)) continue;
      for (const p of points) {
        if (!p.call || !DEVSET_RESETS.has(p.call)) continue;
        if (p.held.some((h) => isDevsetLock(h.path))) continue;
        // A reset helper defined in the index is judged by its own body (it may take the lock
        // itself, or assert it: then lock-not-held reports its callers).
        if (resolveCallee(program, fn, p.call)) continue;
        report({
          range: rangeOf(p.at),
          message: `${p.call}() resets every device of the slot or bus, but ${fn.name} does not hold the dev_set lock here (${DEVSET_LOCK_CLASS}): open, close and reset of the other devices can run concurrently.`,
        });
      }
    }
  },
};
