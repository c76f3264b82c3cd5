// The test harness's crash report (test/support/crash-report.mjs): a child that dies by a signal
// with core dumps on leaves a core, and the harness turns it into a backtrace and removes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crashBacktrace } from './support/crash-report.mjs';

const hasGdb = spawnSync('gdb', ['--version']).status === 0;
const corePattern = (() => {
  try {
    return spawnSync('cat', ['/proc/sys/kernel/core_pattern'], { encoding: 'utf8' }).stdout.trim();
  } catch {
    return '';
  }
})();

test('a child killed by SIGSEGV leaves a backtrace naming its threads, and no core behind', { skip: !hasGdb ? 'no gdb' : corePattern !== 'core' ? `core_pattern is '${corePattern}', not 'core'` : false }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-crash-'));
  try {
    const started = Date.now();
    const child = spawnSync('bash', ['-c', `ulimit -c unlimited && exec "${process.execPath}" -e 'process.kill(process.pid, "SIGSEGV")'`], { cwd: dir });
    assert.equal(child.signal, 'SIGSEGV');
    const report = crashBacktrace(dir, started);
    assert.match(report, /backtrace from .*core/);
    assert.match(report, /Thread 1 /);
    assert.match(report, /#0 /);
    assert.equal(existsSync(path.join(dir, 'core')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no core, or an older one: nothing to say', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-review-crash-'));
  try {
    assert.equal(crashBacktrace(dir, Date.now()), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
