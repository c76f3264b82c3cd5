// Mutations of kernel-style C for the fuzzer: all on bytes (so invalid UTF-8 and NUL bytes are
// possible), all driven by a seeded generator so a printed seed reproduces a run exactly.
//
//   const rng = createRng(1234);
//   const input = mutate(seedBytes, rng);            // one to three random mutations
//   for (const c of structuralCases(seedBytes)) ...   // the fixed cases: truncations, deep nesting, ...

/** A small, fast, seeded generator (splitmix32): same seed, same sequence, on every machine. */
export function createRng(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  return {
    next,
    /** An integer in [0, n). */
    int: (n) => (n <= 0 ? 0 : next() % n),
    pick: (list) => list[next() % list.length],
    chance: (p) => next() / 0x100000000 < p,
  };
}

/** A seed from the environment (VFIO_REVIEW_FUZZ_SEED) or a fresh one. */
export function seedFromEnv(env = process.env) {
  const given = env.VFIO_REVIEW_FUZZ_SEED;
  if (given !== undefined && given !== '') {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 0) throw new Error(`VFIO_REVIEW_FUZZ_SEED must be a non-negative integer, not ${given}`);
    return n >>> 0;
  }
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

const b = (s) => Buffer.from(s, 'latin1');

/** Byte offsets of every occurrence of `needle` in `buf`. */
function offsetsOf(buf, needle) {
  const out = [];
  for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, i + 1)) out.push(i);
  return out;
}

function deleteAt(buf, at, len) {
  return Buffer.concat([buf.subarray(0, at), buf.subarray(at + len)]);
}

function insertAt(buf, at, bytes) {
  return Buffer.concat([buf.subarray(0, at), bytes, buf.subarray(at)]);
}

/** Deletes or duplicates one occurrence of one of `tokens`. */
function tokenEdit(tokens, duplicate) {
  return (buf, rng) => {
    const token = b(rng.pick(tokens));
    const at = offsetsOf(buf, token);
    if (!at.length) return buf;
    const where = rng.pick(at);
    return duplicate ? insertAt(buf, where, token) : deleteAt(buf, where, token.length);
  };
}

/** A line of the input, chosen at random: [start, end) byte offsets, end at the newline. */
function randomLine(buf, rng) {
  const starts = [0, ...offsetsOf(buf, b('\n')).map((i) => i + 1)].filter((i) => i <= buf.length);
  const start = rng.pick(starts);
  let end = buf.indexOf(0x0a, start);
  if (end < 0) end = buf.length;
  return [start, end];
}

/** `depth` nested levels of one construct, as a C fragment. */
export function deepNesting(kind, depth) {
  switch (kind) {
    case 'braces':
      return `static void deep(void)\n${'{'.repeat(depth)}\n${'}'.repeat(depth)}\n`;
    case 'parens':
      return `#define DEEP_VALUE ${'('.repeat(depth)}1${')'.repeat(depth)}\nstatic int deep = ${'('.repeat(depth)}1${')'.repeat(depth)};\n`;
    case 'structs':
      return `struct deep_outer {\n${'struct {\n'.repeat(depth)}__u32 x;\n${'};\n'.repeat(depth)}};\n`;
    case 'ifdefs':
      return `${'#if 1\n'.repeat(depth)}struct deep_if { __u32 x; };\n${'#endif\n'.repeat(depth)}`;
    case 'ifs':
      return `static int deep(int a)\n{\n${'if (a) {\n'.repeat(depth)}return a;\n${'}\n'.repeat(depth)}return 0;\n}\n`;
    default:
      throw new Error(`unknown nesting ${kind}`);
  }
}

export const NESTING_KINDS = ['braces', 'parens', 'structs', 'ifdefs', 'ifs'];

/** Each mutation takes the input bytes and the generator and returns new bytes. */
export const MUTATIONS = {
  flipByte(buf, rng) {
    if (!buf.length) return buf;
    const out = Buffer.from(buf);
    const n = 1 + rng.int(8);
    for (let i = 0; i < n; i++) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  },
  randomByte(buf, rng) {
    if (!buf.length) return buf;
    const out = Buffer.from(buf);
    out[rng.int(out.length)] = rng.int(256);
    return out;
  },
  truncate(buf, rng) {
    return buf.subarray(0, Math.floor((buf.length * rng.int(16)) / 16));
  },
  deleteBrace: tokenEdit(['{', '}'], false),
  duplicateBrace: tokenEdit(['{', '}'], true),
  deleteParen: tokenEdit(['(', ')'], false),
  duplicateParen: tokenEdit(['(', ')'], true),
  deleteEndif: tokenEdit(['#endif'], false),
  duplicateEndif: tokenEdit(['#endif', '#else', '#if 0', '#ifdef X'], true),
  deleteSemicolon: tokenEdit([';', ',', '*/', '/*'], false),
  duplicateLine(buf, rng) {
    const [s, e] = randomLine(buf, rng);
    return insertAt(buf, s, Buffer.concat([buf.subarray(s, e), b('\n')]));
  },
  deleteLine(buf, rng) {
    const [s, e] = randomLine(buf, rng);
    return deleteAt(buf, s, Math.min(buf.length - s, e - s + 1));
  },
  swapLines(buf, rng) {
    const lines = buf.toString('latin1').split('\n');
    if (lines.length < 2) return buf;
    const i = rng.int(lines.length);
    const j = rng.int(lines.length);
    [lines[i], lines[j]] = [lines[j], lines[i]];
    return b(lines.join('\n'));
  },
  deepNesting(buf, rng) {
    const fragment = deepNesting(rng.pick(NESTING_KINDS), rng.chance(0.5) ? 10_000 : 200 + rng.int(2000));
    const [s] = randomLine(buf, rng);
    return insertAt(buf, s, b(fragment));
  },
  longLine(buf, rng) {
    const unit = rng.pick(['x', ' ', 'a_b_', '/* c */', '(', '\\\n', '__u32 m; ', '1 << ', '"str" ']);
    const length = rng.chance(0.3) ? 1024 * 1024 : 1000 + rng.int(64 * 1024);
    const [s] = randomLine(buf, rng);
    return insertAt(buf, s, b(unit.repeat(Math.ceil(length / unit.length)).slice(0, length) + '\n'));
  },
  nulBytes(buf, rng) {
    const at = rng.int(buf.length + 1);
    return insertAt(buf, at, Buffer.alloc(1 + rng.int(4)));
  },
  invalidUtf8(buf, rng) {
    const bad = rng.pick([[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80, 0x80], [0xc0, 0xaf], [0xef, 0xbb, 0xbf]]);
    return insertAt(buf, rng.int(buf.length + 1), Buffer.from(bad));
  },
  crlf(buf) {
    return b(buf.toString('latin1').replace(/\r?\n/g, '\r\n'));
  },
  loneCr(buf, rng) {
    if (rng.chance(0.5)) return b(buf.toString('latin1').replace(/\r?\n/g, '\r'));
    const nl = offsetsOf(buf, b('\n'));
    if (!nl.length) return buf;
    const out = Buffer.from(buf);
    out[rng.pick(nl)] = 0x0d;
    return out;
  },
  spliceSelf(buf, rng) {
    // A piece of the file pasted somewhere else: half-declarations, stray directives.
    if (buf.length < 2) return buf;
    const s = rng.int(buf.length);
    const len = 1 + rng.int(Math.min(400, buf.length - s));
    return insertAt(buf, rng.int(buf.length + 1), buf.subarray(s, s + len));
  },
  hostileDirective(buf, rng) {
    const line = rng.pick([
      '#define SELF SELF\nstruct self_ref { __u32 a[SELF]; };\n',
      '#define A B\n#define B A\nstruct ab { char c[A]; };\n',
      '#define F(x) F(x) + F(x)\n#if F(1)\n#endif\n',
      '#include "fuzz_uapi.h"\n',
      '#include <linux/../../../../../../etc/hostname>\n',
      '#include "/etc/hostname"\n',
      '#if 1 ? (2 : 3\n#endif\n',
      '#if 1/0\n#endif\n',
      '#if 0x7fffffffffffffff * 3 % -1\n#endif\n',
      '#elif\n#else junk\n#endif extra\n',
      '#define BIG (1 << 63)\nstruct big { __u8 a[BIG]; };\n',
      'struct neg { __u8 a[-1]; __u32 b : 99; __u32 : 0; };\n',
      'struct __attribute__((aligned(1 << 30))) huge { __u8 x; };\n',
      'struct rec { struct rec inner; };\n',
      'typedef struct loop loop_t; struct loop { loop_t l; };\n',
    ]);
    const [s] = randomLine(buf, rng);
    return insertAt(buf, s, b(line));
  },
  patchHostile(buf, rng) {
    // Patch-shaped trouble (only where the input is a patch): paths out of the tree, absolute
    // paths, hunk counts that lie, a hunk repeated into a patch bomb, a mail header folded forever.
    const text = buf.toString('latin1');
    if (!text.includes('\n@@ ')) return buf;
    const pick = rng.int(6);
    if (pick === 0) return b(text.replace(/([ab])\/include\/uapi\/linux\/fuzz_uapi\.h/g, '$1/../../../../etc/hostname'));
    if (pick === 1) return b(text.replace(/[ab]\/include\/uapi\/linux\/fuzz_uapi\.h/g, '/etc/hostname'));
    if (pick === 2) return b(text.replace(/@@ -(\d+),(\d+) \+(\d+),(\d+) @@/, (_m, a, _b, c) => `@@ -${a},${rng.int(100000)} +${c},${rng.pick([0, 1, 99999, 4294967295])} @@`));
    if (pick === 3) {
      const start = text.indexOf('\n@@ ');
      const end = text.indexOf('\n@@ ', start + 1);
      const hunk = text.slice(start, end < 0 ? text.length : end);
      // Bounded by bytes, not count: an earlier mutation may have made the hunk megabytes long,
      // and a string past V8's limit would throw here rather than test the reader.
      const times = Math.min(1000 + rng.int(20000), Math.max(1, Math.floor(PATCH_BOMB_BYTES / Math.max(1, hunk.length))));
      return b(text.slice(0, start) + hunk.repeat(times) + text.slice(start));
    }
    if (pick === 4) return b(text.replace('Subject: ', `Subject: ${'=?utf-8?q?=C3=A9?= \n '.repeat(5000)}`));
    return b(text.replace('diff --git', `${'From: x <x@y>\n'.repeat(2000)}diff --git`));
  },
};

/** A patch bomb stays below this, so the repeat cannot exceed a string's maximum length. */
const PATCH_BOMB_BYTES = 16 * 1024 * 1024;

export const MUTATION_NAMES = Object.keys(MUTATIONS);

/** One to three random mutations of `seed`; returns the bytes and the names applied. */
export function mutate(seed, rng) {
  let buf = seed;
  const applied = [];
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const name = rng.pick(MUTATION_NAMES);
    buf = MUTATIONS[name](buf, rng);
    applied.push(name);
    // Keep inputs at a size one analysis can be asked to handle (the engine reads up to 8 MiB).
    if (buf.length > 4 * 1024 * 1024) buf = buf.subarray(0, 4 * 1024 * 1024);
  }
  return { bytes: buf, applied };
}

/**
 * The fixed cases the issue names, run before the random ones: truncation at every 1/16th,
 * 10,000-deep nesting of each kind, a 1 MB line, NUL bytes, invalid UTF-8, CRLF and lone CR.
 */
export function* structuralCases(seed) {
  for (let i = 0; i < 16; i++) yield { bytes: seed.subarray(0, Math.floor((seed.length * i) / 16)), applied: [`truncate ${i}/16`] };
  for (const kind of NESTING_KINDS) yield { bytes: Buffer.concat([seed, b(deepNesting(kind, 10_000))]), applied: [`nesting ${kind} 10000`] };
  yield { bytes: Buffer.concat([b(`#define LONG ${'x'.repeat(1024 * 1024)}\n`), seed]), applied: ['1 MB line'] };
  yield { bytes: Buffer.concat([seed, b(`static int long_line = ${'1 + '.repeat(256 * 1024)}1;\n`)]), applied: ['1 MB expression'] };
  yield { bytes: insertAt(seed, seed.length >> 1, Buffer.alloc(3)), applied: ['NUL bytes'] };
  yield { bytes: insertAt(seed, seed.length >> 1, Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80])), applied: ['invalid UTF-8'] };
  yield { bytes: MUTATIONS.crlf(seed), applied: ['CRLF'] };
  yield { bytes: b(seed.toString('latin1').replace(/\n/g, '\r')), applied: ['lone CR'] };
  yield { bytes: Buffer.alloc(0), applied: ['empty'] };
}
