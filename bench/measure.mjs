// What the bench modules share: medians, whole-process timing with CPU time and peak memory, and the file
// sets the issue names (the VFIO set; the tree that ../shared/scripts/kernel-src extracts).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
};
export const round = (x, digits = 1) => (x === null || x === undefined ? null : Math.round(x * 10 ** digits) / 10 ** digits);

const GNU_TIME = ['/usr/bin/time'].find((p) => existsSync(p));

/**
 * Runs a command to its end: wall time (ms), CPU time (s, user + system, all threads) and peak
 * resident memory (MiB), both from GNU time when it is installed, else null, exit status, stdout
 * and stderr.
 */
export function runTimed(command, args, { cwd, env, timeoutMs = 4 * 3600_000 } = {}) {
  const wrapped = GNU_TIME ? [GNU_TIME, ['-f', '__cpu=%U+%S __peak_kib=%M', command, ...args]] : [command, args];
  const t = performance.now();
  const r = spawnSync(wrapped[0], wrapped[1], { cwd, env, encoding: 'utf8', maxBuffer: 512 << 20, timeout: timeoutMs });
  const ms = performance.now() - t;
  let stderr = r.stderr ?? '';
  let peakMiB = null;
  let cpuS = null;
  const m = /__cpu=([\d.]+)\+([\d.]+) __peak_kib=(\d+)\s*$/.exec(stderr);
  if (m) {
    cpuS = Number(m[1]) + Number(m[2]);
    peakMiB = round(Number(m[3]) / 1024);
    stderr = stderr.slice(0, m.index);
  }
  return { ms, cpuS, peakMiB, status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr, error: r.error };
}

/** The VFIO set of the issue: drivers/vfio/**, drivers/iommu/iommufd/**, include/linux/vfio*.h, the two uapi headers. */
export function vfioSet(kernel) {
  const files = [...walk(kernel, 'drivers/vfio'), ...walk(kernel, 'drivers/iommu/iommufd')];
  for (const f of readdirSync(path.join(kernel, 'include/linux'))) if (/^vfio.*\.h$/.test(f)) files.push(path.join(kernel, 'include/linux', f));
  files.push(path.join(kernel, 'include/uapi/linux/vfio.h'), path.join(kernel, 'include/uapi/linux/iommufd.h'));
  return files.filter((f) => existsSync(f));
}

/** The whole tree of the issue: include/, arch/*\/include, drivers/{vfio,iommu,pci}, virt/. */
export function treeDirs(kernel) {
  const arches = existsSync(path.join(kernel, 'arch')) ? readdirSync(path.join(kernel, 'arch')).map((a) => `arch/${a}/include`) : [];
  return ['include', ...arches, 'drivers/vfio', 'drivers/iommu', 'drivers/pci', 'virt'].filter((d) => existsSync(path.join(kernel, d)));
}

/** .c and .h files under `rel` (recursive), absolute paths, sorted. */
export function walk(kernel, rel) {
  const out = [];
  const visit = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.isFile() && /\.[ch]$/.test(e.name)) out.push(p);
    }
  };
  visit(path.join(kernel, rel));
  return out.sort();
}

export const bytesOf = (files) => files.reduce((sum, f) => sum + statSync(f).size, 0);
export const mib = (bytes) => bytes / 2 ** 20;

/** Whether a program runs (`--version` exits 0). */
export const has = (program, args = ['--version']) => spawnSync(program, args, { stdio: 'ignore' }).status === 0;

export const readText = (f) => readFileSync(f, 'utf8');
