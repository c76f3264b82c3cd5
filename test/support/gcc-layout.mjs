// Checks vfio-review's struct layouts against gcc. For each header it generates one C program per
// ABI that includes the header and records, for every type the engine laid out, sizeof/_Alignof
// of the type and offsetof/sizeof/__alignof__ of each flattened member; bit-field positions come
// from a static object whose field is initialised to all ones (the compiler zero-fills the rest,
// padding included), read back byte by byte in memory order. Native ABIs are built and run
// ('run' mode); cross compilers only compile, and the values are read from the object file's
// symbols ('object' mode), so no target libc or emulator is needed.
//
// A header that gcc cannot compile is reported as skipped with gcc's first errors; a single check
// gcc rejects (a member gcc does not know, a type it does not have) becomes a disagreement and the
// program is rebuilt without it, so one bad check does not sink the rest of the header.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** How each ABI is compiled. `endian` decides how bit positions are counted (see bitRange). */
export const TARGETS = {
  x86_64: { cc: 'gcc', flags: ['-m64'], mode: 'run', endian: 'little', archDir: 'x86' },
  i386: { cc: 'gcc', flags: ['-m32'], mode: 'run', endian: 'little', archDir: 'x86' },
  arm64: { cc: 'aarch64-linux-gnu-gcc', flags: [], mode: 'object', endian: 'little', archDir: 'arm64' },
  arm: { cc: 'arm-linux-gnueabi-gcc', flags: [], mode: 'object', endian: 'little', archDir: 'arm' },
  riscv64: { cc: 'riscv64-linux-gnu-gcc', flags: [], mode: 'object', endian: 'little', archDir: 'riscv' },
  ppc64le: { cc: 'powerpc64le-linux-gnu-gcc', flags: [], mode: 'object', endian: 'little', archDir: 'powerpc' },
  s390x: { cc: 's390x-linux-gnu-gcc', flags: [], mode: 'object', endian: 'big', archDir: 's390' },
};

const INSTALL_HINT = {
  i386: 'apt-get install gcc-multilib',
  arm64: 'apt-get install gcc-aarch64-linux-gnu',
  arm: 'apt-get install gcc-arm-linux-gnueabi',
  riscv64: 'apt-get install gcc-riscv64-linux-gnu',
  ppc64le: 'apt-get install gcc-powerpc64le-linux-gnu',
  s390x: 'apt-get install gcc-s390x-linux-gnu',
  x86_64: 'apt-get install gcc',
};

/**
 * Whether the compiler of an ABI works for the harness's mode: in 'run' mode it must compile,
 * link and run a program (gcc -m32 links only with gcc-multilib installed).
 * Returns { ok: true } or { ok: false, message } with the package to install.
 */
export async function probeTarget(arch, target = TARGETS[arch]) {
  const dir = mkdtempSync(path.join(tmpdir(), 'vr-probe-'));
  try {
    const src = path.join(dir, 'probe.c');
    writeFileSync(src, 'int printf(const char *, ...);\nint main(void) { printf("%d\\n", (int)sizeof(long)); return 0; }\n');
    const exe = path.join(dir, target.mode === 'run' ? 'probe' : 'probe.o');
    const args = [...target.flags, ...(target.mode === 'run' ? [] : ['-c']), src, '-o', exe];
    try {
      await run(target.cc, args, { timeout: 60_000 });
      if (target.mode === 'run') await run(exe, [], { timeout: 10_000 });
    } catch (e) {
      const why = (e.stderr || e.message || '').toString().trim().split('\n').slice(0, 4).join('\n');
      return {
        ok: false,
        message: `${target.cc} ${target.flags.join(' ')} cannot ${target.mode === 'run' ? 'build and run' : 'compile'} a program for ${arch}` +
          ` (install it with \`${INSTALL_HINT[arch] ?? 'apt-get install gcc'}\`):\n${why}`,
      };
    }
    return { ok: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Include directories gcc needs for an ABI of a kernel-style tree rooted at `root`. */
export function uapiIncludeDirs(root, arch, extra = []) {
  const archDir = TARGETS[arch].archDir;
  return [...extra, path.join(root, 'arch', archDir, 'include/uapi'), path.join(root, 'include/uapi')];
}

/**
 * Writes a directory of one-line asm/<name>.h headers forwarding to asm-generic/<name>.h for the
 * names the architecture does not provide itself, the way the kernel's build generates them.
 * Returns the directory (to pass before the other include dirs).
 */
export function writeAsmGenericShims(root, arch, dir, names) {
  const archAsm = path.join(root, 'arch', TARGETS[arch].archDir, 'include/uapi/asm');
  mkdirSync(path.join(dir, 'asm'), { recursive: true });
  for (const n of names) {
    if (existsSync(path.join(archAsm, n))) continue;
    if (!existsSync(path.join(root, 'include/uapi/asm-generic', n))) continue;
    writeFileSync(path.join(dir, 'asm', n), `#include <asm-generic/${n}>\n`);
  }
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Check generation

/** Number of array dimensions at the end of a type text (`struct {...}[3]`, `__u32[2][3]`). */
function arrayDims(typeText) {
  const m = /((?:\[[^\][]*\]\s*)+)$/.exec(typeText ?? '');
  return m ? (m[1].match(/\[/g) ?? []).length : 0;
}

/**
 * The C member designator of a flattened path: a prefix that is an array (an array of inline
 * structs) is indexed at [0], since the engine describes its first element.
 */
export function cDesignator(member, byPath) {
  const parts = member.path.split('.');
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    out += (i ? '.' : '') + parts[i];
    if (i < parts.length - 1) {
      const prefix = parts.slice(0, i + 1).join('.');
      const owner = byPath.get(prefix);
      out += '[0]'.repeat(arrayDims(owner?.type));
    }
  }
  return out;
}

/**
 * The checks of one type: [{ id, type, member, field, expr | blob, engine }]. `blob` checks are
 * bit-fields read back from an initialised object. Members without a name (unnamed bit-fields)
 * cannot be designated and are counted as unchecked.
 */
export function checksForType(t, counters = {}) {
  const T = t.name;
  const checks = [];
  const byPath = new Map(t.members.map((m) => [m.path, m]));
  checks.push({ type: T, member: null, field: 'size', expr: `sizeof(${T})`, engine: t.size, isType: true });
  checks.push({ type: T, member: null, field: 'align', expr: `_Alignof(${T})`, engine: t.align, isType: true });
  for (const m of t.members) {
    if (!m.path || /(^|\.)$/.test(m.path) || /^\s*$/.test(m.path)) {
      counters.unnamed = (counters.unnamed ?? 0) + 1;
      continue;
    }
    const d = cDesignator(m, byPath);
    const ref = `((${T} *)0)->${d}`;
    if (m.bitSize !== undefined && m.bitSize !== null) {
      checks.push({ type: T, member: m.path, field: 'bit', designator: d, blob: true, engine: { bitOffset: m.bitOffset, bitSize: m.bitSize } });
      continue;
    }
    checks.push({ type: T, member: m.path, field: 'offset', expr: `__builtin_offsetof(${T}, ${d})`, engine: m.offset });
    if (m.flexible) continue;
    checks.push({ type: T, member: m.path, field: 'size', expr: `sizeof(${ref})`, engine: m.size });
    if (m.align !== undefined && m.align !== null) {
      checks.push({ type: T, member: m.path, field: 'align', expr: `__alignof__(${ref})`, engine: m.align });
    }
  }
  return checks;
}

/** One program's source; every check on a line of its own so gcc's errors map back to it. */
function programSource(includes, checks, mode, prelude) {
  const lines = ['/* Generated by vfio-review test/support/gcc-layout.mjs. */'];
  if (prelude) lines.push(...prelude.split('\n'));
  for (const inc of includes) lines.push(`#include <${inc}>`);
  // Headers sometimes define a macro named like a member (phonet.h: `#define pn_submsg_id
  // pn_msg_u.base.pn_submsg_id`); the header is already read, so undefine them for the checks.
  const names = new Set();
  for (const c of checks) for (const seg of (c.member ?? '').split('.')) if (/^[A-Za-z_]\w*$/.test(seg)) names.add(seg);
  for (const n of [...names].sort()) lines.push(`#undef ${n}`);
  const lineOf = new Map();
  const scalars = checks.filter((c) => !c.blob);
  const blobs = checks.filter((c) => c.blob);
  lines.push('typedef long long vr_ll;');
  lines.push('const vr_ll vr_v[] = {');
  scalars.forEach((c) => {
    lines.push(`\t(vr_ll)(${c.expr}),`);
    lineOf.set(lines.length, c);
  });
  lines.push('\t-1', '};');
  blobs.forEach((c, k) => {
    c.symbol = `vr_b${k}`;
    // The type of a bit-field decides how -1 converts; all ones in every case (a _Bool gets 1).
    lines.push(`const ${c.type} vr_b${k} = { .${c.designator} = -1 };`);
    lineOf.set(lines.length, c);
  });
  if (mode === 'run') {
    lines.push('int printf(const char *, ...);');
    lines.push('static void vr_dump(int k, const void *p, unsigned long n) {');
    lines.push('\tconst unsigned char *b = p;');
    lines.push('\tprintf("b %d ", k);');
    lines.push('\tfor (unsigned long i = 0; i < n; i++) printf("%02x", b[i]);');
    lines.push('\tprintf("\\n");');
    lines.push('}');
    lines.push('int main(void) {');
    lines.push(`\tfor (unsigned i = 0; i < ${scalars.length}; i++) printf("v %u %lld\\n", i, vr_v[i]);`);
    blobs.forEach((c, k) => {
      lines.push(`\tvr_dump(${k}, &vr_b${k}, sizeof(vr_b${k}));`);
      lineOf.set(lines.length, c);
    });
    lines.push('\treturn 0;', '}');
  }
  return { text: lines.join('\n') + '\n', lineOf, scalars, blobs };
}

/** gcc's `file:line:col: error: message` lines. */
function parseErrors(stderr) {
  const out = [];
  for (const line of stderr.split('\n')) {
    const m = /^(.*?):(\d+):(?:\d+:)?\s*(?:fatal )?error:\s*(.*)$/.exec(line);
    if (m) out.push({ file: m[1], line: Number(m[2]), message: m[3] });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading the values back

/** Symbols of an ELF relocatable object: name -> bytes. Handles 32/64-bit and either byte order. */
export function elfSymbols(buf) {
  if (buf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  const is64 = buf[4] === 2;
  const le = buf[5] === 1;
  const u16 = (o) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const uN = (o) => (is64 ? Number(le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o)) : u32(o));
  const shoff = is64 ? uN(0x28) : u32(0x20);
  const shentsize = u16(is64 ? 0x3a : 0x2e);
  const shnum = u16(is64 ? 0x3c : 0x30);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push(is64
      ? { type: u32(o + 4), offset: uN(o + 0x18), size: uN(o + 0x20), link: u32(o + 0x28), entsize: uN(o + 0x38) }
      : { type: u32(o + 4), offset: u32(o + 0x10), size: u32(o + 0x14), link: u32(o + 0x18), entsize: u32(o + 0x24) });
  }
  const symtab = sections.find((s) => s.type === 2);
  if (!symtab) throw new Error('no symbol table');
  const strtab = sections[symtab.link];
  const name = (off) => {
    let e = strtab.offset + off;
    while (buf[e]) e++;
    return buf.toString('latin1', strtab.offset + off, e);
  };
  const symbols = new Map();
  const entsize = symtab.entsize || (is64 ? 24 : 16);
  for (let o = symtab.offset; o < symtab.offset + symtab.size; o += entsize) {
    const nm = name(u32(o));
    const shndx = u16(is64 ? o + 6 : o + 14);
    const value = is64 ? uN(o + 8) : u32(o + 4);
    const size = is64 ? uN(o + 16) : u32(o + 8);
    if (!nm.startsWith('vr_') || shndx === 0 || shndx >= 0xff00) continue;
    const sec = sections[shndx];
    const bytes = sec.type === 8 ? Buffer.alloc(size) : buf.subarray(sec.offset + value, sec.offset + value + size);
    symbols.set(nm, bytes);
  }
  return { symbols, littleEndian: le, is64 };
}

/**
 * First set bit and width of a bit-field image, in memory order: bit n is bit (n % 8) of byte
 * n / 8, counted from the least significant bit on little-endian targets and from the most
 * significant on big-endian ones (where gcc allocates bit-fields from the MSB).
 */
export function bitRange(bytes, endian) {
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = 0; i < bytes.length; i++) {
    for (let j = 0; j < 8; j++) {
      const bit = endian === 'big' ? 7 - j : j;
      if (bytes[i] & (1 << bit)) {
        const pos = i * 8 + j;
        if (first < 0) first = pos;
        last = pos;
        count++;
      }
    }
  }
  if (first < 0) return null;
  return { bitOffset: first, bitSize: last - first + 1, contiguous: count === last - first + 1 };
}

// ---------------------------------------------------------------------------------------------
// One header on one ABI

async function compileAndRead({ arch, target, includeDirs, includes, checks, prelude, dir, defines }) {
  const mode = target.mode;
  let remaining = checks.slice();
  const rejected = [];
  for (let round = 0; round < 6; round++) {
    const prog = programSource(includes, remaining, mode, prelude);
    const src = path.join(dir, `${arch}.c`);
    writeFileSync(src, prog.text);
    const out = path.join(dir, mode === 'run' ? `${arch}.exe` : `${arch}.o`);
    const args = [
      ...target.flags, '-std=gnu11', '-O0', '-w', '-fmax-errors=0', '-fno-common',
      ...defines, ...includeDirs.map((d) => `-I${d}`),
      ...(mode === 'run' ? [] : ['-c']), src, '-o', out,
    ];
    let stderr = '';
    try {
      await run(target.cc, args, { timeout: 120_000, maxBuffer: 64 << 20 });
    } catch (e) {
      stderr = (e.stderr ?? '').toString() || String(e.message);
    }
    if (stderr) {
      const errors = parseErrors(stderr);
      const mine = errors.filter((e) => path.resolve(e.file) === src && prog.lineOf.has(e.line));
      const other = errors.filter((e) => !(path.resolve(e.file) === src && prog.lineOf.has(e.line)));
      if (other.length || !mine.length) {
        // Errors outside the generated checks: the header (or the include setup) is at fault.
        const first = other.length ? other.slice(0, 3).map((e) => `${path.basename(e.file)}:${e.line}: ${e.message}`) : [];
        const lines = first.length ? first : stderr.split('\n').filter((l) => /error|undefined reference|cannot find|No such file/.test(l)).slice(0, 3);
        return { skipped: true, reason: (lines.length ? lines : stderr.split('\n').slice(0, 3)).join(' | ').trim() || 'gcc failed' };
      }
      const bad = new Map();
      for (const e of mine) {
        const c = prog.lineOf.get(e.line);
        if (!bad.has(c)) bad.set(c, e.message);
      }
      for (const [c, msg] of bad) rejected.push({ check: c, message: msg });
      remaining = remaining.filter((c) => !bad.has(c));
      continue;
    }
    const values = new Map();
    const blobs = new Map();
    if (mode === 'run') {
      const { stdout } = await run(out, [], { timeout: 30_000, maxBuffer: 64 << 20 });
      for (const line of stdout.split('\n')) {
        const v = /^v (\d+) (-?\d+)$/.exec(line);
        if (v) values.set(prog.scalars[Number(v[1])], Number(v[2]));
        const b = /^b (\d+) ([0-9a-f]*)$/.exec(line);
        if (b) blobs.set(prog.blobs[Number(b[1])], Buffer.from(b[2], 'hex'));
      }
    } else {
      const { symbols, littleEndian } = elfSymbols(readFileSync(out));
      const v = symbols.get('vr_v');
      prog.scalars.forEach((c, i) => {
        const o = i * 8;
        values.set(c, Number(littleEndian ? v.readBigInt64LE(o) : v.readBigInt64BE(o)));
      });
      for (const c of prog.blobs) blobs.set(c, symbols.get(c.symbol));
    }
    return { values, blobs, rejected };
  }
  return { skipped: true, reason: 'gcc kept rejecting checks after 6 rounds' };
}

/**
 * Compares the engine's layouts with gcc's.
 *
 * headers: [{ include: 'linux/x.h', layouts: { <arch>: TypeLayout[] } }]
 * includeDirs: (arch) => string[]   (searched in order, before gcc's own)
 * defines: extra -D flags (e.g. '-D__user='); prelude: C text before the #include lines.
 *
 * Returns { disagreements, skipped, stats } where a disagreement is
 * { arch, header, type, member, field, engine, gcc, message? } and field is one of size, align,
 * offset, bitOffset, bitSize, exists (gcc rejected the check; message says why).
 */
export async function compareWithGcc({ headers, arches, includeDirs, defines = [], prelude = '', targets = TARGETS, jobs = Math.max(1, Math.min(8, cpus().length)), keepDir = false }) {
  const root = mkdtempSync(path.join(tmpdir(), 'vr-gcc-layout-'));
  const disagreements = [];
  const skipped = [];
  const stats = {};
  for (const a of arches) {
    stats[a] = { headers: 0, headersSkipped: 0, types: 0, members: 0, checks: 0, matched: 0, bitfields: 0, flexible: 0, unnamed: 0, rejected: 0, typesFullyMatched: 0, missing: 0 };
  }
  const jobsList = [];
  headers.forEach((h, hi) => {
    for (const arch of arches) {
      const types = h.layouts?.[arch] ?? [];
      if (!types.length && !h.expect?.length) continue;
      jobsList.push({ h, hi, arch, types });
    }
  });
  let next = 0;
  async function worker() {
    while (next < jobsList.length) {
      const { h, hi, arch, types } = jobsList[next++];
      const st = stats[arch];
      const target = targets[arch];
      const dir = path.join(root, `h${hi}`);
      mkdirSync(dir, { recursive: true });
      const counters = {};
      const checks = types.flatMap((t) => checksForType(t, counters));
      // Types declared in the header that the engine did not list: gcc says whether they exist here.
      const listed = new Set(types.map((t) => t.name));
      for (const name of h.expect ?? []) {
        if (!listed.has(name)) checks.push({ type: name, member: null, field: 'missing', expr: `sizeof(${name})`, probe: true });
      }
      st.unnamed += counters.unnamed ?? 0;
      const res = await compileAndRead({
        arch, target, includeDirs: includeDirs(arch), includes: [h.include], checks, prelude, dir, defines,
      });
      if (res.skipped) {
        st.headersSkipped++;
        skipped.push({ arch, header: h.include, reason: res.reason, types: types.length });
        continue;
      }
      st.headers++;
      const badTypes = new Set();
      // A type gcc does not know fails all its checks: report it once, not member by member.
      const missingTypes = new Map();
      for (const { check, message } of res.rejected) if (check.isType && !missingTypes.has(check.type)) missingTypes.set(check.type, message);
      const seenMembers = new Set();
      for (const { check, message } of res.rejected) {
        if (check.probe) continue; // not declared on this ABI: the engine was right to leave it out
        st.rejected++;
        badTypes.add(check.type);
        if (missingTypes.has(check.type)) continue;
        const key = `${check.type}\0${check.member}`;
        if (seenMembers.has(key)) continue;
        seenMembers.add(key);
        disagreements.push({ arch, header: h.include, type: check.type, member: check.member, field: 'exists', engine: 'member', gcc: null, message });
      }
      for (const [type, message] of missingTypes) {
        disagreements.push({ arch, header: h.include, type, member: null, field: 'exists', engine: 'type', gcc: null, message });
      }
      const add = (c, field, engine, gcc, extra = {}) => {
        st.checks++;
        if (engine === gcc) st.matched++;
        else {
          badTypes.add(c.type);
          disagreements.push({ arch, header: h.include, type: c.type, member: c.member, field, engine: engine ?? null, gcc, ...extra });
        }
      };
      for (const [c, v] of res.values) {
        if (c.probe) {
          st.missing++;
          disagreements.push({ arch, header: h.include, type: c.type, member: null, field: 'missing', engine: null, gcc: v, message: 'gcc has this type, the engine did not list it' });
          continue;
        }
        add(c, c.field, c.engine, v);
      }
      for (const [c, bytes] of res.blobs) {
        st.bitfields++;
        const r = bitRange(bytes, target.endian);
        if (!r) {
          add(c, 'bitSize', c.engine.bitSize, 0, { message: 'no bit set: gcc stored nothing' });
          continue;
        }
        add(c, 'bitOffset', c.engine.bitOffset, r.bitOffset);
        add(c, 'bitSize', c.engine.bitSize, r.bitSize, r.contiguous ? {} : { message: 'gcc bits not contiguous in memory order' });
      }
      for (const t of types) {
        st.types++;
        st.members += t.members.length;
        st.flexible += t.members.filter((m) => m.flexible).length;
        if (!badTypes.has(t.name)) st.typesFullyMatched++;
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(jobs, jobsList.length || 1) }, worker));
  } finally {
    if (!keepDir) rmSync(root, { recursive: true, force: true });
  }
  return { disagreements, skipped, stats, dir: keepDir ? root : undefined };
}

/**
 * Names of the structs, unions and typedefs of anonymous structs/unions a header declares with a
 * body, found textually (comments removed). Some may be absent on a given ABI (#if): gcc decides.
 */
export function declaredTypes(text) {
  const src = text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/.*$/gm, '');
  const attr = String.raw`(?:__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)\s*|__packed\s*|__aligned\s*\([^()]*\)\s*)*`;
  const names = new Set();
  for (const m of src.matchAll(new RegExp(String.raw`\b(struct|union)\s+${attr}([A-Za-z_]\w*)\s*${attr}\{`, 'g'))) names.add(`${m[1]} ${m[2]}`);
  // typedef struct { ... } name;  (one level of nested braces is enough for uapi headers)
  const td = new RegExp(String.raw`\btypedef\s+(?:struct|union)\s*${attr}\{(?:[^{}]|\{[^{}]*\})*\}\s*${attr}([A-Za-z_]\w*)\s*${attr};`, 'g');
  for (const m of src.matchAll(td)) names.add(m[1]);
  return [...names];
}

/** One line per disagreement, for test failures and the comparison script. */
export function formatDisagreement(d) {
  const where = d.member ? `${d.type} .${d.member}` : d.type;
  const vals = d.field === 'exists'
    ? `engine has this ${d.engine}, gcc rejects it: ${d.message}`
    : d.field === 'missing' ? `not listed by the engine; gcc: sizeof ${d.gcc}`
    : `engine ${d.engine === null ? 'unknown' : d.engine}, gcc ${d.gcc}${d.message ? ` (${d.message})` : ''}`;
  return `[${d.arch}] ${d.header}: ${where} ${d.field}: ${vals}`;
}

// ---------------------------------------------------------------------------------------------
// Getting the engine's layouts

/** The CLI's `layout --format json` report of one file (the contract front ends rely on). */
export async function cliLayouts({ cli, file, root, arches }) {
  const { stdout } = await run(process.execPath, [cli, 'layout', file, '--root', root, '--arch', arches.join(','), '--format', 'json'], {
    timeout: 120_000, maxBuffer: 256 << 20,
  });
  return JSON.parse(stdout);
}

/**
 * Adds each member's alignment from the library's report to the CLI's report (the CLI JSON has
 * none), so the harness can check __alignof__ of members too. Returns the CLI report.
 */
export function withMemberAlign(cliReport, libReport) {
  for (const [arch, { types }] of Object.entries(cliReport.arches)) {
    const lib = new Map((libReport.arches[arch]?.types ?? []).map((t) => [t.name, t]));
    for (const t of types) {
      const lt = lib.get(t.name);
      if (!lt) continue;
      const lm = new Map(lt.members.map((m) => [m.path, m]));
      for (const m of t.members) {
        const x = lm.get(m.path);
        if (x && x.align != null && m.align === undefined) m.align = x.align;
      }
    }
  }
  return cliReport;
}
