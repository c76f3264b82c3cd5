// Turns the paths given to `vfio-review check` into the files to analyse. Directories are walked
// for C sources and headers; symbolic links are followed only while they stay inside the
// directory that was given, so a link cannot pull half the file system into a run. Files that
// cannot be analysed (binary, too large, unreadable) are returned as skipped, not thrown: one odd
// file must not stop a CI run over a whole tree.
import fs from 'node:fs';
import path from 'node:path';

export interface SkippedInput {
  /** Absolute path. */
  path: string;
  reason: string;
}

export interface CollectedInputs {
  /** Absolute paths (as given, not resolved through links), each file once. */
  files: string[];
  skipped: SkippedInput[];
}

export interface CollectOptions {
  /** Larger files are skipped. */
  maxBytes?: number;
}

/** A given path does not exist or cannot be examined at all: a usage error (exit 2). */
export class InputPathError extends Error {
  override name = 'InputPathError';
}

export const MAX_FILE_BYTES = 8 * 1024 * 1024;
/** Bytes looked at for a NUL, like git's and grep's binary detection. */
const BINARY_PROBE_BYTES = 8 * 1024;
const SKIPPED_DIRECTORIES = new Set(['.git', 'node_modules']);
const SOURCE_FILE = /\.[ch]$/;

const isInside = (child: string, parent: string) => {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
};

const errorText = (error: unknown) => (error as NodeJS.ErrnoException).code ?? String(error);

/** Why the file cannot be analysed, or null when it can. */
export function unreadableReason(file: string, maxBytes = MAX_FILE_BYTES): string | null {
  let fd: number | undefined;
  try {
    // Look before opening: opening a FIFO blocks until a writer comes, a device may do anything.
    const st = fs.statSync(file);
    if (!st.isFile()) return `not a regular file (${st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a file'})`;
    // O_NONBLOCK: should it have become a FIFO since, the open returns at once.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const opened = fs.fstatSync(fd);
    if (!opened.isFile()) return 'not a regular file';
    const size = opened.size;
    if (size > maxBytes) return `file too large (${size} bytes, limit ${maxBytes})`;
    const probe = Buffer.alloc(Math.min(size, BINARY_PROBE_BYTES));
    const read = fs.readSync(fd, probe, 0, probe.length, 0);
    if (probe.subarray(0, read).includes(0)) return 'binary file (NUL byte in the first 8 KiB)';
    return null;
  } catch (error) {
    return `unreadable file (${errorText(error)})`;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function collectInputs(paths: string[], options: CollectOptions = {}): CollectedInputs {
  const maxBytes = options.maxBytes ?? MAX_FILE_BYTES;
  const files: string[] = [];
  const skipped: SkippedInput[] = [];
  const seenFiles = new Set<string>();
  const seenDirectories = new Set<string>();

  /** `known`: the file's real path when the caller knows it (a plain entry of a folder whose real path it has). */
  const addFile = (file: string, known?: string) => {
    let real: string;
    try {
      real = known ?? fs.realpathSync(file);
    } catch (error) {
      skipped.push({ path: file, reason: `unreadable file (${errorText(error)})` });
      return;
    }
    if (seenFiles.has(real)) return;
    seenFiles.add(real);
    const reason = unreadableReason(file, maxBytes);
    if (reason) skipped.push({ path: file, reason });
    else files.push(file);
  };

  /** `known`: the folder's real path when the caller knows it (a plain entry of a folder whose real path it has). */
  const walk = (directory: string, boundary: string, known?: string) => {
    const real = known ?? fs.realpathSync(directory);
    if (seenDirectories.has(real)) return; // a link cycle, or a tree given twice
    seenDirectories.add(real);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(directory, { withFileTypes: true });
    } catch (error) {
      skipped.push({ path: directory, reason: `unreadable directory (${errorText(error)})` });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRECTORIES.has(entry.name)) walk(full, boundary, path.join(real, entry.name));
      } else if (entry.isFile()) {
        // Not a link: its real path is the folder's with its name (realpathSync would lstat
        // every component of the path again, for each of a tree's 10,000 files).
        if (SOURCE_FILE.test(entry.name)) addFile(full, path.join(real, entry.name));
      } else if (entry.isSymbolicLink()) {
        followLink(full, entry.name, boundary);
      }
    }
  };

  const followLink = (link: string, name: string, boundary: string) => {
    let target: string;
    let stat: fs.Stats;
    try {
      target = fs.realpathSync(link);
      stat = fs.statSync(target);
    } catch (error) {
      // A dangling link to a source file is worth a note; a dangling link to anything else is not.
      if (SOURCE_FILE.test(name)) skipped.push({ path: link, reason: `unreadable file (${errorText(error)})` });
      return;
    }
    if (!isInside(target, boundary)) return;
    if (stat.isDirectory()) {
      if (!SKIPPED_DIRECTORIES.has(name)) walk(link, boundary);
    } else if (stat.isFile() && SOURCE_FILE.test(name)) {
      addFile(link);
    }
  };

  for (const given of paths) {
    const absolute = path.resolve(given);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(absolute);
    } catch (error) {
      const code = errorText(error);
      throw new InputPathError(code === 'ENOENT' ? `${given}: no such file or directory` : `${given}: cannot access (${code})`);
    }
    // A file named explicitly is analysed whatever its extension; the user asked for it.
    if (stat.isDirectory()) walk(absolute, fs.realpathSync(absolute));
    else addFile(absolute);
  }
  return { files, skipped };
}
