// Regex audit: every regular expression literal in server/src (found with the TypeScript parser,
// so none is missed by a grep) runs on adversarial 100,000-character strings built from its own
// characters and the usual suspects (runs of spaces, identifiers, comment openers, backslashes,
// parentheses), each with a tail that makes the match fail late. A regex with catastrophic or
// quadratic backtracking does not finish within the guard; the test names it.
//
// The regexes run in a worker that reports progress, so a stuck one is stopped and reported
// instead of hanging the test. `new RegExp(...)` built at run time are listed separately below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import ts from 'typescript';
import { repoRoot } from './support/lsp-client.mjs';

/** Per regex and string: a hang guard, far above the milliseconds a linear match takes. */
const GUARD_MS = 5000;
const LENGTH = 100_000;
// adversarialInputs runs inside the worker too (as text): it uses no outer name but LENGTH, which the worker gets.

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

/** Every regex literal of a file, with its line, and the `new RegExp(` calls. */
function regexesOf(file) {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const literals = [];
  const dynamic = [];
  const visit = (node) => {
    if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) {
      const raw = node.getText(sf);
      const end = raw.lastIndexOf('/');
      literals.push({ file: path.relative(repoRoot, file), line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, source: raw.slice(1, end), flags: raw.slice(end + 1) });
    } else if (ts.isNewExpression(node) && node.expression.getText(sf) === 'RegExp') {
      dynamic.push(`${path.relative(repoRoot, file)}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}: ${node.getText(sf).slice(0, 120)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { literals, dynamic };
}

/** Adversarial inputs for one regex: runs of each character it names, and of common C pieces. */
function adversarialInputs(source) {
  const units = new Set([' ', '\t', '\n', '\r\n', 'a', 'A', '_', '0', '1', 'x', '(', ')', '{', '}', '[', ']', '*', '/', '/*', '*/', '//', '#', '\\', '\\\n', '"', "'", ',', ';', ':', '.', '-', '<', '>', '=', '|', '&', '@', 'a ', 'a,', 'a(', 'a.', ' *', '__u32 ', 'struct ', '#define ', 'ab', '\u00e9', '\ufffd']);
  // The literal characters of the regex itself (escapes resolved to their character).
  for (const m of source.matchAll(/\\([^dDsSwWbBnrtfv0-9uxpPk])|([^\\[\](){}|?*+^$.])/g)) units.add(m[1] ?? m[2]);
  const words = source.replace(/\\[dDsSwWbB]|[\\[\](){}|?*+^$.]/g, ' ').split(/\s+/).filter((w) => w.length > 1);
  for (const w of words) units.add(w).add(`${w} `);
  const inputs = [];
  for (const u of units) {
    const body = u.repeat(Math.ceil(LENGTH / u.length)).slice(0, LENGTH);
    // A tail that no pattern expects, at the end where a late failure costs the most.
    inputs.push(body + '\u0001!', body + '\n');
  }
  return inputs;
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const LENGTH = workerData.length;
const adversarialInputs = eval('(' + workerData.makeInputs + ')');
workerData.regexes.forEach((r, i) => {
  const re = new RegExp(r.source, r.flags);
  adversarialInputs(r.source).forEach((input, j) => {
    parentPort.postMessage({ i, j, head: input.slice(0, 12), length: input.length });
    re.lastIndex = 0;
    if (re.global || re.sticky) input.replace(re, '');
    else { re.test(input); input.split(re); }
  });
});
parentPort.postMessage({ done: true });
`;

/** Runs all regexes on their inputs (made in the worker); returns those that did not finish within the guard. */
async function runAudit(regexes) {
  const slow = [];
  let start = 0;
  while (start < regexes.length) {
    const batch = regexes.slice(start);
    const worker = new Worker(WORKER, { eval: true, workerData: { regexes: batch, length: LENGTH, makeInputs: adversarialInputs.toString().replace(/^function adversarialInputs/, 'function') } });
    const stuckAt = await new Promise((resolve) => {
      let last = { i: 0, j: 0, head: '', length: 0 };
      let timer;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => resolve(last), GUARD_MS);
      };
      arm();
      worker.on('message', (m) => {
        if (m.done) {
          clearTimeout(timer);
          resolve(null);
        } else {
          last = m;
          arm();
        }
      });
      worker.on('error', (e) => {
        clearTimeout(timer);
        resolve({ ...last, error: String(e) });
      });
    });
    await worker.terminate();
    if (!stuckAt) break;
    const r = batch[stuckAt.i];
    slow.push(`${r.file}:${r.line} /${r.source}/${r.flags} on ${JSON.stringify(stuckAt.head)}... (${stuckAt.length} chars)${stuckAt.error ? `: ${stuckAt.error}` : ''}`);
    start += stuckAt.i + 1;
  }
  return slow;
}

const files = sourceFiles(path.join(repoRoot, 'server', 'src'));
const found = files.map(regexesOf);
const literals = found.flatMap((f) => f.literals);
const dynamic = found.flatMap((f) => f.dynamic);

test(`regex audit: ${literals.length} regex literals in server/src, each on adversarial ${LENGTH}-character strings`, { timeout: 600_000 }, async () => {
  assert.ok(literals.length > 100, `only ${literals.length} regexes found: the scan is broken`);
  const slow = await runAudit(literals);
  assert.deepEqual(slow, [], `regexes that did not finish within ${GUARD_MS} ms`);
});

/**
 * Regexes this audit found quadratic, each beside the linear one that replaced it (looked up in
 * the source, so the test follows the code), with how the code uses it: both must give the same
 * answers on the inputs below and on random strings of the alphabet. (The others were replaced
 * by string methods or a scan: `trimEnd()` in analyser.ts, a split in cli.ts's declaresSomething
 * and b4.ts's oneLine, splitArrayBounds in layout-text.ts.)
 */
const REWRITES = [
  // ruleDocUrl, the rule page links of diagnostics, SARIF, b4 and replies.
  {
    file: 'server/src/engine/rules/rule.ts', old: /\/+$/, now: '(?<!\\/)\\/+$', use: (re, s) => s.replace(re, ''),
    inputs: ['', '/', '//', 'https://docs.example/rules', 'https://docs.example/rules/', 'file:///a/b///', 'a//b', 'a/ ', '/a/'], alphabet: ['/', 'a', ':', ' ', '\n'],
  },
  {
    file: 'server/src/formats/sarif.ts', old: /\/*$/, now: '(?<!\\/)\\/*$', use: (re, s) => s.replace(re, '/'),
    inputs: ['', '/', '//', '/home/u/linux', '/home/u/linux/', '/home/u/linux///', 'a//b', 'a/ '], alphabet: ['/', 'a', ' ', '\n'],
  },
  ...['server/src/engine/analyser.ts', 'server/src/engine/hover.ts'].map((file) => ({
    file, old: /\[.*$/, now: '\\[(?<!\\[.*?\\[).*$', use: (re, s) => [s.replace(re, ''), re.exec(s)?.[0]],
    inputs: ['', ' ', '__u8[16]', '__u32[2][3]', 'int', 'a[', '[[', 'char *[4]', 'int (*)[4]', 'buf[N +\n M]', 'x\n[1]', 'a[1]\r\nb[2]', 'p[\u2028q[r'], alphabet: ['[', ']', 'a', ' ', '\n', '\r', '\u2028', '*'],
  })),
  {
    file: 'server/src/engine/analyses/flags/model.ts', old: /^\/\*+|\*+\/$|^\/\//g, now: '^\\/\\*+|(?<!\\*)\\*+\\/$|^\\/\\/', use: (re, s) => s.replace(re, ''),
    inputs: ['', '/**/', '/*/', '/* x */', '/*** x ***/', '// x', '///x', '/* a ** b */', '/**\n * VFIO_X: a flag.\n */', '*/', '/* **/', '//*/'], alphabet: ['/', '*', ' ', 'a', '\n'],
  },
  {
    file: 'server/src/engine/analyses/locks/paths.ts', old: /([A-Za-z_]\w*)\s*$/, now: '(?<!\\w)\\d*([A-Za-z_]\\w*)\\s*$', use: (re, s) => re.exec(s)?.[1],
    inputs: ['', ' ', 'a', 'vdev->lock', 'a.b ', 'x[1]', 'x.9ab', '9ab', 'a.12', 'a_1', '_', 'a->b\n', 'a b', '\u00e9a', '&x->m'], alphabet: ['a', 'B', '_', '1', ' ', '\n', '.', '->', '[', ']', '\u00e9'],
  },
  // normaliseExpr has made every blank a single space before these run.
  ...[[/\s*(->|\.)\s*/g, ' ?(->|\\.) ?'], [/\s*([()\[\],])\s*/g, ' ?([()\\[\\],]) ?']].map(([old, now]) => ({
    file: 'server/src/engine/analyses/locks/paths.ts', old, now, use: (re, s) => s.replace(/\s+/g, ' ').trim().replace(re, '$1'),
    inputs: ['', ' ', 'a -> b', '( &x ) -> y', 'a . b', 'f ( a , b )', 'a[ i ]', 'a\n->\tb', 'a. -> b', 'a - > b'], alphabet: [' ', '\t', '\n', 'a', '->', '-', '.', '(', ')', '[', ']', ','],
  })),
];

test('each rewritten regex answers as the quadratic one it replaced', () => {
  let seed = 1;
  const random = (n) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  for (const r of REWRITES) {
    const found = literals.find((l) => l.file === r.file && l.source === r.now);
    assert.ok(found, `${r.file} no longer has /${r.now}/: update REWRITES`);
    const randoms = Array.from({ length: 3000 }, () => Array.from({ length: random(12) }, () => r.alphabet[random(r.alphabet.length)]).join(''));
    for (const s of [...r.inputs, ...randoms]) {
      const now = new RegExp(found.source, found.flags);
      r.old.lastIndex = 0;
      assert.deepEqual(r.use(now, s), r.use(r.old, s), `${r.file} /${r.now}/ on ${JSON.stringify(s)}`);
    }
  }
});

test('the audit catches a regex with catastrophic backtracking (the probe works)', async () => {
  const slow = await runAudit([{ file: 'probe', line: 1, source: '^(a+)+$', flags: '' }, { file: 'probe', line: 2, source: '\\s+$', flags: '' }]);
  assert.equal(slow.length, 2, slow.join('\n'));
});

/**
 * Every `new RegExp(` in server/src, reviewed: patterns from the shipped grammar data
 * (grammars/*.json), identifiers from the syntax tree, or text escaped first. (Globs from
 * `.vfio-review.json` are matched without a regex: engine/macro-glob.ts.)
 */
const REVIEWED_DYNAMIC = [
  'server/src/engine/analyser.ts: new RegExp(`(typedef',
  'server/src/engine/analyser.ts: new RegExp(`\\\\b${kind}',
  'server/src/engine/analyses/locks/primitives.ts: new RegExp(locks.',
  'server/src/engine/analyses/locks/primitives.ts: new RegExp(r)',
  'server/src/engine/parse/blank.ts: new RegExp(p)',
  'server/src/engine/patch/review.ts: new RegExp(`\\\\b(?:${[...names].map(escapeRegExp)',
  'server/src/engine/patch/review.ts: new RegExp(`\\\\b${escapeRegExp(',
];

test('every RegExp built at run time is one reviewed here', () => {
  const unreviewed = dynamic.map((d) => d.replace(/:\d+: /, ': ')).filter((d) => !REVIEWED_DYNAMIC.some((r) => d.startsWith(r)));
  assert.deepEqual(unreviewed, [], 'review the new RegExp and add it to REVIEWED_DYNAMIC');
});

test('a binding glob with many `*` is checked against a long macro name without backtracking', async () => {
  // As a `.*` chain this glob takes time growing as the name's length to the 12th power.
  const glob = `${'A*'.repeat(12)}B`;
  const name = 'A'.repeat(2000);
  const matching = `${'A'.repeat(12)}B`;
  const bindings = { [glob]: 'struct a.flags', [name]: 'struct b.flags', [matching]: 'struct b.flags' };
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     import(workerData.engine).then(({ parseProjectConfig }) => parentPort.postMessage(parseProjectConfig(workerData.text, '/tree/.vfio-review.json').problems));`,
    { eval: true, workerData: { engine: new URL('../dist/engine.js', import.meta.url).href, text: JSON.stringify({ flags: { bindings } }) } },
  );
  const problems = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve('did not finish'), 4 * GUARD_MS);
    worker.on('message', (m) => (clearTimeout(timer), resolve(m)));
    worker.on('error', (e) => (clearTimeout(timer), resolve(String(e))));
  });
  await worker.terminate();
  // The long name does not end in B: no conflict. The other matches the glob: it conflicts.
  assert.deepEqual(Array.isArray(problems) ? problems.map((p) => p.key) : problems, [`flags.bindings.${matching}`]);
});
