// The floor and the check: reading and parsing every file of the VFIO set with web-tree-sitter
// (nothing else) against `vfio-review check` of the same files with every rule, both as whole
// processes on one thread (--jobs 1, --no-cache), side by side in each run.
import { createRequire } from 'node:module';
import path from 'node:path';
import { bytesOf, median, mib, round, runTimed, vfioSet } from './measure.mjs';

// Loads web-tree-sitter and the grammar as the engine does, then parses each file once.
const PARSE_ONLY = `
const fs = require('fs');
const { Parser, Language } = require(process.argv[1]);
(async () => {
  await Parser.init();
  const parser = new Parser();
  parser.setLanguage(await Language.load(process.argv[2]));
  for (const f of process.argv.slice(3)) parser.parse(fs.readFileSync(f, 'utf8')).delete();
})();`;

export function benchCheckParse({ repo, kernel, runs = 5 }) {
  const files = vfioSet(kernel);
  const mb = mib(bytesOf(files));
  const webTreeSitter = createRequire(path.join(repo, 'package.json')).resolve('web-tree-sitter');
  const grammar = path.join(repo, 'dist', 'tree-sitter-c.wasm');
  const parseMs = [];
  const checkMs = [];
  let findings;
  for (let i = 0; i < runs; i++) {
    const p = runTimed(process.execPath, ['-e', PARSE_ONLY, webTreeSitter, grammar, ...files]);
    if (p.status !== 0) return { error: `parse-only: ${p.stderr.trim().split('\n').pop()}` };
    parseMs.push(p.ms);
    const c = runTimed(process.execPath, [path.join(repo, 'dist', 'cli.js'), 'check', ...files, '--root', kernel, '--jobs', '1', '--no-cache', '--fail-on', 'never', '--format', 'json']);
    if (c.status !== 0) return { error: `check: exit ${c.status}: ${c.stderr.trim().split('\n').pop()}` };
    checkMs.push(c.ms);
    findings = JSON.parse(c.stdout).findings.length;
  }
  const parse = median(parseMs);
  const check = median(checkMs);
  return {
    files: files.length, mb: round(mb, 2), runs, parseMs: round(parse), checkMs: round(check), ratio: round(check / parse, 2),
    parseMBps: round(mb / (parse / 1000), 2), checkMBps: round(mb / (check / 1000), 2), findings,
  };
}

// Exported for a quick look: node bench/check-parse.mjs KERNEL [RUNS]
if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const repo = path.dirname(path.dirname(new URL(import.meta.url).pathname));
  console.log(JSON.stringify(benchCheckParse({ repo, kernel: process.argv[2], runs: Number(process.argv[3] ?? 1) }), null, 2));
}
