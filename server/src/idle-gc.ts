// Garbage collection when the user stops typing. Each edit leaves a few megabytes behind (texts,
// blanked texts, tree walks), and Node's V8 grows its heap for them rather than collect: the
// server sat at 290 MB after 2,000 edits of vfio_pci_core.c with 40 MB live, and V8's memory
// reducer never ran while idle. A full collection once the user pauses (~50-100 ms, off the
// typing path) gives the memory back.
import v8 from 'node:v8';
import vm from 'node:vm';

export interface IdleCollector {
  /** Something allocated (an edit, an open): collect once things have been quiet for a while. */
  touch(): void;
  /** Collections made so far (for the server's stats request). */
  readonly collections: number;
  dispose(): void;
}

/** The engine's `gc()`: exposed by `--expose-gc`, else enabled now (the flag only makes it callable). */
function gcFunction(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * @param options.minGrowthBytes growth of the heap in use, since the last collection, below
 * which a pause collects nothing; with `growthRatio`, the same as a share of what was live then.
 */
export function createIdleCollector(options: { idleMs: number; minGrowthBytes: number; growthRatio: number }): IdleCollector {
  const gc = gcFunction();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // The heap in use after the last collection: collect again only once it has grown well past it.
  let liveAfterLast = process.memoryUsage().heapUsed;
  let collections = 0;
  const collect = () => {
    timer = undefined;
    // Worth a pause only when the heap grew by a good share of what was live, and by some megabytes.
    const grown = process.memoryUsage().heapUsed - liveAfterLast;
    if (!gc || grown < options.minGrowthBytes || grown < liveAfterLast * options.growthRatio) return;
    gc();
    collections++;
    liveAfterLast = process.memoryUsage().heapUsed;
  };
  return {
    get collections() {
      return collections;
    },
    touch() {
      if (!gc) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(collect, options.idleMs);
      // Never what keeps the server running.
      timer.unref?.();
    },
    dispose() {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
