// `vfio-review patch` and `vfio-review reply`: a series as it arrives (mbox, mail, diff; `-` for
// stdin, which is how b4 runs per-patch checks), applied in memory to a tree, and the findings
// each patch introduces printed on the patch's own lines; or a review reply drafted from them.
// Nothing is written but the cache folder (the lock analysis's per-file IR and its analysis of
// the tree, engine/cache/lock-ir.ts and lock-program.ts; the findings of the tree's unpatched
// files, engine/cache/findings.ts): results go to stdout, complaints to stderr (except in the b4
// formats, where b4 counts any stderr line as a failure).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { version } from '../../package.json';
import { findKernelRoot, RULES } from './engine';
import type { AbiName, Finding, Severity } from './engine';
import { CliError, parse, parseArches, parseCacheDir } from './cli-args';
import { FindingsCache } from './engine/cache/findings';
import { lockIRStamp, lockIRStats } from './engine/cache/lock-ir';
import { lockProgramStats } from './engine/cache/lock-program';
import { keepLockPrograms } from './engine/analyses/locks';
import { keepFlagModels } from './engine/analyses/flags/kernel';
import { flagModelStats } from './engine/cache/flag-models';
import { loadParser } from './engine/parse/parser';
import { readPatchInput } from './engine/patch/read';
import { reviewPatchInput, type PatchReview } from './engine/patch/review';
import { draftReply, replyTarget } from './engine/patch/reply';
import { formatB4, formatB4Review } from './formats/b4';
import { formatGcc } from './formats/gcc';
import { formatGithub } from './formats/github';
import { toJsonFinding } from './formats/json';
import { formatSarif } from './formats/sarif';

type Output = { stdout: (text: string) => void; stderr: (text: string) => void };

export const PATCH_HELP = `  patch FILE...           Review a patch series (mbox, mail or diff; - reads stdin): apply it
                          in memory to the tree and report what each patch introduces,
                          on the patch's lines.
      --tree DIR          Kernel tree the series applies to (default: found upwards from
                          the cwd). Without one, only the hunks themselves are analysed.
      --hunks-only        Do not apply to the tree; analyse the hunks alone.
      --arch LIST|all, --fail-on LEVEL   as for check.
      --format FORMAT     text (default), json, sarif, github, b4 (b4.am-perpatch-check-cmd),
                          b4-review (b4 review's check-tool JSON).
      --cache DIR         Keep in DIR, for the next run (b4 runs one per patch), what the
                          lock analysis extracts from each file of the tree, its analysis of
                          the tree, and the findings of the tree's files as they are (default:
                          $XDG_CACHE_HOME/vfio-review or ~/.cache/vfio-review); the findings
                          printed do not depend on it.
      --no-cache          Neither read nor write the cache.
  reply FILE              Draft a review reply to one patch of FILE on stdout: quoted hunks
                          with each finding under its line. Nothing is sent.
      --patch N           The patch to reply to (N of [PATCH N/M]; default: the first
                          with findings).
      --tree DIR, --hunks-only, --arch LIST|all, --cache DIR, --no-cache   as for patch.
      --from ADDRESS      From: header of the reply (default: none; your mail client adds it).
`;

const FORMATS = ['text', 'json', 'sarif', 'github', 'b4', 'b4-review'];
const SEVERITY_RANK: Record<Severity, number> = { hint: 0, info: 1, warning: 2, error: 3 };
const FAIL_ON: Record<string, number> = { error: 3, warning: 2, never: Infinity };
/** Inputs larger than this are refused before they are read whole. */
const MAX_INPUT_BYTES = 64 * 1024 * 1024;
const EXIT_OK = 0;
const EXIT_FINDINGS = 1;

const docsBase = () => pathToFileURL(path.resolve(__dirname, '..', 'docs', 'rules')).href;

function treeOf(option: string | undefined, hunksOnly: boolean): string | undefined {
  if (hunksOnly) return undefined;
  if (option !== undefined) {
    const tree = path.resolve(option);
    if (!fs.statSync(tree, { throwIfNoEntry: false })?.isDirectory()) throw new CliError(`--tree ${option}: not a directory`);
    return tree;
  }
  return findKernelRoot(process.cwd());
}

/** The bytes of FILE, or of stdin for `-`; refused above MAX_INPUT_BYTES. */
async function readInput(file: string): Promise<Uint8Array> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      size += (chunk as Buffer).length;
      if (size > MAX_INPUT_BYTES) throw new CliError(`stdin: more than ${MAX_INPUT_BYTES / 1024 / 1024} MiB; refusing to read it`);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) throw new CliError(`${file}: no such file`);
  if (st.isDirectory()) throw new CliError(`${file}: is a directory (give the patch or mbox file)`);
  if (st.isFile() && st.size > MAX_INPUT_BYTES) throw new CliError(`${file}: ${(st.size / 1024 / 1024).toFixed(0)} MiB is more than the ${MAX_INPUT_BYTES / 1024 / 1024} MiB limit; refusing to read it`);
  const handle = await fs.promises.open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      const { bytesRead, buffer } = await handle.read({ buffer: Buffer.alloc(1 << 20) });
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > MAX_INPUT_BYTES) throw new CliError(`${file}: more than ${MAX_INPUT_BYTES / 1024 / 1024} MiB; refusing to read it`);
      chunks.push(buffer.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks);
  } finally {
    await handle.close();
  }
}

// One per run, so that its stats add up over the files given.
let findingsCaches: { dir: string; cache: FindingsCache } | undefined;

/**
 * The findings of the tree's files as they are (each patch's "before" when b4 runs one process
 * per patch) kept between runs, named by the version and the engine's bundles (lockIRStamp).
 */
function findingsCacheOf(cacheDir: string | undefined): FindingsCache | undefined {
  if (cacheDir === undefined) return undefined;
  if (findingsCaches?.dir !== cacheDir) findingsCaches = { dir: cacheDir, cache: new FindingsCache(cacheDir, `${version}\0${lockIRStamp()}`) };
  return findingsCaches.cache;
}

interface Reviewed {
  file: string;
  document: string;
  review: PatchReview;
  input: ReturnType<typeof readPatchInput>;
}

async function reviewFile(file: string, tree: string | undefined, abis: AbiName[] | undefined, cacheDir: string | undefined): Promise<Reviewed> {
  const bytes = await readInput(file);
  const input = readPatchInput(bytes);
  const document = file === '-' ? path.resolve('<stdin>') : path.resolve(file);
  const review = reviewPatchInput(input, {
    document,
    documentText: Buffer.from(bytes).toString('utf8'),
    tree,
    engine: { arches: abis, docsBase: docsBase(), diskSnapshot: true, ...(cacheDir === undefined ? {} : { cacheDir }) },
    findingsCache: findingsCacheOf(cacheDir),
  });
  return { file, document, review, input };
}

const PATCH_OPTIONS = {
  help: { type: 'boolean', short: 'h' }, tree: { type: 'string' }, 'hunks-only': { type: 'boolean' }, arch: { type: 'string', multiple: true },
  cache: { type: 'string' }, 'no-cache': { type: 'boolean' },
} as const;

/** VFIO_REVIEW_CACHE_STATS=1: what the lock IR cache gave, on stderr (not in the b4 formats: b4 counts stderr lines as failures). */
function cacheStatsNote(cacheDir: string | undefined, format: string, out: Output): void {
  if (cacheDir === undefined || format === 'b4' || format === 'b4-review') return;
  const stats = lockIRStats();
  const found = findingsCaches?.cache.stats;
  const programs = lockProgramStats();
  const flagModels = flagModelStats();
  if (process.env.VFIO_REVIEW_CACHE_STATS) {
    out.stderr(`vfio-review: lock IR cache ${cacheDir}: ${stats.hits} hits, ${stats.misses} misses, ${stats.dropped} dropped, ${stats.written} written\n`);
    if (found) out.stderr(`vfio-review: findings cache ${cacheDir}: ${found.hits} hits, ${found.misses} misses, ${found.dropped} dropped, ${found.written} written\n`);
    out.stderr(`vfio-review: lock program cache ${cacheDir}: ${programs.hits} hits, ${programs.misses} misses, ${programs.dropped} dropped, ${programs.written} written\n`);
    out.stderr(`vfio-review: flag model cache ${cacheDir}: ${flagModels.hits} hits, ${flagModels.misses} misses, ${flagModels.dropped} dropped, ${flagModels.written} written\n`);
  }
  const writeError = stats.lastWriteError ?? found?.lastWriteError ?? programs.lastWriteError ?? flagModels.lastWriteError;
  if (stats.writeErrors || found?.writeErrors || programs.writeErrors || flagModels.writeErrors) out.stderr(`vfio-review: note: the cache in ${cacheDir} was not written (${writeError}); findings are unaffected\n`);
}

/** `patch`: usage mistakes and I/O errors are thrown as CliError / errno errors for main() to report. */
export async function runPatch(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parse({ args, allowPositionals: true, options: { ...PATCH_OPTIONS, format: { type: 'string' }, 'fail-on': { type: 'string' } } } as const);
  if (values.help) return out.stdout(`Usage: vfio-review patch FILE... [options]\n\n${PATCH_HELP}`), EXIT_OK;
  const format = values.format ?? 'text';
  if (!FORMATS.includes(format)) throw new CliError(`unknown format '${format}' (expected ${FORMATS.join(', ')})`);
  const failOnName = values['fail-on'] ?? 'error';
  if (!(failOnName in FAIL_ON)) throw new CliError(`unknown --fail-on level '${failOnName}' (expected ${Object.keys(FAIL_ON).join(', ')})`);
  if (positionals.length === 0) throw new CliError('patch: give a patch, mail or mbox file (- for stdin)');
  const tree = treeOf(values.tree, values['hunks-only'] === true);
  const abis = parseArches(values.arch);
  const cacheDir = parseCacheDir(values.cache, values['no-cache']);
  // One process per patch (b4): each starts from the tree's lock analysis kept in the cache.
  keepLockPrograms(true);
  keepFlagModels(true);
  await loadParser();
  const reviewed: Reviewed[] = [];
  for (const file of positionals) reviewed.push(await reviewFile(file, tree, abis, cacheDir));
  const findings = reviewed.flatMap((r) => r.review.findings);
  printPatchFindings(findings, reviewed, format, out);
  cacheStatsNote(cacheDir, format, out);
  if (format === 'text') for (const r of reviewed) out.stderr(summary(r, tree));
  if (format === 'b4' || format === 'b4-review') return EXIT_OK;
  return findings.some((f) => SEVERITY_RANK[f.severity] >= FAIL_ON[failOnName]) ? EXIT_FINDINGS : EXIT_OK;
}

function printPatchFindings(findings: Finding[], reviewed: Reviewed[], format: string, out: Output): void {
  const baseDir = process.cwd();
  if (format === 'b4') out.stdout(formatB4(findings));
  else if (format === 'b4-review') out.stdout(formatB4Review(findings, docsBase()));
  else if (format === 'json') {
    out.stdout(JSON.stringify({
      version: 1,
      findings: findings.map((f) => ({ ...toJsonFinding(f, baseDir), ...('target' in f ? { target: f.target } : {}), ...('mail' in f ? { patch: f.mail } : {}) })),
      patches: reviewed.map((r) => ({
        file: r.file,
        tree: r.review.tree ?? null,
        mails: r.input.mails.map((m) => ({ index: m.index, subject: m.subject, messageId: m.messageId ?? null, cover: m.isCover })),
        files: r.review.files.map((f) => ({ patch: f.mail, path: f.path, mode: f.mode, ...(f.reason ? { reason: f.reason } : {}) })),
      })),
    }, null, 2) + '\n');
  } else if (format === 'github') out.stdout(formatGithub(findings, baseDir));
  else if (format === 'sarif') out.stdout(formatSarif(findings, { baseDir, rules: RULES, toolVersion: version, docsBase: docsBase() }));
  else out.stdout(formatGcc(findings, baseDir));
}

function summary(r: Reviewed, tree: string | undefined): string {
  const patches = r.input.mails.filter((m) => !m.isCover && m.files.length).length;
  const c = r.review.files.filter((f) => f.mode !== 'skipped');
  const applied = c.filter((f) => f.mode === 'tree').length;
  const where = tree ? `applied to ${tree}` : 'no tree: hunks alone';
  return `vfio-review: ${r.file}: ${patches} patch${patches === 1 ? '' : 'es'}, ${c.length} C file${c.length === 1 ? '' : 's'} checked (${applied} in the tree, ${c.length - applied} from hunks alone; ${where}), ${r.review.findings.length} finding${r.review.findings.length === 1 ? '' : 's'}\n`;
}

export async function runReply(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parse({ args, allowPositionals: true, options: { ...PATCH_OPTIONS, patch: { type: 'string' }, from: { type: 'string' } } } as const);
  if (values.help) return out.stdout(`Usage: vfio-review reply FILE [options]\n\n${PATCH_HELP}`), EXIT_OK;
  if (positionals.length !== 1) throw new CliError('reply: give exactly one patch, mail or mbox file (- for stdin)');
  let patch: number | undefined;
  if (values.patch !== undefined) {
    patch = Number(values.patch);
    if (!Number.isInteger(patch) || patch < 1) throw new CliError(`--patch ${values.patch}: expected a patch number (1, 2, ...)`);
  }
  const tree = treeOf(values.tree, values['hunks-only'] === true);
  const cacheDir = parseCacheDir(values.cache, values['no-cache']);
  keepLockPrograms(true);
  keepFlagModels(true);
  await loadParser();
  const r = await reviewFile(positionals[0], tree, parseArches(values.arch), cacheDir);
  const mail = replyTarget(r.input, r.review.findings, patch);
  if (!mail) throw new CliError(patch === undefined ? `${positionals[0]}: no patch in it to reply to` : `${positionals[0]}: no patch ${patch} in it`);
  out.stdout(draftReply(mail, r.review.findings, { from: values.from, docsBase: docsBase() }));
  cacheStatsNote(cacheDir, 'text', out);
  return EXIT_OK;
}
