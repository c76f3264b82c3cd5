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
 * Caps how far V8 lets the heap grow between its own full collections, as a percentage of what
 * was live after the last one. V8's own factor is up to 4x while a program allocates fast, and
 * edits do: the server went from 180 to 330 MB over 500 edits of vfio_pci_core.c with 60 MB
 * live. The flag is read at each collection, so setting it at run time takes effect.
 */
function capHeapGrowth(percent: number): void {
  try {
    v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  } catch {
    // An engine without the flag grows as it likes.
  }
}

/** After the first collection of a pause, a second one this much later gives back the pages the first left. */
const SECOND_COLLECTION_MS = 500;

/**
 * @param options.minGrowthBytes growth of the heap in use, since the last collection, below
 * which a pause collects nothing; with `growthRatio`, the same as a share of what was live then.
 * @param options.heapGrowingPercent from the first pause on (the index is built by then, at
 * V8's own pace), V8's heap grows at most this much between its full collections.
 */
export function createIdleCollector(options: { idleMs: number; minGrowthBytes: number; growthRatio: number; heapGrowingPercent?: number }): IdleCollector {
  const gc = gcFunction();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // The heap in use after the last collection: collect again only once it has grown well past it.
  let liveAfterLast = process.memoryUsage().heapUsed;
  let collections = 0;
  let capped = false;
  const collect = () => {
    timer = undefined;
    if (!capped && options.heapGrowingPercent) capHeapGrowth(options.heapGrowingPercent);
    capped = true;
    // Worth a pause only when the heap grew by a good share of what was live, and by some megabytes.
    const grown = process.memoryUsage().heapUsed - liveAfterLast;
    if (!gc || grown < options.minGrowthBytes || grown < liveAfterLast * options.growthRatio) return;
    gc();
    collections++;
    liveAfterLast = process.memoryUsage().heapUsed;
    // One collection leaves pages V8 has emptied but not given back (measured: 214 MB after one,
    // 183 MB after a second); a second, still in the pause, returns them. Cheaper: most is dead.
    timer = setTimeout(() => {
      timer = undefined;
      gc();
      liveAfterLast = process.memoryUsage().heapUsed;
    }, SECOND_COLLECTION_MS);
    timer.unref?.();
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
