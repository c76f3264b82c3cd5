// `vfio-review layout` of every type of a uapi header on two ABIs (x86_64, i386) against what a
// reviewer runs without it: `gcc -g -c` (-m64 and -m32) of a file with one variable of every type,
// then `pahole` on each object. Whole processes, side by side, median of several runs.
// vfio-review runs as the installed command does (dist/vfio-review.js: the CLI behind its V8
// code cache); `vfioReviewFirstRunMs` is the same run with an empty code cache folder (the first
// run after an install or upgrade), `vfioReviewNoLoaderMs` the bare bundle (node dist/cli.js).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { shimDir } from './abi-diff.mjs';
import { has, median, round, runTimed } from './measure.mjs';

export function benchLayout({ repo, kernel, header = 'linux/vfio.h', runs = 5 }) {
  const cli = path.join(repo, 'dist/cli.js');
  const file = path.join(kernel, 'include/uapi', header);
  if (!existsSync(file)) return { header, error: `${file} is missing` };
  const work = mkdtempSync(path.join(tmpdir(), 'vr-bench-layout-'));
  try {
    const types = JSON.parse(execFileSync(process.execPath, [cli, 'layout', file, '--root', kernel, '--arch', 'x86_64', '--format', 'json'], { maxBuffer: 64 << 20 }).toString())
      .arches.x86_64.types.map((t) => t.name);
    const source = path.join(work, 'all.c');
    writeFileSync(source, `#include <${header}>\n${types.map((n) => `${n} v_${n.replace(/^(struct|union) /, '')};`).join('\n')}\n`);
    const shim = shimDir(work, kernel);
    const theirs = () => {
      for (const m of ['64', '32']) {
        const obj = path.join(work, `all${m}.o`);
        const g = spawnSync('gcc', [`-m${m}`, '-g', '-c', '-w', '-D__user=', '-I', shim, '-I', path.join(kernel, 'arch/x86/include/uapi'), '-I', path.join(kernel, 'include/uapi'), '-o', obj, source]);
        if (g.status !== 0) throw new Error(`gcc -m${m}: ${g.stderr}`);
        const p = spawnSync('pahole', [obj], { maxBuffer: 64 << 20 });
        if (p.status !== 0) throw new Error(`pahole: ${p.stderr}`);
      }
    };
    const loader = path.join(repo, 'dist/vfio-review.js');
    const codeCache = path.join(work, 'xdg');
    const layoutArgs = ['layout', file, '--root', kernel, '--arch', 'x86_64,i386'];
    const ours = (script = loader, { fresh = false } = {}) => {
      if (fresh) rmSync(codeCache, { recursive: true, force: true });
      const r = runTimed(process.execPath, [script, ...layoutArgs], { env: { ...process.env, XDG_CACHE_HOME: codeCache } });
      if (r.status !== 0) throw new Error(`layout: ${r.stderr}`);
      return r.ms;
    };
    ours(); // the code cache of this build, as an installed tool has it after its first run
    const hasPahole = has('pahole');
    const oursMs = [];
    const firstRunMs = [];
    const bareMs = [];
    const theirsMs = [];
    for (let i = 0; i < runs; i++) {
      oursMs.push(ours());
      bareMs.push(ours(cli));
      firstRunMs.push(ours(loader, { fresh: true }));
      if (hasPahole) {
        const t = performance.now();
        theirs();
        theirsMs.push(performance.now() - t);
      }
    }
    const result = { header, types: types.length, runs, vfioReviewMs: round(median(oursMs)), vfioReviewFirstRunMs: round(median(firstRunMs)), vfioReviewNoLoaderMs: round(median(bareMs)) };
    if (hasPahole) Object.assign(result, { gccPaholeMs: round(median(theirsMs)), ratio: round(median(theirsMs) / median(oursMs), 2) });
    else result.note = 'pahole not installed (Debian package dwarves): only vfio-review was timed';
    return result;
  } catch (e) {
    return { header, error: e instanceof Error ? e.message : String(e) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
