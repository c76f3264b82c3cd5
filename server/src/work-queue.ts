// The order in which `check --jobs N` hands files to its worker threads (cli.ts, checkInWorkers).
/**
 * Which file each worker thread checks next (`check --jobs N`). Files that share headers are
 * checked by the same thread, so that its caches (units, models, include resolutions) serve them:
 * the files in path order are cut into N contiguous runs of about the same size in bytes, one per
 * worker, and a worker whose run is done takes the back half of the largest run left (down to a
 * single file), so that no thread idles while another has work. Handing files out largest first
 * had both threads preprocess and model every shared header of the tree.
 */
export class WorkQueue {
  private readonly runs: string[][];
  /** Files given back by a worker that stopped before it started them: served first. */
  private readonly returned: string[] = [];

  constructor(files: readonly { file: string; size: number }[], workers: number) {
    const ordered = [...files].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    const total = ordered.reduce((sum, f) => sum + f.size, 0);
    this.runs = Array.from({ length: workers }, () => []);
    let bytes = 0;
    for (const f of ordered) {
      // The run this file's middle byte falls in: contiguous, about total / workers bytes each.
      const run = Math.min(workers - 1, Math.floor(((bytes + f.size / 2) * workers) / Math.max(total, 1)));
      this.runs[run].push(f.file);
      bytes += f.size;
    }
  }

  get hasReturned(): boolean {
    return this.returned.length > 0;
  }

  get size(): number {
    return this.returned.length + this.runs.reduce((sum, run) => sum + run.length, 0);
  }

  /** The next file for worker `worker` (0 ≤ worker < N), or undefined when no file is left. */
  next(worker: number): string | undefined {
    if (this.returned.length) return this.returned.shift();
    const own = this.runs[worker];
    if (!own.length) {
      let largest = own;
      for (const run of this.runs) if (run.length > largest.length) largest = run;
      // The back half: the victim keeps the files next to the ones it is checking.
      if (largest.length) own.push(...largest.splice(largest.length - Math.ceil(largest.length / 2)));
    }
    return own.shift();
  }

  /** Files handed out but not started (their worker stopped): another worker takes them. */
  giveBack(files: readonly string[]): void {
    this.returned.push(...files);
  }
}
