// Runs the CLI bundle (dist/cli.js) in a child process, asynchronously so that runs can overlap.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crashBacktrace } from './crash-report.mjs';

const repo = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
export const cliPath = path.join(repo, 'dist', 'cli.js');

/**
 * `vfio-review ...args` (or the bundle `cli`) in `cwd` with `env` added to the environment:
 * { code, signal, stdout, stderr }. `timeoutMs` is a hang guard only: past it the child is killed and
 * the run rejects.
 */
export function runCli(args, { cli = cliPath, cwd = repo, env, timeoutMs = 180_000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: env && { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hung: vfio-review ${args.join(' ')}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      // A child ended by a signal has no exit code (null); the signal goes into stderr, which the
      // tests' assertion messages print, so that a crash says which one it was.
      if (signal) stderr += `[test harness: the child was ended by ${signal}]\n${crashBacktrace(cwd, started)}`;
      resolve({ code, signal, stdout, stderr });
    });
  });
}
