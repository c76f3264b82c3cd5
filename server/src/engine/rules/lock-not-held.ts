// A call of a function that requires a lock (lockdep_assert_held, __must_hold, or transitively
// through its callees and callbacks) on a path where the caller does not hold it, and where the
// lock is the caller's own to take (not one its callers are expected to hold).
import { lockAnalysis, rangeOf, where } from '../analyses/locks';
import type { Rule } from './rule';

export const lockNotHeld: Rule = {
  id: 'lock-not-held',
  defaultSeverity: 'error',
  summary: 'A function that requires a lock (lockdep_assert_held, __must_hold) is called where the lock is not held.',
  scope: 'kernel',
  cost: 'project',
  run(ctx, report) {
    const { result, root } = lockAnalysis(ctx);
    const seen = new Set<string>();
    for (const v of result.violations) {
      if (v.fn.file !== ctx.file) continue;
      const key = `${v.at.line}:${v.at.character}:${v.lock.display}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const names = [v.fn.name, ...v.chain.map((h) => h.fn)];
      const origin = `${v.req.origin.text} at ${where(v.req.origin.at, root)}`;
      const identity = v.lock.cls ? ` (lock class ${v.lock.cls})` : ` (lock class unknown: compared by path and field name \`${v.lock.field}\` only)`;
      report({
        range: rangeOf(v.at),
        message: `\`${v.lock.display}\` is not held here, but the call requires it: ${names.join(' -> ')} -> ${origin}${identity}.`,
        related: [
          ...v.chain.slice(1).map((h) => ({ file: h.at.file, range: rangeOf(h.at), message: `calls ${h.fn}` })),
          { file: v.req.origin.at.file, range: rangeOf(v.req.origin.at), message: `${v.req.origin.fn} requires the lock: ${v.req.origin.text}` },
        ],
      });
    }
  },
};
