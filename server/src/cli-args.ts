// What every command of the CLI shares: the usage error (one line on stderr, exit 2) and the
// parsing of options and ABI lists.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { defaultCacheDir } from './engine/cache/entries';
import { ALL_ABIS, isAbiName, type AbiName } from './engine';

/** A mistake in the command line or its paths: one line on stderr, exit 2. */
export class CliError extends Error {}

/** node's parseArgs, its errors as one-line CliErrors. */
export function parse<T extends ParseArgsConfig & { options: object }>(config: T) {
  try {
    return parseArgs(config);
  } catch (error) {
    // node's messages add a paragraph of advice after the first sentence; keep one line.
    throw new CliError(String((error as Error).message).split(/\.\s/)[0]);
  }
}

/** `--arch x86_64,i386 --arch arm` / `--arch all` -> the ABIs; undefined when not given. */
export function parseArches(values: string[] | undefined): AbiName[] | undefined {
  if (!values?.length) return undefined;
  const arches = new Set<AbiName>();
  for (const name of values.flatMap((value) => value.split(',')).map((name) => name.trim())) {
    if (name === 'all') ALL_ABIS.forEach((abi) => arches.add(abi));
    else if (isAbiName(name)) arches.add(name);
    else throw new CliError(`unknown arch '${name}' (known: ${ALL_ABIS.join(', ')}, all)`);
  }
  return [...arches];
}

/** The cache folder of --cache DIR (default: defaultCacheDir()), or undefined with --no-cache; check, patch and reply. */
export function parseCacheDir(value: string | undefined, disabled: boolean | undefined): string | undefined {
  if (disabled) {
    if (value !== undefined) throw new CliError('--cache and --no-cache together: choose one');
    return undefined;
  }
  if (value === '') throw new CliError('--cache: empty folder name');
  const dir = path.resolve(value ?? defaultCacheDir());
  let stat;
  try {
    stat = fs.statSync(dir, { throwIfNoEntry: false });
  } catch (error) {
    throw new CliError(`--cache ${value ?? dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (stat && !stat.isDirectory()) throw new CliError(`--cache ${value ?? dir}: not a directory`);
  return dir;
}
