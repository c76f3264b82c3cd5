import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, scanDirectives } from '../../dist/engine.js';

const macros = (defs) => new Map(Object.entries(defs).map(([name, d]) => [name, typeof d === 'string' ? { name, body: d } : { name, ...d }]));
const ev = (text, defs = {}, preprocessor = true) => evaluate(text, { macros: macros(defs), preprocessor });

test('integer literals, suffixes and C precedence', () => {
  assert.equal(ev('1 + 2 * 3').v, 7n);
  assert.equal(ev('(1 << 4) | 0x3').v, 19n);
  assert.equal(ev('010 + 0b11').v, 11n);
  assert.equal(ev('10 / 3 % 2').v, 1n);
  assert.equal(ev("'A'").v, 65n);
  assert.equal(ev('1 ? 2 : 3').v, 2n);
  assert.equal(ev('-1 < 0').v, 1n);
  assert.equal(ev('-1 < 0U').v, 0n, 'usual arithmetic conversions make -1 unsigned');
  assert.equal(ev('0xffffffffffffffffULL').v, 0xffffffffffffffffn);
  assert.equal(ev('1ULL << 63').v, 1n << 63n);
});

test('defined, unknown identifiers and function-like macros in #if', () => {
  const defs = { __x86_64__: '1', __BITS_PER_LONG: '64', _BITUL: { params: ['x'], body: '(1UL << (x))' } };
  assert.equal(ev('defined(__x86_64__) && !defined __i386__', defs).v, 1n);
  assert.equal(ev('__BITS_PER_LONG == 64', defs).v, 1n);
  assert.equal(ev('UNKNOWN_THING', defs).v, 0n);
  assert.equal(ev('_BITUL(5)', defs).v, 32n);
});

test('token pasting and nested expansion', () => {
  const defs = { CAT: { params: ['a', 'b'], body: 'a ## b' }, FOO_LEN: '8', LEN: 'CAT(FOO, _LEN) * 2' };
  assert.equal(ev('LEN', defs).v, 16n);
});

test('a self-referential macro terminates', () => {
  assert.throws(() => ev('X', { X: 'X + 1' }, false));
  assert.equal(ev('X', { X: 'X + 1' }, true).v, 1n);
});

test('outside #if, unknown identifiers are errors rather than 0', () => {
  assert.throws(() => ev('NOT_DEFINED * 2', {}, false), /unknown identifier/);
});

test('directives: continuations, comments, includes and function-like defines', () => {
  const d = scanDirectives('#include <linux/types.h>\n#define A(x, ...) \\\n  ((x) + 1) /* c */\n/*\n#define NOT_ME 1\n*/\n  #  ifdef B\n#endif\n');
  assert.deepEqual(d.map((x) => x.kind), ['include', 'define', 'ifdef', 'endif']);
  assert.equal(d[0].includePath, 'linux/types.h');
  assert.equal(d[0].angled, true);
  assert.equal(d[1].name, 'A');
  assert.deepEqual(d[1].params, ['x', '__VA_ARGS__']);
  assert.equal(d[1].body, '((x) + 1)');
  assert.equal(d[1].endLine, 2);
  assert.equal(d[2].text, 'B');
});
