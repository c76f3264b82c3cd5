// The flag model of each uapi header kept on disk. Kernel C is checked against the flag models of
// the uapi headers it reaches (analyses/flags/kernel.ts), and each model needs the header's unit:
// its include closure preprocessed and parsed (0.46 s of a `patch` process's 0.86 s on a code
// patch of 6.12, rebuilt by every process b4 starts). Reading the model back takes a few
// milliseconds.
//
// One entry per slot (header path, root, ABI, include paths, configuration): the last model
// written for it, with what it was built from: the content hash of every file the unit read and
// where every include of those files resolved (a header added in a folder searched earlier would
// change the unit, and no hash shows that). The reader re-checks both through the engine's store
// and uses the entry only when all still hold (the caller does the checking: it owns the store
// and the include context). The entry's name does not depend on the build, so a rebuilt tool
// replaces its predecessor's entries instead of adding to them; the build's stamp and V8's version
// are inside, and an entry of another build is a miss.
//
// As the other entries: written to a temporary file renamed into place; a sha1 of the payload
// first (a torn or damaged payload can still deserialise into something); an entry that does not
// check, deserialise or have the model's shape is deleted and rebuilt; no failure fails a run.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Discriminant } from '../analyses/flags/discriminants';
import type { FlagModel } from '../analyses/flags/model';
import { fieldKey } from '../analyses/flags/model';
import { checkedDeserialize, checkedSerialize, removeQuietly, sumStats, writeAtomically, type EntryStats } from './entries';
import { lockIRStamp } from './lock-ir';

/** Bumped when FlagModel or the entry's shape changes in a way the tool stamp would not show. */
export const FLAG_MODEL_FORMAT = 'vfio-review-flag-model/1';
/** The sub-folder of the cache folder that holds the entries. */
export const FLAG_MODEL_FOLDER = 'flag-models';

/** What a header's model was built from: every file read (path, content hash) and every include of them resolved. */
export interface FlagModelInputs {
  files: [string, string][];
  /** (including file, include path, angled, the file it resolved to or null). */
  includes: [string, string, boolean, string | null][];
}

/** A model as stored: the header's text is left out (the reader has it: its hash is among the inputs). */
export type StoredFlagModel = Omit<FlagModel, 'text'>;

/** What is kept per header: its model and the union discriminants its comments state (derived from the model and text, as costly to find). */
export interface StoredFlagFacts {
  model: StoredFlagModel;
  commentDiscriminants: Discriminant[];
}

interface Entry {
  format: string;
  stamp: string;
  v8: string;
  slot: string;
  inputs: FlagModelInputs;
  model: StoredFlagModel;
  commentDiscriminants: Discriminant[];
}

export class FlagModelCache {
  readonly stats: EntryStats = { hits: 0, misses: 0, dropped: 0, written: 0, writeErrors: 0 };
  private readonly folder: string;

  constructor(dir: string, private readonly stamp: string = lockIRStamp()) {
    this.folder = path.join(dir, FLAG_MODEL_FOLDER);
  }

  /** The entry's file: named by the slot alone, so each build and each version of the header replaces the last. */
  pathOf(slot: string): string {
    return path.join(this.folder, `${createHash('sha256').update(JSON.stringify([FLAG_MODEL_FORMAT, slot])).digest('hex')}.v8`);
  }

  /**
   * The model kept for `slot` when `stillHolds` accepts what it was built from; undefined
   * otherwise (a damaged entry is deleted, a stale one or another build's left for the next write).
   */
  read(slot: string, stillHolds: (inputs: FlagModelInputs) => boolean): StoredFlagFacts | undefined {
    const file = this.pathOf(slot);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      this.stats.misses++;
      return undefined;
    }
    const entry = decode(bytes, slot);
    if (!entry) {
      this.stats.dropped++;
      this.stats.misses++;
      removeQuietly(file);
      return undefined;
    }
    if (entry.stamp !== this.stamp || entry.v8 !== process.versions.v8 || !stillHolds(entry.inputs)) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    return { model: entry.model, commentDiscriminants: entry.commentDiscriminants };
  }

  write(slot: string, inputs: FlagModelInputs, model: FlagModel, commentDiscriminants: Discriminant[]): void {
    const { text: _text, ...stored } = model;
    writeAtomically(this.pathOf(slot), () => checkedSerialize({ format: FLAG_MODEL_FORMAT, stamp: this.stamp, v8: process.versions.v8, slot, inputs, model: stored, commentDiscriminants } satisfies Entry), this.stats);
  }
}

function decode(bytes: Buffer, slot: string): Entry | undefined {
  const value = checkedDeserialize(bytes);
  return value === undefined ? undefined : validEntry(value, slot);
}

// One cache per folder and thread, so that the stats of a run add up in one place.
const caches = new Map<string, FlagModelCache>();

/** The cache of `dir` for this thread (created on first use). */
export function flagModelCache(dir: string): FlagModelCache {
  let cache = caches.get(dir);
  if (!cache) caches.set(dir, (cache = new FlagModelCache(dir)));
  return cache;
}

/** What this thread's flag model caches did so far, summed over their folders. */
export function flagModelStats(): EntryStats {
  return sumStats([...caches.values()].map((c) => c.stats));
}

// ---- shape checks: nothing read from disk is trusted ------------------------------------------
// The whole model is checked (it is small: a few hundred macros for vfio.h): rules read every
// field of it.

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isString = (x: unknown): x is string => typeof x === 'string';
const isCount = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0;
const optional = (x: unknown, check: (y: unknown) => boolean) => x === undefined || check(x);
const EVIDENCE_SOURCES = new Set(['struct body', 'name prefix', 'comment', 'configuration', 'code']);

const isEvidence = (x: unknown) => isObject(x) && isString(x.file) && isCount(x.line) && EVIDENCE_SOURCES.has(x.source as string);
const isValue = (x: unknown) => isObject(x) && typeof x.v === 'bigint' && typeof x.unsigned === 'boolean';
const isPos = (x: unknown) => isObject(x) && isCount(x.line) && isCount(x.character);

function isField(x: unknown): boolean {
  return isObject(x) && isString(x.owner) && isString(x.member) && isString(x.typeText) && isString(x.file) && isPos(x.pos)
    && (x.kind === 'flags' || x.kind === 'values') && optional(x.size, isCount) && optional(x.signed, (s) => typeof s === 'boolean')
    && optional(x.unionSiblings, (s) => Array.isArray(s) && s.every(isString));
}

function isMacro(x: unknown, name: string): boolean {
  return isObject(x) && x.name === name && isString(x.body) && isString(x.file) && isCount(x.line) && isCount(x.character)
    && typeof x.mask === 'boolean' && optional(x.namedMask, (m) => typeof m === 'boolean') && optional(x.value, isValue)
    && optional(x.field, isField) && optional(x.binding, isEvidence);
}

function isDiscriminant(x: unknown): boolean {
  return isObject(x) && isString(x.owner) && isString(x.member) && isString(x.flag) && (x.when === 'set' || x.when === 'clear')
    && Array.isArray(x.evidence) && x.evidence.every(isEvidence);
}

function isInputs(x: unknown): x is FlagModelInputs {
  return isObject(x) && Array.isArray(x.files) && x.files.every((f) => Array.isArray(f) && f.length === 2 && isString(f[0]) && isString(f[1]))
    && Array.isArray(x.includes) && x.includes.every((i) => Array.isArray(i) && i.length === 4 && isString(i[0]) && isString(i[1]) && typeof i[2] === 'boolean' && (i[3] === null || isString(i[3])));
}

function validEntry(x: unknown, slot: string): Entry | undefined {
  if (!isObject(x) || x.format !== FLAG_MODEL_FORMAT || x.slot !== slot || !isString(x.stamp) || !isString(x.v8) || !isInputs(x.inputs)) return undefined;
  const m = x.model;
  if (!isObject(m) || !isString(m.file) || !(m.macros instanceof Map) || !(m.fields instanceof Map) || !Array.isArray(m.dependencies)) return undefined;
  for (const [name, macro] of m.macros) if (!isString(name) || !isMacro(macro, name)) return undefined;
  for (const [key, field] of m.fields) if (!isString(key) || !isField(field) || key !== fieldKey(field.owner as string, field.member as string)) return undefined;
  if (!m.dependencies.every((d) => isObject(d) && isString(d.flag) && isString(d.requires) && isEvidence(d.evidence))) return undefined;
  const discriminants = x.commentDiscriminants;
  if (!Array.isArray(discriminants) || !discriminants.every(isDiscriminant)) return undefined;
  return x as unknown as Entry;
}
