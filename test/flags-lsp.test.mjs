// Flag and union hovers end to end: dist/server.js over stdio (real JSON-RPC), with the flags
// fixture tree as the workspace folder. A flag macro on its #define line in a uapi header shows its
// value and member; a union member shows the flag that selects it and where that is stated; the
// same member used as `dev->devid` in kernel C shows it too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileUri, repoRoot, startLspClient } from './support/lsp-client.mjs';

const fixture = path.join(repoRoot, 'test/fixtures/flags/linux');
const rangeH = path.join(fixture, 'include/uapi/linux/fx_range.h');
const badC = path.join(fixture, 'drivers/vfio/fx_bad.c');

/** Position of `needle` (+ `delta`) on the first line containing `line` (default: the needle). */
function positionOf(text, needle, delta = 0, line = needle) {
  const lines = text.split('\n');
  const row = lines.findIndex((l) => l.includes(line));
  assert.ok(row >= 0, `'${line}' not in the text`);
  const character = lines[row].indexOf(needle, lines[row].indexOf(line));
  assert.ok(character >= 0, `'${needle}' not on line ${row}`);
  return { line: row, character: character + delta };
}

function markdown(hover) {
  assert.ok(hover, 'expected a hover');
  assert.equal(hover.contents.kind, 'markdown');
  return hover.contents.value;
}

test('hover over stdio: a flag macro and a union member with its discriminant', async (t) => {
  const client = await startLspClient({ settings: { arches: ['x86_64'] } });
  t.after(() => client.close());
  await client.initialize({ workspaceFolders: [fixture] });

  const header = readFileSync(rangeH, 'utf8');
  const headerUri = fileUri(rangeH);
  await client.openDocument(headerUri, 'c', header, 1);

  // `#define FX_RESET_FLAG_DEV_ID\t\t(1 << 0)`: the cursor in the middle of the macro name.
  const flagAt = positionOf(header, 'FX_RESET_FLAG_DEV_ID', 5, '#define FX_RESET_FLAG_DEV_ID\t');
  const flag = markdown(await client.hover(headerUri, flagAt));
  assert.match(flag, /\*\*FX_RESET_FLAG_DEV_ID\*\* = `0x1` \(bit 0\)/, flag);
  assert.match(flag, /Flag of `struct fx_reset_info\.flags` \(`__u32`, 32-bit unsigned\)/, flag);
  assert.match(flag, /required by `FX_RESET_FLAG_DEV_ID_OWNED`/, flag);

  // A sentinel of a value member: its value and what it becomes in the member.
  const sentinel = markdown(await client.hover(headerUri, positionOf(header, 'FX_DEVID_NOT_OWNED', 3)));
  assert.match(sentinel, /\*\*FX_DEVID_NOT_OWNED\*\* = `-1`/, sentinel);
  assert.match(sentinel, /Value of `struct fx_dependent\.devid`/, sentinel);

  // `\t\t__u32\tdevid;` inside the anonymous union of struct fx_dependent.
  const member = markdown(await client.hover(headerUri, positionOf(header, 'devid', 2, '__u32\tdevid;')));
  assert.match(member, /\*\*struct fx_dependent\.devid\*\* — union member/, member);
  assert.match(member, /Active when `FX_RESET_FLAG_DEV_ID` \(in `struct fx_reset_info\.flags`\) is \*\*set\*\*/, member);
  assert.match(member, /a comment \(`include\/uapi\/linux\/fx_range\.h:29`\)/, member);
  // The layout hover of the member is still there, next to the union facts.
  assert.match(member, /offset/i, member);

  // Kernel C: `dev->devid` resolves through the parameter's type and the included uapi header.
  const c = readFileSync(badC, 'utf8');
  const cUri = fileUri(badC);
  await client.openDocument(cUri, 'c', c, 1);
  const use = markdown(await client.hover(cUri, positionOf(c, 'devid', 1, 'dev->devid = id;')));
  assert.match(use, /struct fx_dependent\.devid\*\* — union member/, use);
  assert.match(use, /`FX_RESET_FLAG_DEV_ID` \(in `struct fx_reset_info\.flags`\) is \*\*set\*\*/, use);

  // Not a flag, not a union member: no flag facts (group_id's sibling flags line is absent).
  const plain = await client.hover(headerUri, positionOf(header, 'segment', 2));
  assert.doesNotMatch(plain ? markdown(plain) : '', /union member|Flag of/);
});
