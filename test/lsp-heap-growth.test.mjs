// While the user types, the server's heap must not balloon between V8's own full collections:
// each edit of a large kernel file leaves a few hundred kilobytes that outlive the young
// generation, and V8 by default lets the heap grow to several times what was live before it
// collects (vfio_pci_core.c: 67 MB in use after indexing, 217 MB after 500 edits). From the first
// pause on, the server caps that growth (idle-gc.ts, heapGrowingPercent). Checked on the 6.12 tree
// when this machine has it: the heap in use, sampled every 25 edits, stays within a bound of what
// it was after indexing, and the findings after the edits are those of the text as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileUri, startLspClient } from './support/lsp-client.mjs';
import { kernel612 } from './support/kernel-612.mjs';

const kernel = kernel612();
const EDITS = 600;

/** Statement lines inside function bodies (a tab-indented line ending in `;`), in kernel style. */
function statementLines(lines) {
  const out = [];
  let depth = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (depth > 0 && /^\t+[a-z_][^/]*;$/.test(line)) out.push(i);
    for (const c of line.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\/\*.*?\*\/|\/\/.*$/g, '')) {
      if (c === '{') depth++;
      else if (c === '}') depth = Math.max(0, depth - 1);
    }
  }
  return out;
}

const codes = (p) => p.diagnostics.map((d) => `${d.code}@${d.range.start.line}:${d.range.start.character} ${d.message}`).sort();

test(`heap in use over ${EDITS} edits of vfio_pci_core.c stays within a bound of the indexed state`, { skip: !kernel && 'no 6.12 tree (../shared/scripts/kernel-src 6.12)', timeout: 600_000 }, async (t) => {
  const file = path.join(kernel, 'drivers/vfio/pci/vfio_pci_core.c');
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const uri = fileUri(file);
  const client = await startLspClient({ settings: { root: kernel, debounceMs: 0 } });
  t.after(() => client.close());
  await client.initialize({ workspaceFolders: [kernel] });
  let version = 1;
  await client.openDocument(uri, 'c', text, version);
  // The fast check, then the whole-index one, then a pause: the first idle collection caps growth.
  await client.waitForDiagnostics(uri, (p) => p.version === version, 300_000);
  const opened = client.diagnosticsFor(uri).length;
  await client.waitForDiagnostics(uri, () => client.diagnosticsFor(uri).length > opened, 300_000);
  const indexed = client.diagnosticsFor(uri).at(-1);
  await new Promise((r) => setTimeout(r, 3500));
  const warm = await client.request('vfioReview/stats', null);
  assert.ok(warm.idleCollections >= 1, `a collection in the pause after indexing: ${JSON.stringify(warm)}`);

  // Insert a space at the start of a statement and delete it again, as the benchmark does.
  const targets = statementLines(lines);
  let peak = warm.heapUsedMiB;
  const samples = [];
  for (let i = 0; i < EDITS / 2; i++) {
    const line = targets[Math.floor((i * targets.length) / (EDITS / 2))];
    const indent = /^\t*/.exec(lines[line])[0].length;
    const at = { line, character: indent };
    await client.changeDocument(uri, ++version, [{ range: { start: at, end: at }, text: ' ' }]);
    await client.changeDocument(uri, ++version, [{ range: { start: at, end: { line, character: indent + 1 } }, text: '' }]);
    if (i % 25 === 24) {
      const v = version;
      await client.waitForDiagnostics(uri, (p) => p.version === v, 60_000);
      const s = await client.request('vfioReview/stats', null);
      samples.push(s.heapUsedMiB);
      peak = Math.max(peak, s.heapUsedMiB);
    }
  }
  const last = await client.waitForDiagnostics(uri, (p) => p.version === version, 60_000);
  console.log(`heap in use (MiB): ${warm.heapUsedMiB} after indexing; every 50 edits ${samples.join(', ')}; peak ${peak}`);

  // What is live, plus V8's allowed growth, plus a full young generation (16 MB semi-space), plus
  // slack; without the cap the heap passes 200 MiB within 500 edits.
  const bound = warm.heapUsedMiB * 1.3 + 16 + 12;
  assert.ok(peak <= bound, `heap in use peaked at ${peak} MiB, bound ${bound.toFixed(0)} MiB (after indexing: ${warm.heapUsedMiB} MiB)`);
  // Every edit was undone: the fast check's findings are those of the file as it was.
  const fast = (p) => codes(p).filter((c) => !/^(lock-|reset-without|dma-owner)/.test(c));
  assert.deepEqual(fast(last), fast(indexed));
});
