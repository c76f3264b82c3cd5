// Inputs that would break tree-sitter itself: thousands of comments in a row inside nested
// constructs overflow its wasm stack and corrupt the module for the rest of the process. The
// parser is given at most MAX_COMMENT_RUN of them in a row; the rest are blanked in place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { boundCommentRuns, createEngine, MAX_COMMENT_RUN } from '../../dist/engine.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

test('boundCommentRuns keeps short runs, blanks the excess of long ones, positions unchanged', () => {
  const short = `struct s {\n${'/* c */'.repeat(MAX_COMMENT_RUN)}\n\tint a;\n};\n`;
  assert.equal(boundCommentRuns(short), short);
  const long = `struct s {\n${'/* c */\n'.repeat(MAX_COMMENT_RUN + 10)}// x\n// y\n\tint a; /* after */\n};\n`;
  const bounded = boundCommentRuns(long);
  assert.equal(bounded.length, long.length);
  assert.deepEqual(bounded.split('\n').map((l) => l.length), long.split('\n').map((l) => l.length));
  assert.equal((bounded.match(/\/\* c \*\//g) ?? []).length, MAX_COMMENT_RUN);
  assert.ok(!bounded.includes('// x') && bounded.includes('int a; /* after */'));
  // A block comment that never ends, many times over: one pass, nothing blanked.
  const open = `int x; ${'/* a '.repeat(50_000)}`;
  assert.equal(boundCommentRuns(open), open);
});

test('a header with 9,363 comments in a row inside its include guard is checked, and the engine still works after it', async () => {
  const engine = await createEngine({ root: path.join(repo, 'examples/linux'), arches: ['x86_64'] });
  // Found by the fuzzer (test/fixtures/fuzz/open): without the bound, the parse threw "memory
  // access out of bounds" and every later parse in the process failed too.
  assert.doesNotThrow(() => engine.check(path.join(repo, 'test/fixtures/fuzz/open/wasm-stack-comments.h')));
  const after = engine.check(path.join(repo, 'examples/linux/include/uapi/linux/vfio_example.h'));
  assert.ok(after.some((f) => f.rule === 'uapi-implicit-padding'));
  engine.dispose();
});
