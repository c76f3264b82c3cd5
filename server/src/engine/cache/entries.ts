// A folder of JSON entries on disk, safe to share between processes and threads: an entry is
// written to a temporary file beside it and renamed into place (readers see the old entry or the
// new one, never half of one), and anything that does not read back as JSON is deleted and
// reported missing. The cache is an optimisation: no failure here fails a run.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { threadId } from 'node:worker_threads';

/** `$XDG_CACHE_HOME/vfio-review`, else `~/.cache/vfio-review`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  // The XDG spec: a relative value is invalid and is ignored.
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  return path.join(base, 'vfio-review');
}

export interface EntryStats {
  hits: number;
  misses: number;
  /** Entries read back corrupt, of another format or for another key: deleted. */
  dropped: number;
  written: number;
  /** Writes that failed (read-only folder, disk full): the run goes on without them. */
  writeErrors: number;
  lastWriteError?: string;
}

export class EntryFolder {
  readonly stats: EntryStats = { hits: 0, misses: 0, dropped: 0, written: 0, writeErrors: 0 };

  constructor(readonly dir: string) {}

  /** Entries are spread over 256 sub-folders by the first two hex digits of their name. */
  private pathOf(name: string): string {
    return path.join(this.dir, name.slice(0, 2), `${name}.json`);
  }

  /** The parsed entry, or undefined when there is none or it does not parse (then it is deleted). */
  read(name: string): unknown {
    const file = this.pathOf(name);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    try {
      return JSON.parse(text);
    } catch {
      this.drop(name);
      return undefined;
    }
  }

  /** Deletes an entry that was found bad (another process may have replaced it already: fine). */
  drop(name: string): void {
    this.stats.dropped++;
    removeQuietly(this.pathOf(name));
  }

  write(name: string, value: unknown): void {
    writeAtomically(this.pathOf(name), () => JSON.stringify(value), this.stats);
  }
}

/**
 * Writes what `content` gives to `file` through a temporary file beside it renamed into place,
 * counted in `stats` (a failure too: the run goes on without the entry). True when written.
 */
export function writeAtomically(file: string, content: () => string | Uint8Array, stats: EntryStats): boolean {
  const temp = `${file}.${process.pid}.${threadId}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(temp, content());
    // rename() replaces the target atomically: concurrent writers of one entry each put a
    // whole entry in place, and the last one stays.
    fs.renameSync(temp, file);
    stats.written++;
    return true;
  } catch (error) {
    stats.writeErrors++;
    stats.lastWriteError = (error as Error).message;
    removeQuietly(temp);
    return false;
  }
}

/** Deletes `file` when it is there (gone already, or never written: fine). */
export function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // gone already, or never written
  }
}

/**
 * `value` v8-serialised behind a line with the sha1 of the payload (the binary entries: lock
 * programs, flag models): a torn or damaged payload can still deserialise into something.
 */
export function checkedSerialize(value: unknown): Buffer {
  const payload = v8.serialize(value);
  return Buffer.concat([Buffer.from(`${sha1(payload)}\n`), payload]);
}

/** What checkedSerialize wrote, or undefined when the checksum does not match or V8 rejects it. */
export function checkedDeserialize(bytes: Buffer): unknown {
  const newline = bytes.indexOf(10);
  if (newline !== 40) return undefined;
  const payload = bytes.subarray(newline + 1);
  if (bytes.subarray(0, newline).toString('latin1') !== sha1(payload)) return undefined;
  try {
    return v8.deserialize(payload);
  } catch {
    return undefined;
  }
}

function sha1(payload: Uint8Array): string {
  return createHash('sha1').update(payload).digest('hex');
}

/** The stats of several caches (one per folder and thread) added up. */
export function sumStats(all: Iterable<EntryStats>): EntryStats {
  const total: EntryStats = { hits: 0, misses: 0, dropped: 0, written: 0, writeErrors: 0 };
  for (const stats of all) {
    total.hits += stats.hits;
    total.misses += stats.misses;
    total.dropped += stats.dropped;
    total.written += stats.written;
    total.writeErrors += stats.writeErrors;
    total.lastWriteError ??= stats.lastWriteError;
  }
  return total;
}
