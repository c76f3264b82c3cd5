// The whole-uapi check a maintainer runs before a merge, 6.1 -> 6.12 over every
// include/uapi/linux/*.h (or only the headers that changed), x86_64 and i386, as whole
// processes, side by side:
//  - vfio-review: one `check --base v6.1` of the headers (all rules, and the abi-* comparison of
//    every header that changed), in a scratch git repository holding the 6.1 uapi folders as a
//    commit and the 6.12 ones in the work tree;
//  - what scripts/check-uapi.sh does per header, as many at a time as there are cores (its -j
//    default): `gcc -g -fno-eliminate-unused-debug-types -c` of a file including it, old and new,
//    on each ABI (its do_compile: `gcc -shared -nostdlib -fPIC -O0 -std=c90 -g
//    -fno-eliminate-unused-debug-types -include HEADER` of `int f(void)`), then `abidiff --non-reachable-types`. check-uapi.sh first runs `make
//    headers_install` of both trees (about 17 s each on this machine, figure of issue 8); the
//    extracted trees lack the scripts it needs, so that step is not timed: the measured ratio is a
//    lower bound, and the ratio with the quoted 2 x 17 s is printed beside it, labelled as such.
// Timing the peer on 500+ headers takes minutes, so by default it is timed on an evenly spread
// sample (`peerSample` headers) and its whole-set time is estimated as sample time x n / sample
// size; the result says so (`peerEstimated`). `peerSample: Infinity` times every header.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { shimDir } from './abi-diff.mjs';
import { has, median, round, runTimed } from './measure.mjs';

const UAPI_DIRS = ['include/uapi', 'arch/x86/include/uapi'];
/** `make headers_install` of one tree as quoted by issue 8 (not timed here). */
export const QUOTED_HEADERS_INSTALL_MS = 17_000;

/** `count` indices spread evenly over 0..n-1 (all of them when count >= n). */
export function spreadSample(n, count) {
  if (count >= n) return [...Array(n).keys()];
  const picked = new Set();
  for (let i = 0; i < count; i++) picked.add(Math.floor(((i + 0.5) * n) / count));
  return [...picked];
}

/** Runs the shell scripts of `dir` `jobs` at a time (xargs -P); resolves to the number that failed. */
function pool(dir, scripts, jobs) {
  scripts.forEach((body, i) => writeFileSync(path.join(dir, `job${i}.sh`), `${body} || touch ${path.join(dir, `job${i}.failed`)}\n`));
  const list = scripts.map((_, i) => path.join(dir, `job${i}.sh`)).join('\n');
  spawnSync('xargs', ['-P', String(Math.max(1, jobs)), '-n', '1', 'sh'], { input: list, stdio: ['pipe', 'ignore', 'ignore'] });
  return readdirSync(dir).filter((f) => f.endsWith('.failed')).length;
}

export function benchUapiCompare({ repo, oldKernel, newKernel, runs = 1, limit = Infinity, scope = 'all', peerSample = 48, jobs = os.availableParallelism?.() ?? os.cpus().length }) {
  const work = mkdtempSync(path.join(os.tmpdir(), 'vr-bench-uapi-'));
  try {
    // The scratch repository: 6.1 committed, 6.12 in the work tree (not timed).
    const tree = path.join(work, 'linux');
    mkdirSync(tree);
    const git = (...args) => execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', ...args], { cwd: tree, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 }).toString();
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
    const changed = new Set(git('diff', '--name-only', 'v6.1', '--', 'include/uapi/linux').split('\n'));
    const everyHeader = readdirSync(path.join(tree, 'include/uapi/linux')).filter((f) => f.endsWith('.h')).sort().map((f) => `include/uapi/linux/${f}`);
    const headers = (scope === 'changed' ? everyHeader.filter((f) => changed.has(f)) : everyHeader).slice(0, limit);
    if (!headers.length) return { error: 'no uapi header to compare' };
    // The peer compares a header present in both trees; a new header has nothing to compare.
    const inBoth = headers.filter((f) => existsSync(path.join(oldKernel, f)));

    // With the CLI's --jobs default (the number of cores), and with --jobs 1 beside it: each worker
    // repeats the parsing of the shared includes, so on headers one thread may be the faster.
    const ours = (jobsArgs = []) => {
      const r = runTimed(process.execPath, [path.join(repo, 'dist/vfio-review.js'), 'check', '--base', 'v6.1', ...headers, '--arch', 'x86_64,i386', '--no-cache', '--fail-on', 'never', '--format', 'json', ...jobsArgs], { cwd: tree });
      if (r.status !== 0) throw new Error(`check --base: exit ${r.status}: ${r.stderr.trim().split('\n').pop()}`);
      const findings = JSON.parse(r.stdout).findings;
      return { ms: r.ms, peakMiB: r.peakMiB, abiFindings: findings.filter((f) => f.rule.startsWith('abi-')).length, findings: findings.length };
    };
    const shims = { old: shimDir(work, oldKernel), new: shimDir(work, newKernel) };
    const sample = spreadSample(inBoth.length, peerSample).map((i) => inBoth[i]);
    // One job per header and ABI: two compiles then abidiff, as check-uapi.sh runs them.
    const theirs = () => {
      const jobsDir = mkdtempSync(path.join(work, 'jobs-'));
      const scripts = sample.map((rel, i) => {
        const header = rel.replace(/^include\/uapi\//, '');
        const source = path.join(work, 'f.c');
        // As check-uapi.sh's do_compile: a shared object of one function with the header -included.
        writeFileSync(source, 'int f(void) { return 0; }\n');
        return ['64', '32'].map((m) => {
          const compile = (tag, kernel) => `gcc -m${m} -shared -nostdlib -fPIC -O0 -std=c90 -fno-eliminate-unused-debug-types -g -w -D__user= -D__force= -D__iomem= -D__attribute_const__= '-D__packed=__attribute__((packed))' -Dinline=__inline__ -Dasm=__asm__ -Dvolatile=__volatile__ -I ${shims[tag]} -I ${path.join(kernel, 'arch/x86/include/uapi')} -I ${path.join(kernel, 'include/uapi')} -include ${header} -o ${path.join(work, `h${i}-${tag}${m}.o`)} ${source}`;
          return `${compile('old', oldKernel)} && ${compile('new', newKernel)} && { abidiff --non-reachable-types ${path.join(work, `h${i}-old${m}.o`)} ${path.join(work, `h${i}-new${m}.o`)} >/dev/null; [ $(( $? & 1 )) -eq 0 ]; }`;
        });
      }).flat();
      const t = performance.now();
      const failed = pool(jobsDir, scripts, jobs);
      return { ms: performance.now() - t, failed };
    };
    const peer = has('abidiff') && has('gcc');
    const oursRuns = [];
    const theirsMs = [];
    let failedJobs;
    const oneJobMs = [];
    for (let i = 0; i < runs; i++) {
      oursRuns.push(ours());
      oneJobMs.push(ours(['--jobs', '1']).ms);
      if (peer) {
        const p = theirs();
        theirsMs.push(p.ms);
        failedJobs = p.failed;
      }
    }
    const oursMs = median(oursRuns.map((r) => r.ms));
    const result = {
      scope, headers: headers.length, changedHeaders: headers.filter((f) => changed.has(f)).length, runs, jobs,
      vfioReviewMs: round(oursMs), vfioReviewJobs1Ms: round(median(oneJobMs)), vfioReviewPeakMiB: oursRuns[0].peakMiB, abiFindings: oursRuns[0].abiFindings, findings: oursRuns[0].findings,
    };
    if (peer) {
      const sampleMs = median(theirsMs);
      const wholeMs = (sampleMs * inBoth.length) / sample.length;
      Object.assign(result, {
        peerHeaders: inBoth.length,
        peerSampleHeaders: sample.length,
        peerEstimated: sample.length < inBoth.length,
        peerSampleMs: round(sampleMs),
        gccAbidiffMs: round(wholeMs),
        ratio: round(wholeMs / oursMs, 2),
        ratioJobs1: round(wholeMs / median(oneJobMs), 2),
        ratioWithQuotedHeadersInstall: round((wholeMs + 2 * QUOTED_HEADERS_INSTALL_MS) / oursMs, 2),
        failedPeerJobs: failedJobs,
        headersInstall: `not timed (quoted: ${QUOTED_HEADERS_INSTALL_MS / 1000} s per tree); ratio is a lower bound`,
      });
    } else result.note = 'abidiff or gcc missing (Debian packages abigail-tools, gcc-multilib): only vfio-review was timed';
    return result;
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
