// A PCI driver that declares .driver_managed_dma = true (it does no DMA, so the IOMMU group may
// be given to userspace while it is bound) but whose callbacks reach DMA, bus mastering, MMIO
// mapping or resets. Drivers that register a vfio_device manage ownership through VFIO: exempt.
import { lockAnalysis, rangeOf, where } from '../analyses/locks';
import { resolveCallee, type Program } from '../analyses/locks/analyse';
import type { FunctionIR, Loc } from '../analyses/locks/extract';
import { DMA_OWNERSHIP } from '../analyses/locks/primitives';
import type { Rule } from './rule';

interface Reach {
  /** Functions from the callback down to the call, and the forbidden call. */
  path: { fn: string; at: Loc }[];
  call: string;
}

/** Direct calls reachable from `start` (breadth first), stopping at the first that `want` accepts. */
function reach(program: Program, start: FunctionIR, want: (name: string) => boolean): Reach | undefined {
  const seen = new Set<FunctionIR>([start]);
  const queue: { fn: FunctionIR; path: { fn: string; at: Loc }[] }[] = [{ fn: start, path: [] }];
  while (queue.length) {
    const { fn, path } = queue.shift()!;
    for (const node of fn.cfg.nodes) {
      for (const e of node.events) {
        if (e.k !== 'call' || e.callee.kind !== 'direct') continue;
        if (want(e.callee.name)) return { path: [...path, { fn: e.callee.name, at: e.at }], call: e.callee.name };
        const next = resolveCallee(program, fn, e.callee.name);
        if (next && !seen.has(next)) {
          seen.add(next);
          queue.push({ fn: next, path: [...path, { fn: next.name, at: e.at }] });
        }
      }
    }
  }
  return undefined;
}

export const dmaOwnerViolation: Rule = {
  id: 'dma-owner-violation',
  defaultSeverity: 'error',
  summary: 'A PCI driver with .driver_managed_dma = true whose callbacks do DMA, bus mastering, MMIO mapping or resets.',
  scope: 'kernel',
  cost: 'project',
  run(ctx, report) {
    const { program, root } = lockAnalysis(ctx);
    const ir = program.files.get(ctx.file);
    if (!ir) return;
    const forbidden = (n: string) => DMA_OWNERSHIP.forbidden.some((r) => r.test(n));
    for (const init of ir.initializers) {
      if (init.type !== DMA_OWNERSHIP.driverStruct || init.fields.get(DMA_OWNERSHIP.flagField)?.trim() !== 'true') continue;
      const callbacks = [...init.fields.entries()]
        .map(([field, value]) => ({ field, fn: program.byName.get(value.trim())?.find((f) => f.file === ctx.file) ?? program.byName.get(value.trim())?.[0] }))
        .filter((c): c is { field: string; fn: FunctionIR } => !!c.fn);
      // A VFIO driver: it hands the device to userspace through a vfio_device.
      if (callbacks.some((c) => reach(program, c.fn, (n) => DMA_OWNERSHIP.registersVfioDevice.has(n)))) continue;
      for (const c of callbacks) {
        const r = reach(program, c.fn, forbidden);
        if (!r) continue;
        const last = r.path[r.path.length - 1];
        report({
          range: rangeOf(init.fieldAt.get(DMA_OWNERSHIP.flagField) ?? init.at),
          message: `${init.name} sets .${DMA_OWNERSHIP.flagField} = true and registers no vfio_device, but its .${c.field} callback reaches ${r.call}(): ${[c.fn.name, ...r.path.map((h) => h.fn)].join(' -> ')} at ${where(last.at, root)}. The IOMMU group may be owned by userspace while this driver is bound.`,
          related: r.path.map((h) => ({ file: h.at.file, range: rangeOf(h.at), message: `calls ${h.fn}` })),
        });
      }
    }
  },
};
