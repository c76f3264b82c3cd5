// A temporary git repository holding a miniature kernel tree, for the tests of ABI comparison
// against git revisions. Two commits:
//
//   1. "foo: initial uapi"   Kbuild, include/uapi/linux/types.h, include/uapi/linux/foo.h (FOO_V1),
//                            drivers/foo/foo_core.c
//   2. "foo: devid"          foo.h becomes FOO_V2: `__u32 group_id;` wrapped into
//                            `union { __u32 group_id; __u32 devid; };` (compatible) and
//                            FOO_INFO_FLAG_RESET changed from (1 << 0) to (1 << 2) (an ABI break);
//                            include/uapi/linux/bar.h added (new: nothing to compare it with)
//
// Nothing outside the temporary folder is read or written: git runs with HOME in the folder, no
// system or global configuration, and the identity set in the repository's own config.
//
// Importing this module has no side effects (node --test also runs files under test/).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const TYPES_H = `/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_LINUX_TYPES_H
#define _UAPI_LINUX_TYPES_H

typedef __signed__ char __s8;
typedef unsigned char __u8;
typedef __signed__ short __s16;
typedef unsigned short __u16;
typedef __signed__ int __s32;
typedef unsigned int __u32;
__extension__ typedef __signed__ long long __s64;
__extension__ typedef unsigned long long __u64;

#define __aligned_u64 __u64 __attribute__((aligned(8)))

#endif /* _UAPI_LINUX_TYPES_H */
`;

const fooHeader = ({ groupId, resetFlag }) => `/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_LINUX_FOO_H
#define _UAPI_LINUX_FOO_H

#include <linux/types.h>

#define FOO_API_VERSION	1

/**
 * struct foo_info - information about a foo device
 * @argsz: size of the structure as userspace knows it
 * @flags: FOO_INFO_FLAG_*
 */
struct foo_info {
	__u32	argsz;
	__u32	flags;
#define FOO_INFO_FLAG_RESET	${resetFlag}
${groupId}
	__u32	num_regions;
	__aligned_u64	cookie;
};

#endif /* _UAPI_LINUX_FOO_H */
`;

const GROUP_ID = '\t__u32\tgroup_id;';
const GROUP_ID_UNION = '\tunion {\n\t\t__u32\tgroup_id;\n\t\t__u32\tdevid;\n\t};';

/** foo.h at the first commit. */
export const FOO_V1 = fooHeader({ groupId: GROUP_ID, resetFlag: '(1 << 0)' });
/** FOO_V1 with the union wrap only: a compatible change. */
export const FOO_UNION_ONLY = fooHeader({ groupId: GROUP_ID_UNION, resetFlag: '(1 << 0)' });
/** foo.h at the second commit (HEAD): union wrap and a changed macro value. */
export const FOO_V2 = fooHeader({ groupId: GROUP_ID_UNION, resetFlag: '(1 << 2)' });

export const BAR_H = `/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_LINUX_BAR_H
#define _UAPI_LINUX_BAR_H

#include <linux/types.h>

struct bar_args {
	__u32	argsz;
	__u32	flags;
};

#endif /* _UAPI_LINUX_BAR_H */
`;

export const FOO_CORE_C = `// SPDX-License-Identifier: GPL-2.0
#include <linux/foo.h>

int foo_core_version(void)
{
	return FOO_API_VERSION;
}
`;

export const FOO = 'include/uapi/linux/foo.h';
export const BAR = 'include/uapi/linux/bar.h';
export const TYPES = 'include/uapi/linux/types.h';
export const FOO_CORE = 'drivers/foo/foo_core.c';

export function gitAvailable() {
  return spawnSync('git', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** An environment in which git sees only `home`'s (empty) configuration and no redirection. */
export function isolatedGitEnv(home) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^GIT_/i.test(key)) env[key] = value;
  return { ...env, HOME: home, XDG_CONFIG_HOME: home, GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' };
}

/**
 * Creates the repository under a new temporary folder. Returns:
 *  - root: the repository (and kernel tree) root; temp: the folder holding it (and `home/`)
 *  - git(...args): runs git in the repository, returns stdout
 *  - write(rel, text), read(rel): files of the work tree
 *  - cleanup(): removes everything
 */
export function createGitFixture() {
  const temp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-review-git-')));
  const home = path.join(temp, 'home');
  const root = path.join(temp, 'linux');
  fs.mkdirSync(home);
  fs.mkdirSync(root);
  const env = isolatedGitEnv(home);
  let tick = 0;
  const git = (...args) =>
    execFileSync('git', args, {
      cwd: root,
      encoding: 'utf8',
      // Fixed dates: the commits are the same on every run.
      env: { ...env, GIT_AUTHOR_DATE: `2024-01-0${1 + tick} 12:00:00 +0000`, GIT_COMMITTER_DATE: `2024-01-0${1 + tick} 12:00:00 +0000` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const write = (rel, text) => {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    return file;
  };
  const read = (rel) => fs.readFileSync(path.join(root, rel), 'utf8');

  git('-c', 'init.defaultBranch=main', 'init', '-q');
  git('config', 'user.name', 'Fixture Author');
  git('config', 'user.email', 'fixture@example.org');
  git('config', 'commit.gpgsign', 'false');

  write('Kbuild', '# SPDX-License-Identifier: GPL-2.0\n# A miniature kernel tree: this file and include/uapi mark its root.\nobj-y += drivers/foo/\n');
  write(TYPES, TYPES_H);
  write(FOO, FOO_V1);
  write(FOO_CORE, FOO_CORE_C);
  git('add', '-A');
  git('commit', '-q', '-m', 'foo: initial uapi');
  tick++;

  write(FOO, FOO_V2);
  write(BAR, BAR_H);
  git('add', '-A');
  git('commit', '-q', '-m', 'foo: devid');

  return {
    temp,
    root,
    home,
    env,
    git,
    write,
    read,
    path: (rel) => path.join(root, rel),
    cleanup: () => fs.rmSync(temp, { recursive: true, force: true }),
  };
}
