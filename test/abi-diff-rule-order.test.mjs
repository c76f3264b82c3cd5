// The comparison sorts its findings by line, then by rule id. It compared the ids with
// localeCompare, whose first call in a process loads ICU's collator (15-17 ms of a 0.3 s abi-diff
// run); it now compares code units. Both orders must be the same: for every rule id the engine
// has, and on a header pair whose changes put several rules on one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEngine, RULES } from '../dist/engine.js';

const sign = (n) => Math.sign(n);

test('every pair of rule ids orders the same by localeCompare and by code units', () => {
  const ids = RULES.map((r) => r.id);
  assert.ok(ids.filter((id) => id.startsWith('abi-')).length >= 18);
  for (const a of ids) {
    for (const b of ids) {
      const byCodeUnits = a < b ? -1 : a > b ? 1 : 0;
      assert.equal(sign(a.localeCompare(b)), byCodeUnits, `${a} vs ${b}`);
    }
  }
});

const TYPES_H = `#ifndef _UAPI_LINUX_TYPES_H
#define _UAPI_LINUX_TYPES_H
typedef unsigned char __u8;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
#endif
`;

// One struct where a member changes size, moves, and the struct changes size and alignment:
// findings of four rules, some on the same line (the type's name).
const header = (body, flags) => `#ifndef _UAPI_LINUX_ORDER_H
#define _UAPI_LINUX_ORDER_H
#include <linux/types.h>

#define ORDER_FLAG_A ${flags}
#define ORDER_FLAG_B (1 << 2)

struct order_args {
${body}
};

struct order_other { __u32 a; __u32 b; };
#endif
`;
const OLD = header('\t__u32 flags;\n\t__u32 count;\n\t__u8 tag;', '(1 << 0)');
const NEW = header('\t__u64 flags;\n\t__u8 tag;\n\t__s32 count;\n\t__u32 extra;', '(1 << 1)');

test('compare() lists same-line findings in the order localeCompare gave them', async () => {
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-order-'));
  try {
    fs.mkdirSync(path.join(temp, 'include/uapi/linux'), { recursive: true });
    fs.writeFileSync(path.join(temp, 'include/uapi/linux/types.h'), TYPES_H);
    const file = path.join(temp, 'include/uapi/linux/order.h');
    fs.writeFileSync(file, NEW);
    const engine = await createEngine({ root: temp, arches: ['x86_64', 'i386'], diskSnapshot: true });
    try {
      engine.openDocument(file, NEW, 1);
      engine.setBase(file, { text: OLD, label: 'old', location: 'old' });
      const findings = engine.compare(file, ['x86_64', 'i386']);
      const lines = findings.map((f) => f.range.start.line);
      const sameLine = lines.filter((l, i) => lines.indexOf(l) !== i);
      assert.ok(sameLine.length >= 2, `expected several findings on one line, got ${JSON.stringify(findings.map((f) => [f.range.start.line, f.rule]))}`);
      assert.ok(new Set(findings.map((f) => f.rule)).size >= 4);
      const rulesOnLine = (l) => new Set(findings.filter((f) => f.range.start.line === l).map((f) => f.rule)).size;
      assert.ok(lines.some((l) => rulesOnLine(l) >= 2), "two rules on one line");
      const expected = [...findings].sort((a, b) => a.range.start.line - b.range.start.line || a.rule.localeCompare(b.rule));
      assert.deepEqual(findings.map((f) => `${f.range.start.line} ${f.rule}`), expected.map((f) => `${f.range.start.line} ${f.rule}`));
    } finally {
      engine.dispose();
    }
  } finally {
    fs.rmSync(temp, { recursive: true, force: true });
  }
});
