// A lock taken again on a path where it is already held: a self-deadlock for mutexes and
// spinlocks (the `_nested` variants, which take a different instance of the class, are exempt).
import { lockAnalysis, rangeOf, where } from '../analyses/locks';
import type { Rule } from './rule';

export const lockDoubleAcquire: Rule = {
  id: 'lock-double-acquire',
  defaultSeverity: 'error',
  summary: 'A lock is acquired on a path where it is already held (self-deadlock).',
  scope: 'kernel',
  cost: 'project',
  run(ctx, report) {
    const { result, root } = lockAnalysis(ctx);
    for (const f of result.findings) {
      if (f.kind !== 'double-acquire' || f.fn.file !== ctx.file) continue;
      report({
        range: rangeOf(f.at),
        message: `\`${f.lock.display}\` is acquired again in ${f.fn.name} while already held (taken at ${where(f.other ?? f.at, root)}): this deadlocks.`,
        related: f.other ? [{ file: f.other.file, range: rangeOf(f.other), message: 'first acquired here' }] : [],
      });
    }
  },
};
