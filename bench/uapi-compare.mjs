// The whole-uapi check a maintainer runs before a merge, 6.1 -> 6.12 over the include/uapi/linux
// headers that changed, x86_64 and i386, as whole processes, side by side:
//  - vfio-review: one `check --base v6.1` of the changed headers, in a scratch git repository
//    holding the 6.1 uapi folders as a commit and the 6.12 ones in the work tree;
//  - what scripts/check-uapi.sh does per header: `gcc -g -fno-eliminate-unused-debug-types -c`
//    of a file including it, old and new, on each ABI, then `abidiff --non-reachable-types`.
//    check-uapi.sh first runs `make headers_install` of both trees (about 17 s each on this
//    machine); the extracted trees lack the scripts it needs, so that step is not timed here and
//    the peer's figure is a lower bound (shim folders stand in for the installed asm headers).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { shimDir } from './abi-diff.mjs';
import { has, median, round, runTimed } from './measure.mjs';

const UAPI_DIRS = ['include/uapi', 'arch/x86/include/uapi'];

export function benchUapiCompare({ repo, oldKernel, newKernel, runs = 1, limit = Infinity }) {
  const work = mkdtempSync(path.join(tmpdir(), 'vr-bench-uapi-'));
  try {
    // The scratch repository: 6.1 committed, 6.12 in the work tree (not timed).
    const tree = path.join(work, 'linux');
    mkdirSync(tree);
    const git = (...args) => execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', ...args], { cwd: tree, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    const copyFrom = (kernel) => {
      for (const d of UAPI_DIRS) {
        rmSync(path.join(tree, d), { recursive: true, force: true });
        cpSync(path.join(kernel, d), path.join(tree, d), { recursive: true });
      }
      writeFileSync(path.join(tree, 'Kbuild'), readFileSync(path.join(kernel, 'Kbuild')));
    };
    git('init', '-q');
    copyFrom(oldKernel);
    git('add', '-A');
    git('commit', '-q', '-m', '6.1');
    git('tag', 'v6.1');
    copyFrom(newKernel);
    const changed = git('diff', '--name-only', 'v6.1', '--', 'include/uapi/linux').split('\n')
      .filter((f) => /^include\/uapi\/linux\/[^/]+\.h$/.test(f) && existsSync(path.join(oldKernel, f)) && existsSync(path.join(newKernel, f)))
      .slice(0, limit);
    if (!changed.length) return { error: 'no uapi header changed between the trees' };

    const ours = () => {
      const r = runTimed(process.execPath, [path.join(repo, 'dist/cli.js'), 'check', '--base', 'v6.1', ...changed, '--arch', 'x86_64,i386', '--no-cache', '--fail-on', 'never', '--format', 'json'], { cwd: tree });
      if (r.status !== 0) throw new Error(`check --base: exit ${r.status}: ${r.stderr.trim().split('\n').pop()}`);
      return { ms: r.ms, findings: JSON.parse(r.stdout).findings.filter((f) => f.rule.startsWith('abi-')).length };
    };
    const shims = { old: shimDir(work, oldKernel), new: shimDir(work, newKernel) };
    const theirs = () => {
      const t = performance.now();
      let failed = 0;
      changed.forEach((rel, i) => {
        const header = rel.replace(/^include\/uapi\//, '');
        const source = path.join(work, `h${i}.c`);
        writeFileSync(source, `#include <${header}>\n`);
        for (const m of ['64', '32']) {
          const objs = [];
          for (const [tag, kernel] of [['old', oldKernel], ['new', newKernel]]) {
            const obj = path.join(work, `h${i}-${tag}${m}.o`);
            const g = spawnSync('gcc', [`-m${m}`, '-g', '-fno-eliminate-unused-debug-types', '-c', '-w', '-D__user=', '-D__force=', '-D__iomem=', '-I', shims[tag], '-I', path.join(kernel, 'arch/x86/include/uapi'), '-I', path.join(kernel, 'include/uapi'), '-o', obj, source]);
            if (g.status !== 0) failed++;
            objs.push(obj);
          }
          if (objs.every(existsSync)) spawnSync('abidiff', ['--non-reachable-types', ...objs]);
        }
      });
      return { ms: performance.now() - t, failed };
    };
    const peer = has('abidiff') && has('gcc');
    const oursMs = [];
    const theirsMs = [];
    let abiFindings;
    let failedCompiles;
    for (let i = 0; i < runs; i++) {
      const o = ours();
      oursMs.push(o.ms);
      abiFindings = o.findings;
      if (peer) {
        const p = theirs();
        theirsMs.push(p.ms);
        failedCompiles = p.failed;
      }
    }
    const result = { headers: changed.length, runs, vfioReviewMs: round(median(oursMs)), abiFindings };
    if (peer) Object.assign(result, { gccAbidiffMs: round(median(theirsMs)), ratio: round(median(theirsMs) / median(oursMs), 2), failedCompiles, headersInstall: 'not timed (a lower bound for the peer)' });
    else result.note = 'abidiff or gcc missing (Debian packages abigail-tools, gcc-multilib): only vfio-review was timed';
    return result;
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
