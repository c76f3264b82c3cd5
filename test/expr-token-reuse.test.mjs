// The evaluator keeps the tokens of each text it tokenized (macro bodies are expanded hundreds of
// thousands of times in a whole-uapi check) and hands the same token list to every expansion.
// Expansion must never change a kept list: pasting, stringising and argument substitution
// build new lists. Evaluated here in one order and again in the reverse order, with tables that
// give the same bodies other meanings; every answer must match the first evaluation and C.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, tryEvaluate } from '../dist/engine.js';

const table = (defs) => new Map(Object.entries(defs).map(([name, d]) => [name, typeof d === 'string' ? { name, body: d } : { name, ...d }]));

const IOC = {
  _IOC: { params: ['dir', 'type', 'nr', 'size'], body: '(((dir) << 30) | ((type) << 8) | ((nr) << 0) | ((size) << 16))' },
  _IO: { params: ['type', 'nr'], body: '_IOC(0U, (type), (nr), 0)' },
  _IOWR: { params: ['type', 'nr', 'size'], body: '_IOC(3U, (type), (nr), (size))' },
  VFIO_TYPE: "(';')",
  VFIO_BASE: '100',
  CAT: { params: ['a', 'b'], body: 'a ## b' },
  XCAT: { params: ['a', 'b'], body: 'CAT(a, b)' },
  TWICE: { params: ['x'], body: '((x) + (x))' },
  SELF: 'SELF + 1',
  VAR: { params: ['first', '...'], variadic: true, body: 'first' },
};
// The same names with other bodies: a kept token list must not carry one table's meaning into another.
const OTHER = { ...IOC, VFIO_BASE: '7', VFIO_TYPE: '1', TWICE: { params: ['x'], body: '((x) * 2 + 1)' } };

const CASES = [
  ['_IO(VFIO_TYPE, VFIO_BASE + 0)', IOC, (59n << 8n) | 100n],
  ['_IO(VFIO_TYPE, VFIO_BASE + 0)', OTHER, (1n << 8n) | 7n],
  ['_IOWR(VFIO_TYPE, VFIO_BASE + 1, 24)', IOC, (3n << 30n) | (59n << 8n) | 101n | (24n << 16n)],
  ['CAT(1, 2) + CAT(3, 4)', IOC, 12n + 34n],
  ['CAT(VFIO_, BASE)', IOC, 100n],
  ['CAT(VFIO_, BASE)', OTHER, 7n],
  ['XCAT(XCAT(1, 2), 3)', IOC, 123n],
  ['TWICE(TWICE(3))', IOC, 12n],
  ['TWICE(TWICE(3))', OTHER, 15n],
  ['TWICE(CAT(1, 0))', IOC, 20n],
  ['VAR(5, 6, 7) + VAR(8)', IOC, 13n],
  ['defined(CAT) && !defined(NOPE)', IOC, 1n],
];

function evaluateAll(order) {
  const answers = new Map();
  for (const i of order) {
    const [text, defs] = CASES[i];
    answers.set(i, evaluate(text, { macros: table(defs), preprocessor: true }).v);
  }
  return answers;
}

test('kept token lists give the same answers in any order and under any table', () => {
  const forward = evaluateAll(CASES.map((_, i) => i));
  const backward = evaluateAll(CASES.map((_, i) => CASES.length - 1 - i));
  const again = evaluateAll(CASES.map((_, i) => i));
  CASES.forEach(([text, , expected], i) => {
    assert.equal(forward.get(i), expected, text);
    assert.equal(backward.get(i), expected, `${text} (reverse order)`);
    assert.equal(again.get(i), expected, `${text} (third time)`);
  });
});

test('a text that does not tokenize fails every time, also once its pieces were kept', () => {
  for (let round = 0; round < 3; round++) {
    assert.throws(() => evaluate('1 @ 2', { macros: table({}), preprocessor: true }), /unexpected character '@'/);
    assert.equal(tryEvaluate('SELF', { macros: table(IOC), preprocessor: false }), undefined, 'SELF is not expanded inside itself: the identifier stays unknown');
    assert.equal(evaluate('SELF', { macros: table(IOC), preprocessor: true }).v, 1n, '#if: the unexpanded SELF is 0');
  }
});
