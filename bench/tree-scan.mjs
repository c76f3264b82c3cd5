// `check` over the whole tree that ../shared/scripts/kernel-src extracts (include/,
// arch/*/include, drivers/{vfio,iommu,pci}, virt/) with --jobs 1 and --jobs 2, without the cache:
// MB/s, peak RSS (GNU time's maximum resident set of the process, worker threads included) and
// the speedup. Long: by default one run of each; `dirs` narrows the tree for a quick look.
// On a machine shared with other jobs the wall time of --jobs 2 says more about the load than
// about the tool: each run also records its CPU time (user + system, all threads) and the load
// average around it, and `cpuSpeedup` is the most that two cores of our own could give (CPU
// seconds of --jobs 1 over half those of --jobs 2: what the workers repeat, without the waits).
import os from 'node:os';
import path from 'node:path';
import { bytesOf, median, mib, round, runTimed, treeDirs, walk } from './measure.mjs';

export function benchTreeScan({ repo, kernel, runs = 1, dirs = treeDirs(kernel), jobs = [1, 2], timeoutMs = 6 * 3600_000 }) {
  const files = dirs.flatMap((d) => walk(kernel, d));
  const mb = mib(bytesOf(files));
  const byJobs = {};
  let reference;
  for (let i = 0; i < runs; i++) {
    for (const n of jobs) {
      const load = os.loadavg()[0];
      const r = runTimed(process.execPath, [path.join(repo, 'dist', 'cli.js'), 'check', ...dirs, '--root', kernel, '--jobs', String(n), '--no-cache', '--fail-on', 'never', '--format', 'json'], { cwd: kernel, timeoutMs });
      if (r.status !== 0) return { dirs, error: `--jobs ${n}: ${r.signal ? `stopped by ${r.signal}` : `exit ${r.status}`}: ${r.stderr.trim().split('\n').pop() ?? ''}` };
      // Same findings whatever the number of jobs.
      if (reference === undefined) reference = r.stdout;
      else if (r.stdout !== reference) return { dirs, error: `--jobs ${n} printed other findings than --jobs ${jobs[0]}` };
      (byJobs[n] ??= { ms: [], peak: [], cpu: [], load: [] }).ms.push(r.ms);
      byJobs[n].peak.push(r.peakMiB);
      byJobs[n].cpu.push(r.cpuS);
      byJobs[n].load.push(round((load + os.loadavg()[0]) / 2, 1));
    }
  }
  const out = { dirs, files: files.length, mb: round(mb, 1), runs, cores: os.availableParallelism?.() ?? os.cpus().length, findings: JSON.parse(reference).findings.length, jobs: {} };
  for (const n of jobs) {
    const ms = median(byJobs[n].ms);
    const cpuS = median(byJobs[n].cpu.filter((c) => c !== null));
    out.jobs[n] = { ms: round(ms), MBps: round(mb / (ms / 1000), 2), peakRssMiB: median(byJobs[n].peak.filter((p) => p !== null)), cpuS: round(cpuS), loadAverage: median(byJobs[n].load) };
  }
  if (jobs.length === 2) {
    out.speedup = round(out.jobs[jobs[0]].ms / out.jobs[jobs[1]].ms, 2);
    const [a, b] = [out.jobs[jobs[0]].cpuS, out.jobs[jobs[1]].cpuS];
    if (a && b) out.cpuSpeedup = round(a / jobs[0] / (b / jobs[1]), 2);
  }
  return out;
}
