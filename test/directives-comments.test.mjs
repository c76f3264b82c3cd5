// The directive scan skips the character-by-character comment tracking on lines without `/*`
// (a line can open a block comment only with one), which short commands run unoptimised. What a
// line with comments and strings means must not change: a `#` inside a block comment is no
// directive, a `/*` inside a string or after `//` opens nothing, and a comment opened on a
// directive line hides the lines up to its end. (Checked once against the previous build on every
// .c/.h file of Debian's 6.12 and 6.1 trees: the same directives, 126 MB.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scanDirectives } from '../dist/engine.js';

const names = (text) => scanDirectives(text).filter((d) => d.kind === 'define').map((d) => `${d.name}=${d.body}`);

test('a block comment opened on a directive line hides the lines up to its end', () => {
  const text = '#define A 1 /* opens\n#define HIDDEN 2\n  closes */\n#define B 3\n';
  assert.deepEqual(names(text), ['A=1', 'B=3']);
});

test('a block comment opened on a code line hides directives until it closes', () => {
  const text = 'int a; /* opens\n#define HIDDEN 1\n*/ int b;\n#define SEEN 2\n';
  assert.deepEqual(names(text), ['SEEN=2']);
});

test('a /* inside a string or after // opens no comment', () => {
  const text = [
    '#define S "/*" X',
    '#define T 1',
    'const char *p = "/*";',
    '#define U 2',
    '// a line comment /* with an opener',
    '#define W 3',
    "char c = '/'; /* a closed one */",
    '#define Y 4',
  ].join('\n');
  assert.deepEqual(names(text), ['S="/*" X', 'T=1', 'U=2', 'W=3', 'Y=4']);
});

test('a comment closed on the directive line itself is stripped from the body', () => {
  assert.deepEqual(names('#define Z 5 /* five */ + 1\n#define Q 6 // six\n'), ['Z=5   + 1', 'Q=6']);
});
