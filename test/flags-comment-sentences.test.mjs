// commentSentences (analyses/flags/model.ts) splits each header's comments once per text and
// counts lines on from the previous comment instead of from the top for each comment. Its
// sentences (text, first line, comment number) must be those of the plain way, kept here as the
// reference: every comment's line counted from the top of the text. On the fixtures and examples,
// and on 6.12's include/uapi/linux and include/linux when this machine has the tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { kernel612 } from './support/kernel-612.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.dirname(here);

/** The reference: the splitting as it was, each comment's line counted from the top. */
function referenceSentences(text) {
  const lineOf = (offset) => {
    let n = 0;
    for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) n++;
    return n;
  };
  const out = [];
  const re = /\/\*[\s\S]*?\*\/|\/\/[^\n]*/g;
  let m;
  let index = 0;
  while ((m = re.exec(text))) {
    const startLine = lineOf(m.index);
    const lines = m[0].replace(/^\/\*+|(?<!\*)\*+\/$|^\/\//g, '').split('\n').map((l) => l.replace(/^\s*\*\s?/, ''));
    let cur = '';
    let curLine = startLine;
    lines.forEach((l, i) => {
      const parts = l.split(/(?<=[.;:])\s+(?=[A-Z@-])/);
      parts.forEach((p, j) => {
        if (!cur.trim()) curLine = startLine + i;
        cur += ' ' + p;
        if (j < parts.length - 1 || /[.;:]\s*$/.test(p) || p.trim() === '') {
          if (cur.trim()) out.push({ text: cur.replace(/\s+/g, ' ').trim(), line: curLine, comment: index });
          cur = '';
        }
      });
    });
    if (cur.trim()) out.push({ text: cur.replace(/\s+/g, ' ').trim(), line: curLine, comment: index });
    index++;
  }
  return out;
}

const headers = (dir) => readdirSync(dir).flatMap((e) => {
  const p = path.join(dir, e);
  return statSync(p).isDirectory() ? headers(p) : /\.[ch]$/.test(e) ? [p] : [];
});

test('comment sentences equal the reference on fixtures, examples and 6.12 headers', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-sentences-'));
  try {
    const outfile = path.join(dir, 'model.cjs');
    await build({ entryPoints: [path.join(repo, 'server/src/engine/analyses/flags/model.ts')], bundle: true, platform: 'node', format: 'cjs', outfile, logLevel: 'warning' });
    const { commentSentences } = createRequire(import.meta.url)(outfile);
    const kernel = kernel612();
    const files = [...headers(path.join(here, 'fixtures')), ...headers(path.join(repo, 'examples'))];
    if (kernel) files.push(...headers(path.join(kernel, 'include/uapi/linux')), ...readdirSync(path.join(kernel, 'include/linux')).filter((f) => f.endsWith('.h')).map((f) => path.join(kernel, 'include/linux', f)));
    let sentences = 0;
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const expected = referenceSentences(text);
      assert.deepEqual(commentSentences(text), expected, file);
      // Asked again for the same text (the dependencies, then the discriminants): the same answer.
      assert.deepEqual(commentSentences(text), expected, file);
      sentences += expected.length;
    }
    assert.ok(sentences > 1000, `only ${sentences} sentences compared`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
