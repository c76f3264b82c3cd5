import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');

test('the committed grammar is the one from tree-sitter-c 0.24.1, as PROVENANCE.md says', () => {
  const committed = new URL('../../grammars/tree-sitter-c.wasm', import.meta.url).pathname;
  const provenance = readFileSync(new URL('../../grammars/PROVENANCE.md', import.meta.url), 'utf8');
  assert.ok(provenance.includes(sha(committed)), 'PROVENANCE.md names the committed file hash');
  const pkg = require('tree-sitter-c/package.json');
  assert.equal(pkg.version, '0.24.1');
  assert.equal(sha(require.resolve('tree-sitter-c/tree-sitter-c.wasm')), sha(committed));
});
