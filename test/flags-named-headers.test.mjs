// The kernel flag index builds the flag models of only those uapi headers the C file names
// something of (a define, or a token that is the tag of a struct the file declares); the others
// add nothing a rule or a hover reads. Compared here with the index of every header reached
// (flagIndexOptions.everyHeader, the previous behaviour), in two independent copies of the engine:
// the findings of every rule and the hovers on every token the full index knows must be the same,
// on the flag fixtures (plus a header the fixture names only by a struct tag, and one it names
// nothing of) and on every C file of 6.12's drivers/vfio and drivers/iommu/iommufd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildEngineBundle } from './support/engine-bundle.mjs';
import { kernel612 } from './support/kernel-612.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

let temp;
let bundle;
before(async () => {
  temp = mkdtempSync(path.join(tmpdir(), 'vfio-review-named-headers-'));
  bundle = await buildEngineBundle(temp, { 'analyses/flags/kernel.ts': ['kernelFlagIndex', 'uapiHeadersOf', 'flagIndexOptions', 'withoutComments'] });
});
after(() => rmSync(temp, { recursive: true, force: true }));

/** A fresh module state of the engine (header models, units, hover facts of its own). */
function freshCopy(everyHeader) {
  delete require.cache[bundle];
  const mod = require(bundle);
  mod.flagIndexOptions.everyHeader = everyHeader;
  return mod;
}

/** The context the rules give kernelFlagIndex. */
function ruleContext(analyser, file, tree, text) {
  const facts = analyser.store.factsOf(analyser.store.read(file));
  const root = analyser.rootFor(file);
  return {
    file, uapi: false, arches: analyser.arches, layouts: new Map(), models: new Map(), parseProblems: [], unitProblems: [], memo: new Map(),
    source: { text, tree, blank: facts.blank, directives: facts.directives },
    project: { store: analyser.store, root, options: { root }, uapiUnit: (h, abi) => (analyser.isUapi(h) ? analyser.unit(h, abi) : undefined) },
  };
}

/** Per file: the findings, the hovers on every occurrence of a name the full index knows, the headers whose models were built. */
// The lock rules read no flag facts and cost most of a check of 6.12: off in both copies.
const LOCK_RULES_OFF = Object.fromEntries(['lock-double-acquire', 'lock-held-at-return', 'lock-not-held', 'lock-release-not-held', 'lock-unprotected-access'].map((r) => [r, 'off']));

async function observe(everyHeader, root, files, positionsGiven) {
  const mod = freshCopy(everyHeader);
  const engine = await mod.createEngine({ root, arches: ['x86_64'], severities: LOCK_RULES_OFF });
  try {
    return files.map((file, i) => {
      const findings = JSON.stringify(engine.check(file));
      let positions = [];
      let reached = 0;
      let names = new Set();
      engine.withTree(file, (tree, text) => {
        const ctx = ruleContext(engine, file, tree, text);
        const index = mod.kernelFlagIndex(ctx);
        reached = mod.uapiHeadersOf(ctx).length;
        names = new Set([...index.macros.keys(), ...[...index.fields.values()].map((f) => f.member)]);
        // The first two places of each name (a hover's answer depends on the name and the
        // expression around it, and the facts are the same on every line).
        const seen = new Map();
        const lines = text.split('\n');
        lines.forEach((line, l) => {
          for (const m of line.matchAll(/[A-Za-z_]\w*/g)) {
            if (!names.has(m[0]) || (seen.get(m[0]) ?? 0) >= 2) continue;
            seen.set(m[0], (seen.get(m[0]) ?? 0) + 1);
            positions.push({ line: l, character: m.index + 1 });
          }
        });
      });
      // Where the full index's names are, in both copies.
      if (positionsGiven) positions = positionsGiven[i];
      const hovers = positions.map((p) => `${p.line}:${p.character} ${JSON.stringify(engine.hover(file, p))}`);
      return { findings, hovers, positions, names: names.size, reached };
    });
  } finally {
    engine.dispose();
  }
}

function compare(root, files, every, named) {
  let hovers = 0;
  for (let i = 0; i < files.length; i++) {
    const what = path.relative(root, files[i]);
    assert.equal(named[i].findings, every[i].findings, `${what}: findings`);
    // At every name the full index knows, those of headers the file names nothing of included.
    assert.deepEqual(named[i].hovers, every[i].hovers, `${what}: hovers`);
    hovers += every[i].hovers.length;
  }
  return hovers;
}

const cFiles = (dir) => readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && /\.c$/.test(e.name)).map((e) => path.join(e.parentPath ?? e.path, e.name)).sort();

test('withoutComments keeps code, strings and characters, drops block and line comments', () => {
  const mod = freshCopy(false);
  const text = 'int a; /* struct inode */ char *s = "/* not */ x"; // tail inode\nchar c = \'"\'; int b; /* open';
  const out = mod.withoutComments(text);
  assert.ok(!/inode/.test(out), out);
  for (const kept of ['int a;', '"/* not */ x"', "'\"'", 'int b;']) assert.ok(out.includes(kept), `${kept} in ${out}`);
  assert.equal(mod.withoutComments('#define X 1 // a \\\n comment\nint y;').includes('comment'), false);
});

test('flag fixtures: the same findings and hovers with only the named headers as with every header', { timeout: 120_000 }, async () => {
  const root = path.join(temp, 'linux');
  cpSync(path.join(here, 'fixtures/flags/linux'), root, { recursive: true });
  // Named only by a struct tag (no define of it is used): its fields must still be known.
  writeFileSync(path.join(root, 'include/uapi/linux/fx_tagged.h'), [
    '#ifndef _UAPI_FX_TAGGED_H', '#define _UAPI_FX_TAGGED_H', '#include <linux/types.h>', '',
    'struct fx_tagged_info {', '\t__u32\targsz;', '\t__u32\tflags;', '#define FX_TAGGED_FLAG_A\t(1 << 0)', '\tunion {', '\t\t__u32\tdevid;', '\t\t__u32\tgroup;', '\t};', '};', '#endif', '',
  ].join('\n'));
  // Reached, named nothing of.
  writeFileSync(path.join(root, 'include/uapi/linux/fx_unused.h'), '#ifndef _UAPI_FX_UNUSED_H\n#define _UAPI_FX_UNUSED_H\n#include <linux/types.h>\n/* struct fx_tagged_info is not this header\'s */\nstruct fx_unused { __u32 flags; };\n#define FX_UNUSED_FLAG (1 << 0)\n#endif\n');
  writeFileSync(path.join(root, 'drivers/vfio/fx_tagged.c'), [
    '#include <linux/fx_tagged.h>', '#include <linux/fx_unused.h>', '#include <linux/fx_irq.h>', '',
    'static void fx_tagged_fill(struct fx_tagged_info *info, int id)', '{', '\tif (info->flags & FX_IRQ_INFO_MASKABLE)', '\t\tinfo->devid = -1;', '\telse', '\t\tinfo->group = id;', '}', '',
  ].join('\n'));
  const files = cFiles(root);
  const every = await observe(true, root, files);
  const named = await observe(false, root, files, every.map((e) => e.positions));
  compare(root, files, every, named);
  const tagged = files.indexOf(path.join(root, 'drivers/vfio/fx_tagged.c'));
  assert.match(every[tagged].findings, /union-member-type-mismatch/, 'the tagged header\'s union is checked');
  assert.ok(named[tagged].names < every[tagged].names, 'fx_unused.h is left out of the index');
});

const kernel = kernel612();

test('6.12: the same findings and hovers on every C file of drivers/vfio and drivers/iommu/iommufd', { skip: !kernel && 'no 6.12 tree', timeout: 900_000 }, async () => {
  const files = [...cFiles(path.join(kernel, 'drivers/vfio')), ...cFiles(path.join(kernel, 'drivers/iommu/iommufd'))];
  const every = await observe(true, kernel, files);
  const named = await observe(false, kernel, files, every.map((e) => e.positions));
  const hovers = compare(kernel, files, every, named);
  assert.ok(hovers > 500, `${hovers} hovers compared`);
  assert.ok(named.some((n, i) => n.names < every[i].names), 'some file names fewer headers than it reaches');
});
