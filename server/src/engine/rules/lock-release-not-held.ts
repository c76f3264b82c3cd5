// A lock released twice on a path: after the first release, and before any new acquisition, the
// function unlocks it again (an error path that unlocks what the normal path already unlocked).
import { lockAnalysis, rangeOf, where } from '../analyses/locks';
import type { Rule } from './rule';

export const lockReleaseNotHeld: Rule = {
  id: 'lock-release-not-held',
  defaultSeverity: 'error',
  summary: 'A lock is released on a path where this function already released it.',
  scope: 'kernel',
  cost: 'project',
  run(ctx, report) {
    const { result, root } = lockAnalysis(ctx);
    for (const f of result.findings) {
      if (f.kind !== 'release-not-held' || f.fn.file !== ctx.file) continue;
      report({
        range: rangeOf(f.at),
        message: `\`${f.lock.display}\` is released in ${f.fn.name} but is not held on this path: it was already released at ${where(f.other ?? f.at, root)}.`,
        related: f.other ? [{ file: f.other.file, range: rangeOf(f.other), message: 'released here first' }] : [],
      });
    }
  },
};
