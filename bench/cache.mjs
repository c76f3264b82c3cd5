// The findings cache: `check` of the VFIO set with an empty cache folder (cold: everything is
// computed and written) and again with the folder the cold run filled (warm: every file served
// from it), each as a whole process on one thread, side by side in each run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { median, round, runTimed, vfioSet } from './measure.mjs';

export function benchCache({ repo, kernel, runs = 5 }) {
  const files = vfioSet(kernel);
  const cli = path.join(repo, 'dist', 'cli.js');
  const coldMs = [];
  const warmMs = [];
  let stats;
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(path.join(tmpdir(), 'vr-bench-cache-'));
    try {
      const args = [cli, 'check', ...files, '--root', kernel, '--jobs', '1', '--cache', dir, '--fail-on', 'never', '--format', 'json'];
      const env = { ...process.env, VFIO_REVIEW_CACHE_STATS: '1' };
      const cold = runTimed(process.execPath, args, { env });
      const warm = runTimed(process.execPath, args, { env });
      for (const r of [cold, warm]) if (r.status !== 0) return { error: `check: exit ${r.status}: ${r.stderr.trim().split('\n').pop()}` };
      if (cold.stdout !== warm.stdout) return { error: 'the warm run printed other findings than the cold one' };
      coldMs.push(cold.ms);
      warmMs.push(warm.ms);
      stats = /(\d+) hits, (\d+) misses/.exec(warm.stderr)?.slice(1).map(Number);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const cold = median(coldMs);
  const warm = median(warmMs);
  return { files: files.length, runs, coldMs: round(cold), warmMs: round(warm), speedup: round(cold / warm, 1), warmHits: stats?.[0], warmMisses: stats?.[1] };
}
