// What a child that died by a signal leaves behind: a backtrace from its core file. CI runs the
// tests with core dumps on (.ci/run: `ulimit -c unlimited`; the kernel's pattern here is `core`
// in the child's working folder), so a crash too rare to reproduce by hand still says where it was.
import { spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';

const BACKTRACE_LINES = 240;

/**
 * The faulting thread's backtrace, then every thread's, from `cwd/core` when it was written at or
 * after `sinceMs` (by the child that just died), as text for an assertion message; '' when there
 * is no such core or no gdb. The core is deleted afterwards: it is large, and it would be left in
 * the checkout.
 */
export function crashBacktrace(cwd, sinceMs, executable = process.execPath) {
  const core = path.join(cwd, 'core');
  const stat = statSync(core, { throwIfNoEntry: false });
  if (!stat || stat.mtimeMs + 1000 < sinceMs) return '';
  try {
    const gdb = spawnSync('gdb', ['-batch', '-nx', '-ex', 'bt 32', '-ex', 'info threads', '-ex', 'thread apply all bt 8', executable, core], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
    if (gdb.error) return `[test harness: ${core} left by the child; gdb could not read it: ${gdb.error.message}]\n`;
    const lines = gdb.stdout.split('\n').filter((line) => line && !/^\[New LWP|^warning: /.test(line));
    return `[test harness: backtrace from ${core}]\n${lines.slice(0, BACKTRACE_LINES).join('\n')}\n`;
  } finally {
    rmSync(core, { force: true });
  }
}
