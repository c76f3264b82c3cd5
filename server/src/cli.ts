// The `vfio-review` command: `check` for CI and pre-commit hooks, `layout` for reviewers, `lsp`
// for editors. Exit codes are part of the contract: 0 clean, 1 a finding reached --fail-on,
// 2 the run itself went wrong (bad arguments, missing paths, I/O errors). Nothing is ever
// written into the user's tree; results go to stdout, complaints to stderr.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { version } from '../../package.json';
import { ALL_ABIS, createEngine, findKernelRoot, isAbiName, RULES, UsageError } from './engine';
import type { AbiName, Finding, Severity } from './engine';
import { collectInputs, InputPathError } from './files';
import { formatGcc } from './formats/gcc';
import { formatGithub } from './formats/github';
import { formatJson } from './formats/json';
import { formatLayoutJson } from './formats/layout-json';
import { formatLayoutText } from './formats/layout-text';
import { formatSarif } from './formats/sarif';

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
  layout FILE [TYPE...]   Print struct/union layouts of FILE (all its types when none is named).
      --root DIR          Kernel tree root (default: found upwards from FILE).
      --arch LIST|all     ABIs to lay out (default: all).
      --format FORMAT     text (pahole-like, default) or json.
  lsp --stdio             Run the language server over stdin/stdout.

Options:
  -h, --help              Show this help.
  --version               Show the version.

ABIs: ${ALL_ABIS.join(', ')}.
Exit status: 0 no finding at --fail-on, 1 some finding at --fail-on, 2 usage or I/O error.
`;

/** A mistake in the command line or its paths: one line on stderr, exit 2. */
class CliError extends Error {}

type Output = { stdout: (text: string) => void; stderr: (text: string) => void };

const SEVERITY_RANK: Record<Severity, number> = { hint: 0, info: 1, warning: 2, error: 3 };
const FAIL_ON: Record<string, number> = { error: 3, warning: 2, never: Infinity };
const CHECK_FORMATS = ['text', 'json', 'sarif', 'github'];
const LAYOUT_FORMATS = ['text', 'json'];

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

function parse<T extends ParseArgsConfig & { options: object }>(config: T) {
  try {
    return parseArgs(config);
  } catch (error) {
    // node's messages add a paragraph of advice after the first sentence; keep one line.
    throw new CliError(String((error as Error).message).split(/\.\s/)[0]);
  }
}

function parseArches(values: string[] | undefined): AbiName[] | undefined {
  if (!values?.length) return undefined;
  const arches = new Set<AbiName>();
  for (const name of values.flatMap((value) => value.split(',')).map((name) => name.trim())) {
    if (name === 'all') ALL_ABIS.forEach((abi) => arches.add(abi));
    else if (isAbiName(name)) arches.add(name);
    else throw new CliError(`unknown arch '${name}' (known: ${ALL_ABIS.join(', ')}, all)`);
  }
  return [...arches];
}

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
    (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0)
  );
}

const skippedFinding = (file: string, reason: string): Finding => ({
  file,
  range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
  severity: 'info',
  rule: INPUT_SKIPPED,
  message: `Not analysed: ${reason}.`,
});

const isUsageError = (error: unknown) => error instanceof UsageError || (error as Error)?.name === 'UsageError';
const isIoError = (error: unknown) => typeof (error as NodeJS.ErrnoException)?.code === 'string' && /^E[A-Z]+$/.test((error as NodeJS.ErrnoException).code!);

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
    },
  } as const);
  if (values.help) return out.stdout(HELP), EXIT_OK;
  const format = checkChoice(values.format, CHECK_FORMATS, 'format');
  const failOn = FAIL_ON[checkChoice(values['fail-on'], Object.keys(FAIL_ON), '--fail-on level')];
  const arches = parseArches(values.arch);
  const paths = positionals.length ? positionals : ['.'];
  const root = resolveRoot(values.root, paths[0]);

  let inputs;
  try {
    inputs = collectInputs(paths);
  } catch (error) {
    if (error instanceof InputPathError) throw new CliError(error.message);
    throw error;
  }

  const engine = await createEngine({ root, arches });
  const findings: Finding[] = inputs.skipped.map((skipped) => skippedFinding(skipped.path, skipped.reason));
  let failedFiles = 0;
  try {
    for (const file of inputs.files) {
      try {
        findings.push(...engine.check(file));
      } catch (error) {
        if (isUsageError(error)) throw new CliError((error as Error).message);
        if (isIoError(error)) {
          findings.push(skippedFinding(file, `unreadable file (${(error as NodeJS.ErrnoException).code})`));
          continue;
        }
        // An engine failure on one file should not hide the findings of the others.
        failedFiles++;
        out.stderr(`vfio-review: internal error while checking ${path.relative(process.cwd(), file) || file}: ${(error as Error)?.stack ?? error}\n`);
      }
    }
  } finally {
    engine.dispose();
  }
  findings.sort(compareFindings);

  const baseDir = process.cwd();
  if (format === 'json') out.stdout(formatJson(findings, baseDir));
  else if (format === 'github') out.stdout(formatGithub(findings, baseDir));
  else if (format === 'sarif') out.stdout(formatSarif(findings, { baseDir, rules: RULES, toolVersion: version, docsBase: docsBase() }));
  else out.stdout(formatGcc(findings, baseDir));

  if (failedFiles) return EXIT_USAGE;
  return findings.some((finding) => SEVERITY_RANK[finding.severity] >= failOn) ? EXIT_FINDINGS : EXIT_OK;
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

  const engine = await createEngine({ root, arches });
  try {
    const report = engine.layouts(file, types, arches);
    const rootDir = root ?? process.cwd();
    out.stdout(format === 'json' ? formatLayoutJson(report, rootDir) : formatLayoutText(report, rootDir));
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
        throw new CliError(`unknown command '${command}' (expected check, layout or lsp; see --help)`);
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
