#!/usr/bin/env node
// Measures vfio-review's struct layouts against gcc on a real kernel tree: every
// include/uapi/linux/*.h is laid out by the engine (root = the kernel tree) and compiled by gcc
// for the same ABIs (x86_64 with -m64, i386 with -m32), then compared member by member.
//
//   node scripts/compare-with-gcc.mjs [--kernel DIR] [--arch x86_64,i386] [--only REGEX]
//                                     [--jobs N] [--json FILE] [--keep]
//
// DIR defaults to what `../shared/scripts/kernel-src 6.12` prints (Debian's linux-source,
// extracted once into a cache). The kernel tree is only read: the headers a kernel build would
// generate (asm-generic wrappers, unistd_*.h, linux/version.h) are written into a temp folder.
// Needs `npm run build` (dist/engine.js) and gcc with gcc-multilib for -m32.
// Exit status: 0 when every compared value matches, 1 when some differ, 2 on a usage or setup error.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareWithGcc, declaredTypes, formatDisagreement, probeTarget, TARGETS, writeAsmGenericShims } from '../test/support/gcc-layout.mjs';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

function usage(msg) {
  if (msg) console.error(`compare-with-gcc: ${msg}`);
  console.error('usage: node scripts/compare-with-gcc.mjs [--kernel DIR] [--arch x86_64,i386] [--only REGEX] [--jobs N] [--json FILE] [--keep]');
  process.exit(2);
}

const opts = { arches: ['x86_64', 'i386'], jobs: undefined, only: null, json: null, keep: false, kernel: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => argv[++i] ?? usage(`${a} needs a value`);
  if (a === '--kernel') opts.kernel = path.resolve(val());
  else if (a === '--arch') opts.arches = val().split(',');
  else if (a === '--only') opts.only = new RegExp(val());
  else if (a === '--jobs') opts.jobs = Number(val());
  else if (a === '--json') opts.json = path.resolve(val());
  else if (a === '--keep') opts.keep = true;
  else if (a === '-h' || a === '--help') usage();
  else usage(`unknown argument ${a}`);
}
for (const a of opts.arches) if (!TARGETS[a]) usage(`unknown ABI ${a}`);

if (!opts.kernel) {
  const helper = path.join(repo, '../shared/scripts/kernel-src');
  if (!existsSync(helper)) usage('no --kernel DIR and no ../shared/scripts/kernel-src');
  opts.kernel = execFileSync(helper, ['6.12'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}
const K = opts.kernel;
if (!existsSync(path.join(K, 'include/uapi/linux'))) usage(`${K} has no include/uapi/linux`);
const enginePath = path.join(repo, 'dist/engine.js');
if (!existsSync(enginePath)) usage('dist/engine.js is missing: run `npm run build` first');

for (const arch of opts.arches) {
  const p = await probeTarget(arch);
  if (!p.ok) {
    console.error(p.message);
    process.exit(2);
  }
}

// ---------------------------------------------------------------------------------------------
// Generated headers, per ABI, in a temp folder searched before the tree.

const tmp = mkdtempSync(path.join(tmpdir(), 'vr-compare-'));
const kbuildNames = (file, key) => (existsSync(file) ? [...readFileSync(file, 'utf8').matchAll(new RegExp(`^${key}\\s*\\+=\\s*(\\S+\\.h)`, 'gm'))].map((m) => m[1]) : []);
const mandatory = kbuildNames(path.join(K, 'include/uapi/asm-generic/Kbuild'), 'mandatory-y');

function shimDir(arch) {
  const dir = path.join(tmp, `shim-${arch}`);
  if (existsSync(dir)) return dir;
  const archUapi = path.join(K, 'arch', TARGETS[arch].archDir, 'include/uapi/asm');
  const generic = [...mandatory, ...kbuildNames(path.join(archUapi, 'Kbuild'), 'generic-y')];
  writeAsmGenericShims(K, arch, dir, generic);
  // Syscall number tables: only #defines, irrelevant to layouts; empty is enough to compile.
  for (const n of kbuildNames(path.join(archUapi, 'Kbuild'), 'generated-y')) writeFileSync(path.join(dir, 'asm', n), '/* generated header stand-in */\n');
  mkdirSync(path.join(dir, 'linux'), { recursive: true });
  // headers_install deletes these includes from uapi headers; empty stand-ins do the same.
  for (const n of ['compiler.h', 'compiler_types.h']) {
    if (!existsSync(path.join(K, 'include/uapi/linux', n))) writeFileSync(path.join(dir, 'linux', n), '/* removed by headers_install */\n');
  }
  if (!existsSync(path.join(K, 'include/uapi/linux/version.h'))) {
    writeFileSync(path.join(dir, 'linux/version.h'),
      '#define LINUX_VERSION_CODE 396288\n#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))\n');
  }
  return dir;
}

const includeDirs = (arch) => [shimDir(arch), path.join(K, 'arch', TARGETS[arch].archDir, 'include/uapi'), path.join(K, 'include/uapi')];
// What headers_install strips from uapi headers before user space sees them.
// A few uapi headers (vfio_ccw.h) use the kernel's __packed, which user space lacks; define it
// as the kernel does, since that is the meaning the engine gives it.
const defines = [
  '-D__user=', '-D__force=', '-D__iomem=', '-D__rcu=', '-D__attribute_const__=__attribute__((__const__))',
  '-D__packed=__attribute__((__packed__))', '-D__aligned(x)=__attribute__((__aligned__(x)))',
];

// ---------------------------------------------------------------------------------------------
// The engine's layouts

const files = readdirSync(path.join(K, 'include/uapi/linux')).filter((f) => f.endsWith('.h') && (!opts.only || opts.only.test(f))).sort();
const require = createRequire(import.meta.url);
const engine = await require(enginePath).createEngine({ root: K, arches: opts.arches });
const engineFailures = [];
const headers = [];
const t0 = Date.now();
for (const f of files) {
  const abs = path.join(K, 'include/uapi/linux', f);
  let report;
  try {
    report = engine.layouts(abs, [], opts.arches);
  } catch (e) {
    engineFailures.push({ header: `linux/${f}`, reason: String(e?.message ?? e).split('\n')[0] });
    continue;
  }
  headers.push({
    include: `linux/${f}`,
    expect: declaredTypes(readFileSync(abs, 'utf8')),
    layouts: Object.fromEntries(opts.arches.map((a) => [a, report.arches[a]?.types ?? []])),
  });
}
engine.dispose();
const engineMs = Date.now() - t0;

const t1 = Date.now();
const result = await compareWithGcc({ headers, arches: opts.arches, includeDirs, defines, jobs: opts.jobs, keepDir: opts.keep });
// Some uapi headers lean on libc for size_t, struct sockaddr, struct timespec and the like (the
// kernel's own header test excludes them). Retry those once with the libc headers a user-space
// includer would have seen first; what still fails stays skipped.
const LIBC_PRELUDE = ['#include <stddef.h>', '#include <stdint.h>', '#include <sys/types.h>', '#include <sys/socket.h>', '#include <sys/time.h>', '#include <time.h>'].join('\n');
const retried = [];
if (result.skipped.length) {
  const again = new Set(result.skipped.map((x) => x.header));
  const retry = await compareWithGcc({
    headers: headers.filter((h) => again.has(h.include)), arches: opts.arches, includeDirs, defines, prelude: LIBC_PRELUDE, jobs: opts.jobs,
  });
  const stillSkipped = new Set(retry.skipped.map((x) => `${x.arch} ${x.header}`));
  result.skipped = result.skipped.filter((x) => stillSkipped.has(`${x.arch} ${x.header}`));
  for (const x of retry.skipped) if (!result.skipped.some((y) => y.arch === x.arch && y.header === x.header)) result.skipped.push(x);
  for (const arch of opts.arches) {
    const a = result.stats[arch];
    const b = retry.stats[arch];
    for (const k of Object.keys(a)) if (k !== 'headersSkipped') a[k] += b[k];
    a.headersSkipped = b.headersSkipped;
  }
  result.disagreements.push(...retry.disagreements);
  for (const h of again) if (!retry.skipped.some((x) => x.header === h)) retried.push(h);
}
const gccMs = Date.now() - t1;
if (!opts.keep) rmSync(tmp, { recursive: true, force: true });

// ---------------------------------------------------------------------------------------------
// Report

const pct = (a, b) => (b ? `${((100 * a) / b).toFixed(2)}%` : 'n/a');
const out = [];
out.push(`kernel: ${K}`);
out.push(`headers: ${files.length} include/uapi/linux/*.h; engine ${(engineMs / 1000).toFixed(1)} s, gcc ${(gccMs / 1000).toFixed(1)} s`);
if (engineFailures.length) {
  out.push(`engine failed on ${engineFailures.length} header(s):`);
  for (const e of engineFailures) out.push(`  ${e.header}: ${e.reason}`);
}
for (const arch of opts.arches) {
  const s = result.stats[arch];
  const noTypes = headers.filter((h) => !(h.layouts[arch]?.length) && !h.expect.length).length;
  out.push('');
  out.push(`== ${arch}`);
  out.push(`  headers compiled: ${s.headers}, skipped by gcc: ${s.headersSkipped}, without any struct/union: ${noTypes}`);
  out.push(`  types compared: ${s.types} (fully matching: ${s.typesFullyMatched}, ${pct(s.typesFullyMatched, s.types)})`);
  out.push(`  members compared: ${s.members} (bit-fields: ${s.bitfields}, flexible arrays: ${s.flexible})`);
  out.push(`  values compared: ${s.checks}, exact matches: ${s.matched} (${pct(s.matched, s.checks)})`);
  out.push(`  checks gcc rejected: ${s.rejected}; types gcc has that the engine did not list: ${s.missing}`);
}
if (retried.length) {
  out.push('');
  out.push(`compiled only after including libc headers first (${retried.length}): ${retried.join(', ')}`);
}
const skippedByReason = result.skipped.slice().sort((a, b) => a.header.localeCompare(b.header) || a.arch.localeCompare(b.arch));
if (skippedByReason.length) {
  out.push('');
  out.push(`headers gcc could not compile (${skippedByReason.length}):`);
  for (const s of skippedByReason) out.push(`  [${s.arch}] ${s.header} (${s.types} types): ${s.reason}`);
}
const diffs = result.disagreements.slice().sort((a, b) => a.header.localeCompare(b.header) || a.type.localeCompare(b.type) || a.arch.localeCompare(b.arch));
out.push('');
out.push(`differences (${diffs.length}):`);
for (const d of diffs) out.push(`  ${formatDisagreement(d)}`);
console.log(out.join('\n'));
if (opts.json) {
  writeFileSync(opts.json, JSON.stringify({ kernel: K, arches: opts.arches, stats: result.stats, skipped: result.skipped, engineFailures, disagreements: diffs }, null, 2));
}
process.exit(diffs.length || engineFailures.length ? 1 : 0);
