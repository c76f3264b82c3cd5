// abi-diff of a uapi header between two kernel versions, side by side with what the gcc +
// libabigail pipeline needs for the same answer: two `gcc -g -shared` compiles of a file that
// defines one variable of every type, per ABI, and abidiff. Both as whole processes, x86_64 and
// i386, median of several runs. vfio-review runs as the installed command does
// (dist/vfio-review.js, with its code cache); `vfioReviewFirstRunMs` starts from an empty code
// cache folder, `vfioReviewNoLoaderMs` is the bare bundle (node dist/cli.js).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function time(fn) {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

/** Headers as userspace sees them, without headers_install: asm-generic wrappers and stubs. */
export function shimDir(root, kernel) {
  const dir = path.join(root, `shim-${path.basename(kernel)}`);
  mkdirSync(path.join(dir, 'asm'), { recursive: true });
  mkdirSync(path.join(dir, 'linux'), { recursive: true });
  for (const f of readdirSync(path.join(kernel, 'include/uapi/asm-generic'))) {
    if (!existsSync(path.join(kernel, 'arch/x86/include/uapi/asm', f))) writeFileSync(path.join(dir, 'asm', f), `#include <asm-generic/${f}>\n`);
  }
  // headers_install strips these includes from the installed headers.
  writeFileSync(path.join(dir, 'linux/compiler_types.h'), '');
  writeFileSync(path.join(dir, 'linux/compiler.h'), '');
  return dir;
}

export function benchAbiDiff({ repo, oldKernel, newKernel, header = 'linux/vfio.h', runs = 5 }) {
  const cli = path.join(repo, 'dist/cli.js');
  const oldFile = path.join(oldKernel, 'include/uapi', header);
  const newFile = path.join(newKernel, 'include/uapi', header);
  if (!existsSync(oldFile) || !existsSync(newFile)) return { header, error: `${header} is missing in one of the trees` };
  const work = mkdtempSync(path.join(tmpdir(), 'vr-bench-abi-'));
  try {
    // The types each version defines, from vfio-review's own layout listing.
    const typesOf = (file, kernel) => JSON.parse(execFileSync(process.execPath, [cli, 'layout', file, '--root', kernel, '--arch', 'x86_64', '--format', 'json'], { maxBuffer: 64 << 20 }).toString())
      .arches.x86_64.types.map((t) => t.name);
    const sources = {};
    for (const [tag, kernel, file] of [['old', oldKernel, oldFile], ['new', newKernel, newFile]]) {
      const vars = typesOf(file, kernel).map((n) => `${n} v_${n.replace(/^(struct|union) /, '')};`);
      sources[tag] = { kernel, c: path.join(work, `${tag}.c`), shim: shimDir(work, kernel) };
      writeFileSync(sources[tag].c, `#include <${header}>\n${vars.join('\n')}\n`);
    }
    const gcc = (tag, m) => {
      const s = sources[tag];
      const out = path.join(work, `${tag}${m}.so`);
      const r = spawnSync('gcc', [`-m${m}`, '-g', '-shared', '-fPIC', '-w', '-D__EXPORTED_HEADERS__', '-D__user=', '-D__force=', '-D__iomem=', '-I', s.shim,
        '-I', path.join(s.kernel, 'arch/x86/include/uapi'), '-I', path.join(s.kernel, 'include/uapi'), '-o', out, s.c]);
      if (r.status !== 0) throw new Error(`gcc -m${m}: ${r.stderr}`);
      return out;
    };
    const pipeline = () => {
      for (const m of ['64', '32']) {
        const a = gcc('old', m);
        const b = gcc('new', m);
        // abidiff exits non-zero when it finds changes; only a crash (bit 0) is an error.
        const r = spawnSync('abidiff', [a, b]);
        if (r.status === null || (r.status & 1) === 1) throw new Error(`abidiff: ${r.stderr}`);
      }
    };
    const loader = path.join(repo, 'dist/vfio-review.js');
    const codeCache = path.join(work, 'xdg');
    const ours = (script = loader, { fresh = false } = {}) => () => {
      if (fresh) rmSync(codeCache, { recursive: true, force: true });
      const r = spawnSync(process.execPath, [script, 'abi-diff', oldFile, newFile, '--root', newKernel, '--arch', 'x86_64,i386', '--format', 'json'], { env: { ...process.env, XDG_CACHE_HOME: codeCache } });
      if (r.status === 2 || r.status === null) throw new Error(`abi-diff: ${r.stderr}`);
    };
    ours()(); // the code cache of this build, as an installed tool has it after its first run
    const hasAbidiff = spawnSync('abidiff', ['--version']).status === 0;
    const oursMs = [];
    const firstRunMs = [];
    const bareMs = [];
    const theirsMs = [];
    for (let i = 0; i < runs; i++) {
      oursMs.push(time(ours()));
      bareMs.push(time(ours(cli)));
      firstRunMs.push(time(ours(loader, { fresh: true })));
      if (hasAbidiff) theirsMs.push(time(pipeline));
    }
    const result = { header, runs, vfioReviewMs: median(oursMs), vfioReviewFirstRunMs: median(firstRunMs), vfioReviewNoLoaderMs: median(bareMs) };
    if (hasAbidiff) Object.assign(result, { gccAbidiffMs: median(theirsMs), ratio: median(theirsMs) / median(oursMs) });
    else result.note = 'abidiff not installed (Debian package abigail-tools): only vfio-review was timed';
    return result;
  } catch (e) {
    return { header, error: e instanceof Error ? e.message : String(e) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
