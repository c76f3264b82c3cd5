// `check` over the whole tree that ../shared/scripts/kernel-src extracts (include/,
// arch/*/include, drivers/{vfio,iommu,pci}, virt/) with --jobs 1 and --jobs 2, without the cache:
// MB/s, peak RSS (GNU time's maximum resident set of the process, worker threads included) and
// the speedup. Long: by default one run of each; `dirs` narrows the tree for a quick look.
import path from 'node:path';
import { bytesOf, median, mib, round, runTimed, treeDirs, walk } from './measure.mjs';

export function benchTreeScan({ repo, kernel, runs = 1, dirs = treeDirs(kernel), jobs = [1, 2], timeoutMs = 6 * 3600_000 }) {
  const files = dirs.flatMap((d) => walk(kernel, d));
  const mb = mib(bytesOf(files));
  const byJobs = {};
  let reference;
  for (let i = 0; i < runs; i++) {
    for (const n of jobs) {
      const r = runTimed(process.execPath, [path.join(repo, 'dist', 'cli.js'), 'check', ...dirs, '--root', kernel, '--jobs', String(n), '--no-cache', '--fail-on', 'never', '--format', 'json'], { cwd: kernel, timeoutMs });
      if (r.status !== 0) return { dirs, error: `--jobs ${n}: ${r.signal ? `stopped by ${r.signal}` : `exit ${r.status}`}: ${r.stderr.trim().split('\n').pop() ?? ''}` };
      // Same findings whatever the number of jobs.
      if (reference === undefined) reference = r.stdout;
      else if (r.stdout !== reference) return { dirs, error: `--jobs ${n} printed other findings than --jobs ${jobs[0]}` };
      (byJobs[n] ??= { ms: [], peak: [] }).ms.push(r.ms);
      byJobs[n].peak.push(r.peakMiB);
    }
  }
  const out = { dirs, files: files.length, mb: round(mb, 1), runs, findings: JSON.parse(reference).findings.length, jobs: {} };
  for (const n of jobs) {
    const ms = median(byJobs[n].ms);
    out.jobs[n] = { ms: round(ms), MBps: round(mb / (ms / 1000), 2), peakRssMiB: median(byJobs[n].peak.filter((p) => p !== null)) };
  }
  if (jobs.length === 2) out.speedup = round(out.jobs[jobs[0]].ms / out.jobs[jobs[1]].ms, 2);
  return out;
}
