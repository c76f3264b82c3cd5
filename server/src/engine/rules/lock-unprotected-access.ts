// A field read (or iterated) outside the lock that every other access to it in the index holds:
// "3 of 4 accesses hold dev_set->lock". Reported only when the read is the single exception,
// enough accesses agree, and a path from an entry point reaches it without the lock.
import { lockAnalysis, rangeOf, where } from '../analyses/locks';
import { unprotectedAccesses, type UnprotectedAccess } from '../analyses/locks/accesses';
import type { Rule } from './rule';

/** `vfio_device_fops_unl_ioctl -> vfio_pci_core_ioctl (device->ops->ioctl) -> ...` */
function chainOf(u: UnprotectedAccess): string {
  const names = [u.path.root.name];
  u.path.hops.forEach((h, i) => {
    const callee = u.path.hops[i + 1]?.caller ?? u.fn;
    if (h.kind === 'field') names.push(`${callee.name} (through ${h.via})`);
    else if (h.kind === 'callback') names.push(h.via, callee.name);
    else names.push(callee.name);
  });
  return names.join(' -> ');
}

export const lockUnprotectedAccess: Rule = {
  id: 'lock-unprotected-access',
  defaultSeverity: 'warning',
  summary: 'A field that every other access in the index makes under a lock is read here without it.',
  scope: 'kernel',
  cost: 'project',
  run(ctx, report) {
    const { program, result, root, outsider } = lockAnalysis(ctx);
    // The index's result serves every file of the index: judged whole, once. A file outside it
    // has a program of its own, of which only its own findings are ever read.
    for (const u of unprotectedAccesses(program, result, outsider ? ctx.file : undefined)) {
      if (u.fn.file !== ctx.file) continue;
      const ev = u.access.event;
      const ext = u.path.external;
      report({
        range: rangeOf(ev.at),
        message: `\`${ev.expr}\` is ${ev.kind === 'iterate' ? 'iterated' : 'read'} without \`${u.lockDisplay}\`: ${u.protectedCount} of ${u.total} accesses hold ${u.lockDisplay} (${u.access.cls} under ${u.lockClass}, over the index); this is the only one that does not. Reached without the lock from ${ext.table ? `${ext.table}.${ext.field}` : `.${ext.field}`}: ${chainOf(u)}.`,
        related: [
          ...u.evidence.map((e) => ({ file: e.at.file, range: rangeOf(e.at), message: `${e.fn.name} accesses it with the lock held: ${e.how}` })),
          { file: ext.at.file, range: rangeOf(ext.at), message: `entry point ${u.path.root.name}: .${ext.field} of struct ${ext.type}, not called in the index (${where(ext.at, root)})` },
        ],
      });
    }
  },
};
