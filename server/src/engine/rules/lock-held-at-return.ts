// A return that leaves a lock held which other returns of the same function release: an unlock
// missing on one path (usually an early error return). Functions that return holding the lock on
// every path (lock wrappers) and functions annotated __acquires are not reported.
import { lockAnalysis, rangeOf, where } from '../analyses/locks';
import type { Rule } from './rule';

export const lockHeldAtReturn: Rule = {
  id: 'lock-held-at-return',
  defaultSeverity: 'error',
  summary: 'A return leaves a lock held that the function releases on its other paths.',
  scope: 'kernel',
  cost: 'project',
  run(ctx, report) {
    const { result, root } = lockAnalysis(ctx);
    for (const f of result.findings) {
      if (f.kind !== 'held-at-return' || f.fn.file !== ctx.file) continue;
      report({
        range: rangeOf(f.at),
        message: `${f.fn.name} returns here with \`${f.lock.display}\` held (acquired at ${where(f.other ?? f.at, root)}), but releases it before its other returns.`,
        related: f.other ? [{ file: f.other.file, range: rangeOf(f.other), message: 'acquired here' }] : [],
      });
    }
  },
};
