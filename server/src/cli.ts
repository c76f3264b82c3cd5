// The `vfio-review` command: `check` for CI and pre-commit hooks, `layout` for reviewers, `lsp`
// for editors. Exit codes are part of the contract: 0 clean, 1 a finding reached --fail-on,
// 2 the run itself went wrong (bad arguments, missing paths, I/O errors). Nothing is ever
// written into the user's tree; results go to stdout, complaints to stderr.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { version } from '../../package.json';
import { ALL_ABIS, createEngine, findKernelRoot, RULES, scanDirectives } from './engine';
import type { AbiName, AnalysisService, Finding, Severity } from './engine';
import { isUapiHeader } from './config';
import { Analyser, DEFAULT_UAPI_GLOBS } from './engine/analyser';
import { FindingsCache, toolStamp } from './engine/cache/findings';
import { lockIRStats, type LockIRStats } from './engine/cache/lock-ir';
import { checkFiles, isIoError, isUsageError, type CheckWorkerData, type FileResult, type FromWorker, type ToWorker } from './check-files';
import { collectInputs, InputPathError, unreadableReason } from './files';
import { WorkQueue } from './work-queue';
import { changedFiles, GitError, lookupRepo, PathOutsideRepoError, repoPath, resolveCommit, showFile, showFiles } from './git';
import { formatGcc } from './formats/gcc';
import { formatGithub } from './formats/github';
import { formatJson } from './formats/json';
import { formatLayoutJson } from './formats/layout-json';
import { formatLayoutText } from './formats/layout-text';
import { formatSarif, toSarifLog } from './formats/sarif';
import { PATCH_HELP, runPatch, runReply } from './cli-patch';
import { CliError, parse, parseArches, parseCacheDir } from './cli-args';
import { tuneInlining } from './v8-inlining';

// The bundle doubles as the library the format tests load (test/formats.test.mjs).
export { formatGcc, formatGithub, formatJson, formatLayoutJson, formatLayoutText, formatSarif };
export { escapeData, escapeProperty } from './formats/github';
export { toSarifLog } from './formats/sarif';
export { collectInputs } from './files';

const EXIT_OK = 0;
const EXIT_FINDINGS = 1;
const EXIT_USAGE = 2;

/** Reported for inputs the walk could not analyse (the engine lists it in RULES); severity info. */
const INPUT_SKIPPED = 'input-skipped';

const HELP = `Usage: vfio-review <command> [options]

Commands:
  check [PATH...]         Analyse C files and uapi headers (directories are walked for .c/.h).
      --root DIR          Kernel tree root (default: found upwards from the first PATH).
      --arch LIST|all     ABIs to compare, comma-separated (default: all).
      --format FORMAT     text (gcc-style, default), json, sarif, github.
      --fail-on LEVEL     error (default), warning, never: exit 1 when a finding reaches it.
      --base REV          Also compare every uapi header changed since the git revision REV
                          with its version there (abi-* findings; new headers have none).
      --jobs N            Files checked in parallel, each worker thread with its own parser
                          (default: the number of cores). The output does not depend on N.
      --cache DIR         Keep each file's findings with what they were computed from in DIR
                          (default: $XDG_CACHE_HOME/vfio-review or ~/.cache/vfio-review).
      --no-cache          Neither read nor write the cache.
  abi-diff OLD NEW        ABI changes of a uapi header from OLD to NEW, each a file or a
                          REV:path of the git repository around the cwd (or --root); the
                          path is from the repository's top, or from the cwd with ./ or ../.
      --root DIR, --arch LIST|all, --format FORMAT, --fail-on LEVEL   as for check.
  layout FILE [TYPE...]   Print struct/union layouts of FILE (all its types when none is named).
      --root DIR          Kernel tree root (default: found upwards from FILE).
      --arch LIST|all     ABIs to lay out (default: all).
      --format FORMAT     text (pahole-like, default) or json.
${PATCH_HELP}  lsp --stdio             Run the language server over stdin/stdout.

Options:
  -h, --help              Show this help.
  --version               Show the version.

ABIs: ${ALL_ABIS.join(', ')}.
Exit status: 0 no finding at --fail-on, 1 some finding at --fail-on, 2 usage or I/O error.
`;


type Output = { stdout: (text: string) => void; stderr: (text: string) => void };

const SEVERITY_RANK: Record<Severity, number> = { hint: 0, info: 1, warning: 2, error: 3 };
const FAIL_ON: Record<string, number> = { error: 3, warning: 2, never: Infinity };
const CHECK_FORMATS = ['text', 'json', 'sarif', 'github'];
const LAYOUT_FORMATS = ['text', 'json'];

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

function checkChoice(value: string | undefined, choices: string[], what: string): string {
  const chosen = value ?? choices[0];
  if (!choices.includes(chosen)) throw new CliError(`unknown ${what} '${chosen}' (expected ${choices.join(', ')})`);
  return chosen;
}

/** --root if given (it must be a directory), else the kernel tree around `start`, if any. */
function resolveRoot(rootOption: string | undefined, start: string): string | undefined {
  if (rootOption !== undefined) {
    const root = path.resolve(rootOption);
    if (!fs.statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new CliError(`--root ${rootOption}: not a directory`);
    return root;
  }
  return findKernelRoot(path.resolve(start)) ?? undefined;
}

function compareFindings(a: Finding, b: Finding): number {
  return (
    (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
    a.range.start.line - b.range.start.line ||
    a.range.start.character - b.range.start.character ||
    (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0) ||
    (a.message < b.message ? -1 : a.message > b.message ? 1 : 0)
  );
}

const skippedFinding = (file: string, reason: string): Finding => ({
  file,
  range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
  severity: 'info',
  rule: INPUT_SKIPPED,
  message: `Not analysed: ${reason}.`,
});


/** Rule pages shipped with the package (docs/rules beside dist/). */
const docsBase = () => pathToFileURL(path.resolve(__dirname, '..', 'docs', 'rules')).href;

async function runCheck(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parse({
    args,
    allowPositionals: true,
    options: {
      ...HELP_OPTION,
      root: { type: 'string' },
      arch: { type: 'string', multiple: true },
      format: { type: 'string' },
      'fail-on': { type: 'string' },
      base: { type: 'string' },
      jobs: { type: 'string' },
      cache: { type: 'string' },
      'no-cache': { type: 'boolean' },
    },
  } as const);
  if (values.help) return out.stdout(HELP), EXIT_OK;
  const format = checkChoice(values.format, CHECK_FORMATS, 'format');
  const failOn = FAIL_ON[checkChoice(values['fail-on'], Object.keys(FAIL_ON), '--fail-on level')];
  const arches = parseArches(values.arch);
  const jobs = parseJobs(values.jobs);
  const cacheDir = parseCacheDir(values.cache, values['no-cache']);
  const paths = positionals.length ? positionals : ['.'];
  const root = resolveRoot(values.root, paths[0]);

  let inputs;
  try {
    inputs = collectInputs(paths);
  } catch (error) {
    if (error instanceof InputPathError) throw new CliError(error.message);
    throw error;
  }
  // Read from git before anything is analysed, so a bad revision costs nothing.
  const bases = values.base === undefined ? [] : await changedHeaderBases(values.base, paths, values.root ?? paths[0], root, inputs.files);

  const workerData: CheckWorkerData = {
    // The engine keeps the lock analysis's per-file IR in the same folder (lock-ir/).
    options: { root, arches, diskSnapshot: true, ...(cacheDir === undefined ? {} : { cacheDir }) },
    cache: cacheDir === undefined ? undefined : { dir: cacheDir, stamp: toolStamp(version, [__filename, workerScript()]) },
    bases,
  };
  const run = jobs > 1 && inputs.files.length > 1 && fs.existsSync(workerScript())
    ? await checkInParallel(inputs.files, jobs, workerData)
    : await checkHere(inputs.files, workerData);

  const findings: Finding[] = inputs.skipped.map((skipped) => skippedFinding(skipped.path, skipped.reason));
  let failedFiles = 0;
  for (const result of run.results) {
    if (result.usageError !== undefined) throw new CliError(result.usageError);
    if (result.skipped !== undefined) findings.push(skippedFinding(result.file, result.skipped));
    else if (result.internalError !== undefined) {
      // An engine failure on one file should not hide the findings of the others.
      failedFiles++;
      out.stderr(`vfio-review: internal error while checking ${path.relative(process.cwd(), result.file) || result.file}: ${result.internalError}\n`);
    } else findings.push(...result.findings);
  }
  // The tree's .vfio-review.json, once: its problems are findings on that file.
  for (const p of run.configProblems) {
    findings.push({
      file: p.file, rule: 'config-invalid', severity: 'warning',
      range: { start: { line: p.line, character: 0 }, end: { line: p.line, character: 0 } },
      message: `${p.key ? `${p.key}: ` : ''}${p.message}`,
    });
  }
  const writeError = [...run.cacheStats, ...run.lockIRStats].find((stats) => stats?.writeErrors)?.lastWriteError;
  if (writeError) out.stderr(`vfio-review: note: the cache in ${cacheDir} was not written (${writeError}); findings are unaffected\n`);
  if (cacheDir !== undefined && process.env.VFIO_REVIEW_CACHE_STATS) {
    const total = (key: 'hits' | 'misses' | 'dropped' | 'written') => run.cacheStats.reduce((sum, stats) => sum + (stats?.[key] ?? 0), 0);
    out.stderr(`vfio-review: cache ${cacheDir}: ${total('hits')} hits, ${total('misses')} misses, ${total('dropped')} dropped, ${total('written')} written\n`);
    const lockIR = (key: 'hits' | 'misses' | 'dropped' | 'written') => run.lockIRStats.reduce((sum, stats) => sum + stats[key], 0);
    out.stderr(`vfio-review: lock IR cache ${cacheDir}: ${lockIR('hits')} hits, ${lockIR('misses')} misses, ${lockIR('dropped')} dropped, ${lockIR('written')} written\n`);
  }
  findings.sort(compareFindings);
  printFindings(findings, format, out, new Set(bases.map(({ base }) => base.location)));

  if (failedFiles) return EXIT_USAGE;
  return findings.some((finding) => SEVERITY_RANK[finding.severity] >= failOn) ? EXIT_FINDINGS : EXIT_OK;
}

function parseJobs(value: string | undefined): number {
  if (value === undefined) return os.availableParallelism?.() ?? os.cpus().length ?? 1;
  const jobs = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(jobs) || jobs < 1) throw new CliError(`--jobs ${value}: expected a whole number of at least 1`);
  return jobs;
}

/** dist/check-worker.js: the worker threads' bundle, beside this one. */
const workerScript = () => path.join(__dirname, 'check-worker.js');

interface CheckRun {
  /** One per file, in the order of `files`. */
  results: FileResult[];
  configProblems: { file: string; key: string; line: number; message: string }[];
  cacheStats: (FindingsCache['stats'] | undefined)[];
  /** The lock IR cache's, per thread that analysed (this one, or each worker). */
  lockIRStats: LockIRStats[];
}

/** --jobs 1 (or a single file): every file in this thread, with one engine. */
async function checkHere(files: string[], data: CheckWorkerData): Promise<CheckRun> {
  const engine = (await createEngine(data.options)) as Analyser;
  const cache = data.cache ? new FindingsCache(data.cache.dir, data.cache.stamp) : undefined;
  try {
    for (const { file, base } of data.bases) engine.setBase(file, base);
    const results = checkFiles(engine, cache, files);
    const configProblems = files.length ? engine.configProblems(files[0]) : [];
    return { results, configProblems, cacheStats: [cache?.stats], lockIRStats: [lockIRStats()] };
  } finally {
    engine.dispose();
  }
}

/**
 * --jobs N: the files the cache answers first, here (a warm run starts no thread and loads no
 * parser), then the others in worker threads. The cache is asked through an engine whose parser
 * is not loaded: a lookup reads and hashes files, it parses nothing.
 */
async function checkInParallel(files: string[], jobs: number, data: CheckWorkerData): Promise<CheckRun> {
  const answered = new Map<string, FileResult>();
  const lookupStats: CheckRun['cacheStats'] = [];
  if (data.cache) {
    const cache = new FindingsCache(data.cache.dir, data.cache.stamp);
    const engine = new Analyser(data.options);
    const withBase = new Set(data.bases.map(({ file }) => file));
    for (const file of files) {
      if (withBase.has(file)) continue;
      const findings = cache.lookup(engine, file);
      if (findings) answered.set(file, { file, findings });
    }
    // The misses are counted again by the worker that checks the file.
    lookupStats.push({ ...cache.stats, misses: 0 });
    if (answered.size === files.length) {
      return { results: files.map((file) => answered.get(file)!), configProblems: engine.configProblems(files[0]), cacheStats: lookupStats, lockIRStats: [] };
    }
  }
  const rest = files.filter((file) => !answered.has(file));
  const run = await checkInWorkers(rest, Math.min(jobs, rest.length), data, files[0]);
  const byFile = new Map(run.results.map((result) => [result.file, result]));
  return {
    results: files.map((file) => answered.get(file) ?? byFile.get(file)!),
    configProblems: run.configProblems,
    cacheStats: [...lookupStats, ...run.cacheStats],
    lockIRStats: run.lockIRStats,
  };
}

/** Files sent to a worker ahead of its answers: the next one is waiting when a check ends. */
const FILES_IN_FLIGHT = 2;

/**
 * --jobs N: N worker threads, each with its own engine, check the files of their own part of the
 * tree (WorkQueue: contiguous runs in path order, taken over by the others at the end). Each
 * worker has FILES_IN_FLIGHT files sent ahead, so that it does not wait for this thread (which
 * gets no core of its own) between two files. Results are put back in the order of `files`, so
 * the output is the same whatever N is. A worker that dies fails the file it was checking
 * (reported like any engine failure) and is replaced while files remain; when it had more than
 * one file unanswered, they are given to the next workers one at a time, so that the file that
 * stops a worker is the one reported.
 */
function checkInWorkers(files: string[], jobs: number, data: CheckWorkerData, configFile = files[0]): Promise<CheckRun> {
  const sizeOf = (file: string) => fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  const queue = new WorkQueue(files.map((file) => ({ file, size: sizeOf(file) })), jobs);
  const results = new Map<string, FileResult>();
  const run: CheckRun = { results: [], configProblems: [], cacheStats: [], lockIRStats: [] };
  let replacements = jobs * 2;
  let running = 0;
  const givenBack = new Set<string>();
  return new Promise((resolve) => {
    const finish = () => {
      // Files no worker could take (every worker died) are failures, not silence.
      for (const file of files) if (!results.has(file)) results.set(file, { file, findings: [], internalError: 'not checked: the worker threads stopped' });
      run.results = files.map((file) => results.get(file)!);
      resolve(run);
    };
    const start = (slot: number, askConfig: boolean) => {
      running++;
      /** Sent and not answered, in the order the worker checks them. */
      const inFlight: string[] = [];
      let stopped = false;
      const worker = new Worker(workerScript(), { workerData: { ...data, files } satisfies CheckWorkerData });
      const send = (message: ToWorker) => worker.postMessage(message);
      const fill = () => {
        while (!stopped && inFlight.length < FILES_IN_FLIGHT) {
          // A file given back by a worker that died is checked alone: if this worker dies too, it is the cause.
          if (inFlight.length && (queue.hasReturned || inFlight.some((file) => givenBack.has(file)))) break;
          const file = queue.next(slot);
          if (file === undefined) break;
          inFlight.push(file);
          send({ kind: 'check', file });
        }
        if (!stopped && !inFlight.length) {
          stopped = true;
          send({ kind: 'stop' });
        }
      };
      worker.on('message', (message: FromWorker) => {
        if (message.kind === 'result') {
          results.set(message.result.file, message.result);
          const at = inFlight.indexOf(message.result.file);
          if (at >= 0) inFlight.splice(at, 1);
          fill();
        } else if (message.kind === 'config') run.configProblems = message.problems;
        else {
          run.cacheStats.push(message.stats);
          run.lockIRStats.push(message.lockIR);
        }
      });
      let failure: string | undefined;
      worker.on('error', (error) => {
        failure = String(error?.stack ?? error);
      });
      worker.on('exit', (code) => {
        running--;
        // The worker checks its files in order, but may have died before it started the first one
        // (while its parser loaded): with several unanswered, all are tried again, each alone.
        const unanswered = inFlight.filter((file) => !results.has(file));
        if (unanswered.length === 1) {
          results.set(unanswered[0], { file: unanswered[0], findings: [], internalError: `the worker thread stopped (${failure ?? `exit code ${code}`})` });
        } else {
          for (const file of unanswered) givenBack.add(file);
          queue.giveBack(unanswered);
        }
        if ((!stopped || failure) && queue.size && replacements-- > 0) start(slot, false);
        if (running === 0) finish();
      });
      if (askConfig && configFile !== undefined) send({ kind: 'config', file: configFile });
      fill();
    };
    for (let i = 0; i < jobs; i++) start(i, i === 0);
  });
}

/**
 * Prints findings in `format`. `revisionLocations` are related locations that name a file at a
 * git revision (`HEAD~1:include/uapi/linux/vfio.h`): text, JSON and GitHub print them as they
 * are; SARIF has no URI for them, so there they become a message-only location.
 */
function printFindings(findings: Finding[], format: string, out: Output, revisionLocations: ReadonlySet<string> = new Set()): void {
  const baseDir = process.cwd();
  if (format === 'json') out.stdout(formatJson(findings, baseDir));
  else if (format === 'github') out.stdout(formatGithub(findings, baseDir));
  else if (format === 'sarif') {
    const options = { baseDir, rules: RULES, toolVersion: version, docsBase: docsBase() };
    if (!revisionLocations.size) return out.stdout(formatSarif(findings, options));
    const log = toSarifLog(findings, options);
    log.runs[0].results?.forEach((result, index) => {
      result.relatedLocations = result.relatedLocations?.map((location, j) => {
        const related = findings[index].related?.[j];
        if (!related || !revisionLocations.has(related.file)) return location;
        const at = `${related.file}:${related.range.start.line + 1}:${related.range.start.character + 1}`;
        return { id: location.id, message: { text: `${at}: ${related.message}` } };
      });
    });
    out.stdout(JSON.stringify(log, null, 2) + '\n');
  } else out.stdout(formatGcc(findings, baseDir));
}

// --- comparison with older versions ---------------------------------------------------------------

interface BaseFor {
  /** The file as the check loop names it. */
  file: string;
  base: { text: string; label: string; location: string };
}

const realPathOf = (file: string) => {
  try {
    return fs.realpathSync(file);
  } catch {
    return path.resolve(file);
  }
};

/** Runs git work, turning its failures into one-line command-line errors. */
async function viaGit<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof GitError || error instanceof PathOutsideRepoError) throw new CliError(`${what}: ${error.message}`);
    throw error;
  }
}

/**
 * `check --base REV`: the version at REV of every uapi header among `files` that changed since
 * REV. Headers added since REV have none (there is nothing to compare them with).
 */
async function changedHeaderBases(rev: string, paths: string[], gitStart: string, root: string | undefined, files: string[]): Promise<BaseFor[]> {
  if (rev === '') throw new CliError('--base: empty revision');
  return viaGit(`--base ${rev}`, async () => {
    const repo = await lookupRepo(path.resolve(gitStart));
    if (!repo.top) throw new CliError(`--base ${rev}: ${repo.reason}`);
    const top = repo.top;
    const commit = await resolveCommit(top, rev);
    if (!commit) throw new CliError(`--base: unknown revision '${rev}' in ${top}`);
    const pathspecs = paths.map((p) => repoPath(top, p));
    const byRealPath = new Map(files.map((file) => [realPathOf(file), file]));
    const wanted = (await changedFiles(top, commit, pathspecs))
      .map((rel) => ({ rel, file: byRealPath.get(realPathOf(path.join(top, rel))) }))
      .filter((c): c is { rel: string; file: string } => c.file !== undefined && isUapiHeader(c.file, root ?? findKernelRoot(c.file), DEFAULT_UAPI_GLOBS));
    const bases: BaseFor[] = [];
    // One git process for all of them: a release-to-release diff touches hundreds of headers.
    const texts = await showFiles(top, commit, wanted.map(({ rel }) => rel));
    texts.forEach((text, i) => {
      const { rel, file } = wanted[i];
      if (text === undefined) return;
      const location = `${rev}:${rel}`;
      bases.push({ file, base: { text, label: location, location } });
    });
    return bases;
  });
}

/** One side of `abi-diff`: its text, the path it is analysed under and where findings point. */
interface Version {
  text: string;
  /** Absolute: the file, or for REV:path the path in the work tree. */
  path: string;
  /** The file, or `REV:path` with the path from the repository's top. */
  location: string;
  atRevision: boolean;
}

/** Whether the text declares anything abi-diff compares: a struct, union, enum, typedef or macro with a value. */
function declaresSomething(text: string): boolean {
  if (scanDirectives(text).some((d) => d.kind === 'define' && (d.body ?? '').trim() !== '')) return true;
  const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, ' ').replace(/^[ \t]*#.*(?:\\\r?\n.*)*$/gm, ' ');
  // A struct, union or enum keyword, then `{` with no `;{}()` between: the stretch before each `{`
  // is tested once (a regex from each keyword to the next `{` rescans a long stretch per keyword).
  const beforeBraces = code.split('{').slice(0, -1).map((before) => before.split(/[;}()]/).pop() ?? '');
  return beforeBraces.some((stretch) => /\b(struct|union|enum)\b/.test(stretch)) || /\btypedef\b/.test(code);
}

/** OLD or NEW of `abi-diff`: an existing file, else `REV:path` in the repository around `gitStart`. */
async function readVersion(spec: string, gitStart: string): Promise<Version> {
  const stat = fs.statSync(spec, { throwIfNoEntry: false });
  if (stat) {
    if (!stat.isFile()) throw new CliError(`${spec}: not a file`);
    const reason = unreadableReason(spec);
    if (reason) throw new CliError(`${spec}: ${reason}`);
    const file = path.resolve(spec);
    return { text: fs.readFileSync(file, 'utf8'), path: file, location: file, atRevision: false };
  }
  const colon = spec.indexOf(':');
  if (colon <= 0) throw new CliError(`${spec}: no such file (a file at a git revision is written REV:path)`);
  const rev = spec.slice(0, colon);
  const given = spec.slice(colon + 1);
  if (given === '') throw new CliError(`${spec}: no path after the revision`);
  return viaGit(spec, async () => {
    const repo = await lookupRepo(gitStart);
    if (!repo.top) throw new CliError(`${spec}: ${repo.reason}`);
    const top = repo.top;
    // As in `git show REV:path`: from the top of the repository, or from the cwd with ./ and ../.
    const fromCwd = /^\.\.?(\/|$)/.test(given);
    const rel = repoPath(top, fromCwd ? path.resolve(given) : path.resolve(top, given));
    const commit = await resolveCommit(top, rev);
    if (!commit) throw new CliError(`${spec}: unknown revision '${rev}' in ${top}`);
    const text = await showFile(top, commit, rel);
    if (text === undefined) throw new CliError(`${spec}: no such file at ${rev}`);
    return { text, path: path.join(top, ...rel.split('/')), location: `${rev}:${rel}`, atRevision: true };
  });
}

async function runAbiDiff(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parse({
    args,
    allowPositionals: true,
    options: { ...HELP_OPTION, root: { type: 'string' }, arch: { type: 'string', multiple: true }, format: { type: 'string' }, 'fail-on': { type: 'string' } },
  } as const);
  if (values.help) return out.stdout(HELP), EXIT_OK;
  const format = checkChoice(values.format, CHECK_FORMATS, 'format');
  const failOn = FAIL_ON[checkChoice(values['fail-on'], Object.keys(FAIL_ON), '--fail-on level')];
  const arches = parseArches(values.arch);
  if (positionals.length !== 2) throw new CliError('abi-diff: expected OLD and NEW (each a file or REV:path)');
  const [oldSpec, newSpec] = positionals;
  if (values.root !== undefined) resolveRoot(values.root, '.'); // a bad --root is reported first
  const gitStart = path.resolve(values.root ?? '.');
  const older = await readVersion(oldSpec, gitStart);
  const newer = await readVersion(newSpec, gitStart);
  for (const [spec, version] of [[oldSpec, older], [newSpec, newer]] as const) {
    if (!declaresSomething(version.text)) throw new CliError(`${spec}: no struct, union, enum, typedef or macro to compare`);
  }
  const root = resolveRoot(values.root, newer.path);

  let engine: AnalysisService | undefined;
  try {
    engine = await createEngine({ root, arches, diskSnapshot: true });
    engine.openDocument(newer.path, newer.text, 1);
    engine.setBase(newer.path, { text: older.text, label: oldSpec, location: older.location });
    const findings = engine.compare(newer.path, arches).sort(compareFindings);
    printFindings(findings, format, out, older.atRevision ? new Set([older.location]) : undefined);
    return findings.some((finding) => SEVERITY_RANK[finding.severity] >= failOn) ? EXIT_FINDINGS : EXIT_OK;
  } catch (error) {
    if (isUsageError(error) || isIoError(error)) throw new CliError((error as Error).message);
    throw error;
  } finally {
    engine?.dispose();
  }
}

async function runLayout(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parse({
    args,
    allowPositionals: true,
    options: { ...HELP_OPTION, root: { type: 'string' }, arch: { type: 'string', multiple: true }, format: { type: 'string' } },
  } as const);
  if (values.help) return out.stdout(HELP), EXIT_OK;
  const format = checkChoice(values.format, LAYOUT_FORMATS, 'format');
  const arches = parseArches(values.arch);
  const [fileArg, ...types] = positionals;
  if (fileArg === undefined) throw new CliError('layout: missing FILE');
  const file = path.resolve(fileArg);
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) throw new CliError(`${fileArg}: no such file`);
  const root = resolveRoot(values.root, file);

  const engine = await createEngine({ root, arches, diskSnapshot: true });
  try {
    const report = engine.layouts(file, types, arches);
    const rootDir = root ?? process.cwd();
    out.stdout(format === 'json' ? formatLayoutJson(report, rootDir) : formatLayoutText(report, rootDir));
    if (report.incomplete) out.stderr(`vfio-review: ${path.relative(process.cwd(), file) || file}: ${report.incomplete}\n`);
    return EXIT_OK;
  } catch (error) {
    if (isUsageError(error) || isIoError(error)) throw new CliError((error as Error).message);
    throw error;
  } finally {
    engine.dispose();
  }
}

async function runLsp(args: string[], out: Output): Promise<number | null> {
  const { values } = parse({ args, options: { ...HELP_OPTION, stdio: { type: 'boolean' } } } as const);
  if (values.help) return out.stdout(HELP), EXIT_OK;
  if (!values.stdio) throw new CliError('lsp: only --stdio is supported');
  // Loaded on demand so that `check` and `layout` do not pay for the server's start-up.
  const { createConnection, ProposedFeatures } = await import('vscode-languageserver/node');
  const { startServer } = await import('./server');
  startServer(createConnection(ProposedFeatures.all));
  return null; // the connection keeps the process alive until the client says exit
}

/** Runs one command line; resolves to the exit code, or null when a server keeps running. */
export async function main(argv: string[], out: Output): Promise<number | null> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'check':
        return await runCheck(rest, out);
      case 'layout':
        return await runLayout(rest, out);
      case 'abi-diff':
        return await runAbiDiff(rest, out);
      case 'patch':
        return await runPatch(rest, out);
      case 'reply':
        return await runReply(rest, out);
      case 'lsp':
        return await runLsp(rest, out);
      case '-h':
      case '--help':
        out.stdout(HELP);
        return EXIT_OK;
      case '--version':
        out.stdout(`${version}\n`);
        return EXIT_OK;
      case undefined:
        out.stderr(HELP);
        return EXIT_USAGE;
      default:
        throw new CliError(`unknown command '${command}' (expected check, abi-diff, layout, patch, reply or lsp; see --help)`);
    }
  } catch (error) {
    if (error instanceof CliError) {
      out.stderr(`vfio-review: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (isIoError(error)) {
      out.stderr(`vfio-review: ${(error as Error).message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}

if (require.main === module) {
  // `vfio-review check | head` closes the pipe early; that is not an error worth a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const out: Output = { stdout: (text) => void process.stdout.write(text), stderr: (text) => void process.stderr.write(text) };
  // Before any of the engine's code gets hot enough to be optimised.
  tuneInlining(process.argv[2]);
  main(process.argv.slice(2), out).then(
    (code) => {
      // exitCode rather than exit(): a piped stdout must drain before the process ends.
      if (code !== null) process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`vfio-review: internal error: ${error?.stack ?? error}\n`);
      process.exitCode = EXIT_USAGE;
    },
  );
}
