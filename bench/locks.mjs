// The lock analysis over the whole index (drivers/vfio/**, drivers/iommu/iommufd/**,
// include/linux/vfio*.h) cold, then after one edit in vfio_pci_core.c warm: through the engine
// library, in a fresh process so the cold figure includes reading and parsing the index.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const SCRIPT = `
const e = require(process.argv[1]);
(async () => {
  const file = process.argv[3];
  const s = await e.createEngine({ root: process.argv[2], arches: ['x86_64'] });
  const text = require('fs').readFileSync(file, 'utf8');
  s.openDocument(file, text, 1);
  let t = performance.now();
  const cold = s.check(file).filter((f) => /^lock-|^reset-|^dma-/.test(f.rule)).length;
  const coldMs = performance.now() - t;
  s.changeDocument(file, [{ range: { start: { line: 100, character: 0 }, end: { line: 100, character: 0 } }, text: ' ' }], 2);
  t = performance.now();
  s.check(file);
  const warmMs = performance.now() - t;
  console.log(JSON.stringify({ coldMs, warmMs, lockFindings: cold }));
})();`;

export function benchLocks({ repo, kernel }) {
  try {
    const out = execFileSync(process.execPath, ['-e', SCRIPT, path.join(repo, 'dist/engine.js'), kernel, path.join(kernel, 'drivers/vfio/pci/vfio_pci_core.c')], { maxBuffer: 16 << 20 }).toString();
    return JSON.parse(out.trim().split('\n').pop());
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}
