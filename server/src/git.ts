// The few git queries ABI comparison needs: where a repository starts, what a revision names,
// a file's content at a commit, and which files changed since a revision. git runs through
// execFile with fixed arguments (never a shell), in a scrubbed environment (a GIT_DIR left in the
// editor's environment must not point the queries at another repository), with a timeout.
import type { ExecFileException } from 'node:child_process';
import type * as ChildProcess from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// child_process is loaded when git first runs: it brings net, dgram and the stream modules with
// it (3-5 ms), which `layout` and `abi-diff` of two files never use.
let childProcess: typeof ChildProcess | undefined;
const processes = () => (childProcess ??= require('node:child_process') as typeof ChildProcess);

export const GIT_TIMEOUT_MS = 10_000;
/** Enough for any header worth analysing (the engine stops at 8 MiB). */
const MAX_OUTPUT_BYTES = 32 * 1024 * 1024;
/** Bytes of file contents kept by the show cache (contents at a commit never change). */
const SHOW_CACHE_BYTES = 64 * 1024 * 1024;
/** All the contents one showFiles call reads at once. */
const MAX_BATCH_BYTES = 256 * 1024 * 1024;

/** git failed in a way that is not an answer (no binary, timeout, an unexpected error). */
export class GitError extends Error {
  override name = 'GitError';
}

/** A path that is not inside the repository it is asked about. */
export class PathOutsideRepoError extends Error {
  override name = 'PathOutsideRepoError';
}

/**
 * The environment git runs in: the caller's, minus every GIT_* variable. Variables such as
 * GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY, GIT_CONFIG_* or GIT_EXEC_PATH
 * redirect git to other repositories, objects, configuration or programs; none of them is needed
 * to read the repository around a file. Optional locks are off so that reading never competes
 * with the user's own git commands for index.lock; prompts are off so git never waits on stdin.
 */
export function gitEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    if (!/^GIT_/i.test(key)) clean[key] = value;
  }
  clean.GIT_OPTIONAL_LOCKS = '0';
  clean.GIT_TERMINAL_PROMPT = '0';
  // git's messages are matched below; keep them in English.
  clean.LC_ALL = 'C';
  return clean;
}

interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs git in `cwd`. Resolves with the exit status, also a non-zero one (many queries answer
 * with it); rejects with GitError when git could not run or did not finish.
 */
function git(cwd: string, args: string[]): Promise<GitResult> {
  // A repository's own configuration may name programs to run (core.fsmonitor); none is needed.
  const fullArgs = ['-c', 'core.fsmonitor=false', '-c', 'core.quotePath=false', ...args];
  return new Promise((resolve, reject) => {
    processes().execFile(
      'git',
      fullArgs,
      { cwd, timeout: GIT_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, env: gitEnvironment(), encoding: 'utf8', windowsHide: true },
      (error: ExecFileException | null, stdout: string, stderr: string) => {
        if (!error) return resolve({ code: 0, stdout, stderr });
        if (error.code === 'ENOENT') return reject(new GitError('git is not installed (no `git` on the PATH)'));
        if (error.killed || error.signal) return reject(new GitError(`git ${args[0]} did not finish within ${GIT_TIMEOUT_MS / 1000} s`));
        if (error.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return reject(new GitError(`git ${args[0]}: output larger than ${MAX_OUTPUT_BYTES} bytes`));
        if (typeof error.code === 'number') return resolve({ code: error.code, stdout, stderr });
        reject(new GitError(`git ${args[0]}: ${error.message}`));
      },
    );
  });
}

const firstLine = (text: string) => text.trim().split('\n')[0] ?? '';

/** A directory to run git in: `start` itself, or the closest existing folder above it. */
function existingDirectory(start: string): string {
  let dir = path.resolve(start);
  for (;;) {
    const stat = fs.statSync(dir, { throwIfNoEntry: false });
    if (stat?.isDirectory()) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return dir;
    dir = parent;
  }
}

export type RepoLookup = { top: string; reason?: undefined } | { top?: undefined; reason: string };

/**
 * The top level of the work tree that contains `start` (a file or folder, which need not exist),
 * or why there is none: not a repository, a bare repository, git missing, a repository git
 * refuses to read (owned by another user).
 */
export async function lookupRepo(start: string): Promise<RepoLookup> {
  const cwd = existingDirectory(start);
  let result: GitResult;
  try {
    result = await git(cwd, ['rev-parse', '--show-toplevel']);
  } catch (error) {
    return { reason: (error as Error).message };
  }
  const top = result.stdout.trim();
  if (result.code !== 0 || !top) {
    const message = firstLine(result.stderr).replace(/^fatal: /, '');
    return { reason: /not a git repository/i.test(message) ? `${cwd} is not inside a git repository` : message || `git rev-parse failed in ${cwd}` };
  }
  return { top: realDirectory(top) };
}

/** The top level of the work tree around `start`, or undefined (not a repository, no git). */
export async function repoTopLevel(start: string): Promise<string | undefined> {
  return (await lookupRepo(start)).top;
}

function realDirectory(dir: string): string {
  try {
    return fs.realpathSync.native(dir);
  } catch {
    return path.resolve(dir);
  }
}

/** `file` with symbolic links resolved as far as it exists (the rest is kept as written). */
function realPath(file: string): string {
  const absolute = path.resolve(file);
  try {
    return fs.realpathSync.native(absolute);
  } catch {
    const parent = path.dirname(absolute);
    return parent === absolute ? absolute : path.join(realPath(parent), path.basename(absolute));
  }
}

/**
 * `file` (absolute, or relative to `cwd`) as a path inside the repository at `top`, with `/`
 * separators, for `REV:path` and pathspecs. Links are resolved first, so a link that leads out
 * of the repository is refused like a `..` that does. The top level itself is `.`.
 */
export function repoPath(top: string, file: string, cwd: string = process.cwd()): string {
  if (file.includes('\0')) throw new PathOutsideRepoError(`${JSON.stringify(file)}: not a valid path`);
  const resolved = realPath(path.resolve(cwd, file));
  const relative = path.relative(realDirectory(top), resolved);
  if (relative === '') return '.';
  if (relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) {
    throw new PathOutsideRepoError(`${file}: outside the repository ${top}`);
  }
  const parts = relative.split(path.sep);
  if (parts[0] === '.git') throw new PathOutsideRepoError(`${file}: inside the repository's .git folder`);
  return parts.join('/');
}

/** Refuses what git would read as an option or what cannot be a revision. */
function checkRev(rev: string): void {
  if (rev === '' || rev.startsWith('-') || /[\0\n\r]/.test(rev)) throw new GitError(`'${rev}' is not a valid revision`);
}

/** The commit `rev` names (full hash), or undefined when it names none (unknown, empty repo). */
export async function resolveCommit(top: string, rev: string): Promise<string | undefined> {
  checkRev(rev);
  const result = await git(top, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  const hash = result.stdout.trim();
  return result.code === 0 && /^[0-9a-f]{40,64}$/.test(hash) ? hash : undefined;
}

// Contents by (commit, path): a commit's files never change, so entries never go stale. Promises
// are stored so that concurrent requests for one file share one git process.
const showCache = new Map<string, { promise: Promise<string | undefined>; bytes: number }>();
let showCacheBytes = 0;

function remember(key: string, promise: Promise<string | undefined>): void {
  const entry = { promise, bytes: 0 };
  showCache.set(key, entry);
  promise.then(
    (text) => {
      if (showCache.get(key) !== entry) return;
      entry.bytes = text?.length ?? 0;
      showCacheBytes += entry.bytes;
      // Oldest first: Map iteration follows insertion order, and hits re-insert.
      for (const [oldKey, old] of showCache) {
        if (showCacheBytes <= SHOW_CACHE_BYTES || oldKey === key) break;
        showCache.delete(oldKey);
        showCacheBytes -= old.bytes;
      }
    },
    () => {
      if (showCache.get(key) === entry) showCache.delete(key);
    },
  );
}

/**
 * The content of `relPath` (as repoPath returns it) at `rev`, or undefined when the file does not
 * exist there (added since, or a folder). Throws GitError when `rev` is not a commit.
 */
export async function showFile(top: string, rev: string, relPath: string): Promise<string | undefined> {
  const commit = /^[0-9a-f]{40,64}$/.test(rev) ? rev : await resolveCommit(top, rev);
  if (!commit) throw new GitError(`unknown revision '${rev}'`);
  if (relPath === '.' || relPath === '' || relPath.startsWith('/') || relPath.split('/').includes('..')) {
    throw new PathOutsideRepoError(`${relPath}: not a file path inside the repository`);
  }
  const key = `${commit}\0${relPath}`;
  const hit = showCache.get(key);
  if (hit) {
    showCache.delete(key);
    showCache.set(key, hit);
    return hit.promise;
  }
  const promise = (async () => {
    // `<commit>:<path>` reads the path from the top level; cat-file prints the blob as stored,
    // with no textconv or external program in between.
    const result = await git(top, ['cat-file', 'blob', `${commit}:${relPath}`]);
    // The commit was verified above, so a failure means no such file at that commit (or a
    // folder, or a submodule): there is nothing to compare with either way.
    return result.code === 0 ? result.stdout : undefined;
  })();
  remember(key, promise);
  return promise;
}

/** A blob, tree or missing object as `git cat-file --batch` reports it, read from its output. */
function readBatch(out: Buffer, count: number): ({ type: string; body: Buffer } | undefined)[] {
  const answers: ({ type: string; body: Buffer } | undefined)[] = [];
  let at = 0;
  while (answers.length < count) {
    const eol = out.indexOf(10, at);
    if (eol < 0) throw new GitError('git cat-file --batch: its output ended early');
    // `<oid> <type> <size>`, or `<what was asked> missing` / `ambiguous`.
    const header = /^[0-9a-f]{40,64} (\S+) (\d+)$/.exec(out.toString('utf8', at, eol));
    at = eol + 1;
    if (!header) {
      answers.push(undefined);
      continue;
    }
    const size = Number(header[2]);
    if (size > MAX_OUTPUT_BYTES) throw new GitError(`git cat-file: output larger than ${MAX_OUTPUT_BYTES} bytes`);
    if (at + size > out.length) throw new GitError('git cat-file --batch: its output ended early');
    answers.push({ type: header[1], body: out.subarray(at, at + size) });
    at += size + 1; // the blob and the newline after it
  }
  return answers;
}

/**
 * The contents of many files at one commit, as showFile gives each (undefined where the file does
 * not exist there, or is a folder), through one `git cat-file --batch` process instead of one
 * process per file: `check --base` of a release's uapi headers asks for about 175, and starting
 * them took 1.5 s of the run. Cached contents are taken from showFile's cache; a path that one
 * input line cannot carry (a newline in it) goes through showFile.
 */
export async function showFiles(top: string, rev: string, relPaths: string[]): Promise<(string | undefined)[]> {
  const commit = /^[0-9a-f]{40,64}$/.test(rev) ? rev : await resolveCommit(top, rev);
  if (!commit) throw new GitError(`unknown revision '${rev}'`);
  const results: (string | undefined)[] = new Array(relPaths.length).fill(undefined);
  const asked: number[] = [];
  const pending: Promise<void>[] = [];
  for (const relPath of relPaths) {
    if (relPath === '.' || relPath === '' || relPath.startsWith('/') || relPath.split('/').includes('..')) {
      throw new PathOutsideRepoError(`${relPath}: not a file path inside the repository`);
    }
  }
  relPaths.forEach((relPath, i) => {
    if (showCache.has(`${commit}\0${relPath}`) || /[\n\r]/.test(relPath)) pending.push(showFile(top, commit, relPath).then((text) => { results[i] = text; }));
    else asked.push(i);
  });
  if (asked.length) {
    const input = asked.map((i) => `${commit}:${relPaths[i]}\n`).join('');
    const out = await gitWithInput(top, ['cat-file', '--batch'], input);
    readBatch(out, asked.length).forEach((answer, k) => {
      const i = asked[k];
      // A folder or a submodule has no text to compare, as with showFile's `cat-file blob`.
      const text = answer?.type === 'blob' ? answer.body.toString('utf8') : undefined;
      results[i] = text;
      remember(`${commit}\0${relPaths[i]}`, Promise.resolve(text));
    });
  }
  await Promise.all(pending);
  return results;
}

/** Runs git with `input` on its stdin; resolves with its stdout when it exits with status 0. */
function gitWithInput(cwd: string, args: string[], input: string): Promise<Buffer> {
  const fullArgs = ['-c', 'core.fsmonitor=false', '-c', 'core.quotePath=false', ...args];
  return new Promise((resolve, reject) => {
    const child = processes().spawn('git', fullArgs, { cwd, timeout: GIT_TIMEOUT_MS, env: gitEnvironment(), windowsHide: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let stderr = '';
    let failed: GitError | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_BATCH_BYTES) {
        failed ??= new GitError(`git ${args[0]}: output larger than ${MAX_BATCH_BYTES} bytes`);
        child.kill();
      } else chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => { if (stderr.length < 4096) stderr += chunk.toString('utf8'); });
    // git may exit before reading all of its input (a bad repository): the exit says why.
    child.stdin.on('error', () => {});
    child.on('error', (error: NodeJS.ErrnoException) => {
      failed ??= new GitError(error.code === 'ENOENT' ? 'git is not installed (no `git` on the PATH)' : `git ${args[0]}: ${error.message}`);
    });
    child.on('close', (code, signal) => {
      if (failed) return reject(failed);
      if (signal) return reject(new GitError(`git ${args[0]} did not finish within ${GIT_TIMEOUT_MS / 1000} s`));
      if (code !== 0) return reject(new GitError(`git ${args[0]}: ${firstLine(stderr) || `exit status ${code}`}`));
      resolve(Buffer.concat(chunks));
    });
    child.stdin.end(input);
  });
}

export interface ChangedFilesOptions {
  /** Also list files git does not track yet (not ignored). */
  untracked?: boolean;
}

/**
 * Files that differ between `rev` and the working tree, under `pathspecs` (repository paths as
 * repoPath returns them; none or `.` for the whole tree), as repository paths. Deleted files are
 * left out: there is no new version to look at. Renames count as a deletion and an addition.
 */
export async function changedFiles(top: string, rev: string, pathspecs: string[] = [], options: ChangedFilesOptions = {}): Promise<string[]> {
  checkRev(rev);
  const specs = pathspecs.length ? pathspecs : ['.'];
  // Literal pathspecs: a `*` or `:` in a file name is a character, not a pattern or magic.
  const diff = await git(top, ['--literal-pathspecs', 'diff', '--name-only', '-z', '--no-renames', '--no-ext-diff', '--no-textconv', '--diff-filter=d', rev, '--', ...specs]);
  if (diff.code !== 0) throw new GitError(`git diff ${rev}: ${firstLine(diff.stderr) || `exit status ${diff.code}`}`);
  const files = new Set(diff.stdout.split('\0').filter(Boolean));
  if (options.untracked) {
    const others = await git(top, ['--literal-pathspecs', 'ls-files', '-z', '--others', '--exclude-standard', '--', ...specs]);
    if (others.code !== 0) throw new GitError(`git ls-files: ${firstLine(others.stderr) || `exit status ${others.code}`}`);
    for (const file of others.stdout.split('\0')) if (file) files.add(file);
  }
  return [...files].sort();
}

/** Whether git tracks `relPath` (in the index). */
export async function isTracked(top: string, relPath: string): Promise<boolean> {
  const result = await git(top, ['--literal-pathspecs', 'ls-files', '-z', '--error-unmatch', '--', relPath]);
  return result.code === 0;
}
