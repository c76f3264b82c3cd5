// uapi headers take some types from the C library (struct timespec, sockaddr, size-like typedefs):
// the engine parses its table of them (grammars/kernel-c.json, libcTypes) only when a lookup gets
// past the tree's own definitions (model/scope.ts, the fallback). Laid out through the fallback,
// a header must give what it gives when the same definitions are in the tree itself, read before
// the header: missing typedefs, missing tags (one only forward-declared in the tree, which the
// model does not keep as a tag), sizeof of a library type in an array bound, and a struct that
// needs nothing from the library.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { createEngine } from '../dist/engine.js';

const require = createRequire(import.meta.url);
const LIBC = require('../grammars/kernel-c.json').libcTypes.source;

const TYPES_H = `#ifndef _UAPI_LINUX_TYPES_H
#define _UAPI_LINUX_TYPES_H
typedef unsigned int __u32;
typedef unsigned long long __u64;
#endif
`;

const HEADER = (include) => `#ifndef _UAPI_LINUX_LIBC_USER_H
#define _UAPI_LINUX_LIBC_USER_H
${include}
#include <linux/types.h>

struct timespec;

struct libc_user_times {
	__u32 flags;
	struct timespec ts;
	struct timeval tv;
	time_t when;
};

struct libc_user_addr {
	socklen_t len;
	struct sockaddr_storage ss;
	char tail[sizeof(struct sockaddr) - 1];
};

struct libc_user_plain {
	__u32 a;
	__u64 b;
};
#endif
`;

let temp;
const trees = {};

before(() => {
  temp = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-libc-'));
  for (const [name, include, extra] of [
    ['fallback', '', {}],
    ['explicit', '#include <linux/libc_types.h>', { 'include/uapi/linux/libc_types.h': `#ifndef _LIBC_TYPES_H\n#define _LIBC_TYPES_H\n${LIBC}\n#endif\n` }],
  ]) {
    const root = path.join(temp, name);
    const files = { Kbuild: '# root\n', 'include/uapi/linux/types.h': TYPES_H, 'include/uapi/linux/libc_user.h': HEADER(include), ...extra };
    for (const [rel, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    }
    trees[name] = root;
  }
});

after(() => {
  if (temp) fs.rmSync(temp, { recursive: true, force: true });
});

/** The layouts of the header's own types, without where they are (the two trees differ there). */
async function layoutsOf(root) {
  const engine = await createEngine({ root, arches: ['x86_64', 'i386', 'arm64', 'arm', 's390x'] });
  try {
    const report = engine.layouts(path.join(root, 'include/uapi/linux/libc_user.h'));
    return Object.fromEntries(Object.entries(report.arches).map(([abi, { types }]) => [abi, types.map(({ file, line, character, endLine, ...rest }) => rest)]));
  } finally {
    engine.dispose();
  }
}

test('library types through the lazy fallback lay out as when the tree defines them', async () => {
  const fallback = await layoutsOf(trees.fallback);
  const explicit = await layoutsOf(trees.explicit);
  assert.deepEqual(fallback, explicit);
  // The comparison means something: the library's types were found (no unknown sizes), and
  // `struct timespec`, only declared in the tree, has the library's size (16 bytes on x86_64, 8 on i386).
  for (const [abi, types] of Object.entries(fallback)) {
    for (const t of types) assert.deepEqual(t.unknown, [], `${abi} ${t.name}`);
  }
  const times = (abi) => fallback[abi].find((t) => t.name === 'struct libc_user_times');
  assert.equal(times('x86_64').members.find((m) => m.path === 'ts').size, 16);
  assert.equal(times('i386').members.find((m) => m.path === 'ts').size, 8);
});
