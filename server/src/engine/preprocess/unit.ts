// Runs the preprocessor's directives of one file and what it includes, for one ABI: macros are
// defined and undefined in order, `#if` branches evaluated, includes followed. The output is,
// per file, the text with inactive lines blanked (positions kept), ready to parse; macro bodies
// are not expanded into the code (the model resolves macros used as types or array lengths).
import path from 'node:path';
import type { Abi } from '../layout/abi';
import { resolveInclude, type IncludeContext, type SourceStore } from '../workspace';
import type { Directive } from './directives';
import { evaluate, EvalError, type MacroDef, type MacroLookup, type MacroTable } from './expr';
import { MacroUseExpander, type MacroAttribute, type MacroDeclaration } from './macro-uses';

export interface FileVariant {
  path: string;
  /** Annotation-blanked text with this ABI's inactive lines and conditional directives blanked. */
  text: string;
  /** Content hash of the original file. */
  sourceHash: string;
  depth: number;
  /** Declaration and attribute macros blanked in `text`, with their expansions. */
  declarations: MacroDeclaration[];
  attributes: MacroAttribute[];
  /** `#pragma pack` state changes in this file: from `line` on, members are capped at `value` (0: no cap). */
  packs: { line: number; value: number }[];
}

export interface UnitProblem {
  file: string;
  line: number;
  message: string;
}

export interface UnitResult {
  abi: Abi;
  macros: MacroTable;
  /** Files in first-inclusion order; the main file first. */
  files: FileVariant[];
  /** (path, hash) of every file read, to validate a cached result. */
  inputs: Map<string, string>;
  problems: UnitProblem[];
}

const MAX_DEPTH = 40;
const MAX_FILES = 2000;

interface CondFrame {
  /** Whether the enclosing region is active. */
  parent: boolean;
  /** Whether a branch of this conditional was taken already. */
  taken: boolean;
  active: boolean;
}

export interface UnitOptions {
  store: SourceStore;
  include: IncludeContext;
  /** Macros defined before the file (ABI predefines, __KERNEL__ for kernel code). */
  predefined: Record<string, string>;
  /** Only follow directives (macros, includes): no variant texts to parse. */
  scanOnly?: boolean;
  /**
   * Replay an included file's processing recorded in an earlier unit when this unit's state gives
   * the same answers (default true; false processes every file, for the tests that compare both).
   */
  replay?: boolean;
}

/**
 * What processing one included file (and everything it includes) read and did, so that another
 * unit can replay it instead of processing it again. A whole-uapi check preprocesses 1,478 units
 * whose 17,478 file inclusions are mostly the same dozen headers (linux/types.h and its family)
 * in the same macro state. A recording is replayed only when every macro it read from the state
 * it started in has the same definition now (by content), the files it read have the same
 * hashes, its includes resolve to the same files, and the unit has not met the files it added
 * nor misses those it found already there. Pack pragmas, `#pragma once`, include cycles and the
 * limits are not recorded: such files are processed each time.
 */
interface Recording {
  /** Macro name -> answer key (see answerKey) of each macro read before the recording wrote it. */
  reads: Map<string, string>;
  /** Macro names the recording defined or undefined. */
  writes: Set<string>;
  /** Effects in order. */
  ops: Op[];
  /** (from folder, include, angled) -> resolved file, of every include resolved. */
  resolutions: Map<string, { from: string; spec: string; angled: boolean; target: string | undefined }>;
  /** Files met that the unit had seen before the recording started; files it added. */
  seenBefore: Set<string>;
  pushed: Set<string>;
  unusable: boolean;
}

type Op =
  | { k: 'define'; name: string; def: MacroDef }
  | { k: 'undef'; name: string }
  | { k: 'input'; file: string; hash: string }
  | { k: 'variant'; variant: FileVariant }
  | { k: 'problem'; problem: UnitProblem };

/** A macro's definition as what reads of it can see: undefined, or its parameters and body. */
function answerKey(def: MacroDef | undefined): string {
  return def === undefined ? '' : `${def.params ? def.params.join(',') : '-'}${def.variadic ? '...' : ''}\u0001${def.body}`;
}

/**
 * The unit's macro table as the preprocessing reads and writes it, telling the recordings under
 * way what is read and written. The table itself stays a plain Map for everything that reads it
 * afterwards (a Map subclass made every later lookup, in layouts and evaluations, slower).
 */
class RecordingMacros implements MacroLookup {
  recordings: Recording[] = [];

  constructor(readonly table: MacroTable) {}

  get(name: string): MacroDef | undefined {
    const def = this.table.get(name);
    if (this.recordings.length !== 0) {
      for (const r of this.recordings) if (!r.writes.has(name) && !r.reads.has(name)) r.reads.set(name, answerKey(def));
    }
    return def;
  }

  has(name: string): boolean {
    return this.recordings.length === 0 ? this.table.has(name) : this.get(name) !== undefined;
  }

  set(name: string, def: MacroDef): void {
    this.table.set(name, def);
    for (const r of this.recordings) {
      r.writes.add(name);
      r.ops.push({ k: 'define', name, def });
    }
  }

  delete(name: string): void {
    this.table.delete(name);
    for (const r of this.recordings) {
      r.writes.add(name);
      r.ops.push({ k: 'undef', name });
    }
  }
}

/** Recordings by store, include context and file; each file keeps the few latest states it was met in. */
const recordingsByStore = new WeakMap<SourceStore, { recordings: Map<string, Recording[]>; contexts: Set<string> }>();
const RECORDINGS_PER_FILE = 6;
const MAX_RECORDED_FILES = 20000;

/**
 * Include resolutions shared by the units of one store: each one realpaths and stats its
 * candidates. Kept for a second and while no overlay changes, as the engine's units are.
 */
const resolutionsByStore = new WeakMap<SourceStore, { generation: number; at: number; map: Map<string, string | undefined> }>();
const RESOLUTIONS_MS = 1000;

function sharedResolutions(store: SourceStore): Map<string, string | undefined> {
  const now = Date.now();
  let shared = resolutionsByStore.get(store);
  if (!shared || shared.generation !== store.generation || now - shared.at > RESOLUTIONS_MS) {
    shared = { generation: store.generation, at: now, map: new Map() };
    resolutionsByStore.set(store, shared);
  }
  return shared.map;
}

export function preprocessUnit(mainPath: string, opts: UnitOptions): UnitResult {
  const table: MacroTable = new Map();
  for (const [name, body] of Object.entries(opts.predefined)) table.set(name, { name, body });
  const macros = new RecordingMacros(table);
  const replay = opts.replay !== false;
  const contextKey = [opts.include.root ?? '', opts.include.abi.name, opts.include.uapi, opts.scanOnly === true, ...opts.include.extra].join('\0');
  let stored = recordingsByStore.get(opts.store);
  if (!stored) recordingsByStore.set(opts.store, (stored = { recordings: new Map(), contexts: new Set() }));
  const recordings = stored.recordings;
  // The first unit of a context records nothing: a `layout` of one header (one unit per ABI)
  // would only pay for recordings that nothing replays.
  const record = replay && stored.contexts.has(contextKey);
  stored.contexts.add(contextKey);
  const result: UnitResult = { abi: opts.include.abi, macros: table, files: [], inputs: new Map(), problems: [] };
  const seen = new Map<string, FileVariant>();
  const stack: string[] = [];
  const onceFiles = new Set<string>();
  // `#pragma pack` state is global to the translation unit, across includes.
  const packStack: number[] = [];
  let pack = 0;
  const packsByFile = new Map<string, { line: number; value: number }[]>();

  // The same #include from the same folder resolves the same way within one unit (a uapi header's
  // closure includes linux/types.h from a dozen files); each resolution stats and realpaths.
  const resolved = sharedResolutions(opts.store);
  const resolveOnce = (from: string, includePath: string, angled: boolean): string | undefined => {
    const key = `${contextKey}\0${angled ? '<' : '"'}${path.dirname(from)}\0${includePath}`;
    let target: string | undefined;
    if (resolved.has(key)) target = resolved.get(key);
    else {
      target = resolveInclude(from, includePath, angled, opts.include, opts.store);
      resolved.set(key, target);
    }
    for (const r of macros.recordings) r.resolutions.set(key, { from, spec: includePath, angled, target });
    return target;
  };

  const addInput = (file: string, hash: string) => {
    result.inputs.set(file, hash);
    for (const r of macros.recordings) r.ops.push({ k: 'input', file, hash });
  };
  const addProblem = (problem: UnitProblem) => {
    result.problems.push(problem);
    for (const r of macros.recordings) r.ops.push({ k: 'problem', problem });
  };
  const addVariant = (variant: FileVariant) => {
    seen.set(variant.path, variant);
    result.files.push(variant);
    for (const r of macros.recordings) {
      r.pushed.add(variant.path);
      r.ops.push({ k: 'variant', variant });
    }
  };
  const unusable = () => {
    for (const r of macros.recordings) r.unusable = true;
  };

  /** Whether `r` can stand for processing its file here: see Recording. */
  const replayable = (r: Recording): boolean => {
    if (pack !== 0 || packStack.length > 0 || seen.size + r.pushed.size >= MAX_FILES) return false;
    for (const f of r.pushed) if (seen.has(f) || stack.includes(f) || onceFiles.has(f)) return false;
    for (const f of r.seenBefore) if (!seen.has(f) || stack.includes(f) || onceFiles.has(f)) return false;
    for (const [name, key] of r.reads) if (answerKey(macros.get(name)) !== key) return false;
    for (const op of r.ops) if (op.k === 'input' && opts.store.read(op.file)?.hash !== op.hash) return false;
    for (const { from, spec, angled, target } of r.resolutions.values()) if (resolveOnce(from, spec, angled) !== target) return false;
    return true;
  };

  const applyRecording = (r: Recording) => {
    for (const f of r.seenBefore) for (const outer of macros.recordings) if (!outer.pushed.has(f)) outer.seenBefore.add(f);
    for (const op of r.ops) {
      if (op.k === 'define') macros.set(op.name, op.def);
      else if (op.k === 'undef') macros.delete(op.name);
      else if (op.k === 'input') addInput(op.file, op.hash);
      else if (op.k === 'variant') addVariant(op.variant);
      else addProblem(op.problem);
    }
  };

  /** An included file: replayed from a recording when one fits, else processed and recorded. */
  const includeFile = (file: string, depth: number): void => {
    if (!replay || stack.includes(file) || onceFiles.has(file) || pack !== 0 || packStack.length > 0) {
      if (stack.includes(file) || onceFiles.has(file)) unusable();
      processFile(file, depth);
      return;
    }
    const key = `${contextKey}\0${depth}\0${file}`;
    const fit = recordings.get(key)?.find(replayable);
    if (fit) {
      applyRecording(fit);
      return;
    }
    if (!record) {
      processFile(file, depth);
      return;
    }
    const recording: Recording = { reads: new Map(), writes: new Set(), ops: [], resolutions: new Map(), seenBefore: new Set(), pushed: new Set(), unusable: false };
    macros.recordings.push(recording);
    try {
      processFile(file, depth);
    } finally {
      macros.recordings.pop();
    }
    // The recordings around this one saw the same reads, writes and effects as it happened.
    if (recording.unusable) return;
    if (recordings.size >= MAX_RECORDED_FILES) recordings.clear();
    const kept = recordings.get(key) ?? [];
    kept.unshift(recording);
    if (kept.length > RECORDINGS_PER_FILE) kept.pop();
    recordings.set(key, kept);
  };

  const processFile = (file: string, depth: number): void => {
    if (stack.includes(file)) return; // include cycle: the guard macro would stop a real compiler too
    if (onceFiles.has(file)) return;
    // A re-inclusion does nothing new only while the file stays seen: recordings say they need that.
    if (seen.has(file)) for (const r of macros.recordings) if (!r.pushed.has(file)) r.seenBefore.add(file);
    if (depth > MAX_DEPTH || seen.size >= MAX_FILES) {
      unusable();
      addProblem({ file, line: 0, message: `include depth or file limit reached at ${file}` });
      return;
    }
    const src = opts.store.read(file);
    if (!src) return;
    addInput(file, src.hash);
    const facts = opts.store.factsOf(src);
    stack.push(file);
    const packAtEntry = pack;
    // Macro uses are expanded stretch by stretch, with the macros in force there.
    const expander = opts.scanOnly ? undefined : new MacroUseExpander(facts.parseText, macros);
    const lineStarts = expander ? lineOffsets(facts.parseText) : [];
    let stretchFrom = 0;
    const expandUpTo = (line: number) => {
      if (expander && active && line > stretchFrom) expander.expandRegion(lineStarts[stretchFrom] ?? facts.parseText.length, lineStarts[line] ?? facts.parseText.length);
    };
    const inactive: [number, number][] = [];
    const blankLines: number[] = [];
    const conds: CondFrame[] = [];
    let active = true;
    let inactiveFrom = -1;
    const setActive = (next: boolean, line: number, endLine: number) => {
      if (active && !next) inactiveFrom = endLine + 1;
      else if (!active && next && inactiveFrom >= 0) {
        inactive.push([inactiveFrom, line - 1]);
        inactiveFrom = -1;
      }
      active = next;
    };
    const cond = (d: Directive): boolean => {
      try {
        return evaluate(d.text, { macros, preprocessor: true }).v !== 0n;
      } catch (e) {
        addProblem({ file, line: d.line, message: `cannot evaluate #${d.kind} ${d.text}: ${e instanceof EvalError ? e.message : String(e)}` });
        return false;
      }
    };
    for (const d of facts.directives) {
      expandUpTo(d.line);
      stretchFrom = d.endLine + 1;
      if (d.kind === 'define' || d.kind === 'undef') expander?.invalidate();
      switch (d.kind) {
        case 'if': case 'ifdef': case 'ifndef': {
          const parent = active;
          const v = parent && (d.kind === 'if' ? cond(d) : d.kind === 'ifdef' ? macros.has(d.text) : !macros.has(d.text));
          conds.push({ parent, taken: v, active: v });
          markDirective(blankLines, d);
          setActive(v, d.line, d.endLine);
          break;
        }
        case 'elif': case 'elifdef': case 'elifndef': {
          const top = conds[conds.length - 1];
          markDirective(blankLines, d);
          if (!top) break;
          const v = top.parent && !top.taken && (d.kind === 'elif' ? cond(d) : d.kind === 'elifdef' ? macros.has(d.text) : !macros.has(d.text));
          top.taken ||= v;
          top.active = v;
          setActive(v, d.line, d.endLine);
          break;
        }
        case 'else': {
          const top = conds[conds.length - 1];
          markDirective(blankLines, d);
          if (!top) break;
          const v = top.parent && !top.taken;
          top.taken = true;
          top.active = v;
          setActive(v, d.line, d.endLine);
          break;
        }
        case 'endif': {
          const top = conds.pop();
          markDirective(blankLines, d);
          setActive(top ? top.parent : true, d.line, d.endLine);
          break;
        }
        case 'define':
          if (active && d.name) macros.set(d.name, { name: d.name, params: d.params, variadic: d.variadic, body: d.body ?? '', file, line: d.line, character: d.character });
          break;
        case 'undef':
          if (active) macros.delete(d.text);
          break;
        case 'include':
          if (active && d.includePath) {
            const target = resolveOnce(file, d.includePath, !!d.angled);
            if (target) includeFile(target, depth + 1);
            else if (depth === 0) addProblem({ file, line: d.line, message: `include not found: ${d.includePath}` });
          }
          break;
        case 'other': {
          if (!active) break;
          if (/^pragma\s+once\b/.test(d.text)) {
            onceFiles.add(file);
            unusable();
          }
          const pm = /^pragma\s+pack\s*\(\s*(push|pop)?\s*,?\s*(\d+)?\s*\)/.exec(d.text);
          if (pm) {
            unusable();
            if (pm[1] === 'push') packStack.push(pack);
            if (pm[1] === 'pop') pack = packStack.pop() ?? 0;
            if (pm[2] !== undefined) pack = Number(pm[2]);
            else if (!pm[1]) pack = 0;
            const list = packsByFile.get(file) ?? [];
            list.push({ line: d.line, value: pack });
            packsByFile.set(file, list);
          }
          break;
        }
      }
    }
    expandUpTo(facts.lineCount);
    if (!active && inactiveFrom >= 0) inactive.push([inactiveFrom, facts.lineCount - 1]);
    if (conds.length > 0) addProblem({ file, line: facts.lineCount - 1, message: `${conds.length} unterminated #if` });
    stack.pop();
    if (!seen.has(file)) {
      const text = expander ? blankLinesOf(expander.result, inactive, blankLines) : '';
      const packs = packsByFile.get(file) ?? [];
      // A file included while a pack was in force starts with it.
      if (packAtEntry && !packs.some((p) => p.line === 0)) packs.unshift({ line: 0, value: packAtEntry });
      const variant: FileVariant = {
        path: file, text, sourceHash: src.hash, depth, packs,
        declarations: expander?.declarations ?? [], attributes: expander?.attributes ?? [],
      };
      addVariant(variant);
    }
  };

  processFile(mainPath, 0);
  // The main file is processed last by the recursion; keep it first for callers.
  result.files.sort((a, b) => (a.path === mainPath ? -1 : b.path === mainPath ? 1 : 0));
  return result;
}

function lineOffsets(text: string): number[] {
  const out = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) out.push(i + 1);
  return out;
}

function markDirective(lines: number[], d: Directive): void {
  for (let l = d.line; l <= d.endLine; l++) lines.push(l);
}

/**
 * Replaces the given lines (inclusive ranges and single lines) with spaces, newlines and carriage
 * returns kept. Slices between the blanked lines are copied whole (splitting every file into lines
 * and running a regex per line was a tenth of a whole-uapi run's preprocessing).
 */
export function blankLinesOf(text: string, ranges: [number, number][], single: number[]): string {
  if (ranges.length === 0 && single.length === 0) return text;
  const blank = new Set<number>(single);
  for (const [a, b] of ranges) for (let l = a; l <= b; l++) blank.add(l);
  const lines = [...blank].sort((a, b) => a - b);
  const parts: string[] = [];
  let copied = 0;
  let line = 0;
  let at = 0; // start of `line`
  for (const target of lines) {
    while (line < target) {
      const nl = text.indexOf('\n', at);
      if (nl < 0) return parts.join('') + text.slice(copied);
      at = nl + 1;
      line++;
    }
    const nl = text.indexOf('\n', at);
    const end = nl < 0 ? text.length : nl;
    parts.push(text.slice(copied, at));
    const content = text.slice(at, end);
    parts.push(content.includes('\r') ? content.replace(/[^\r]/g, ' ') : ' '.repeat(content.length));
    copied = end;
  }
  return parts.join('') + text.slice(copied);
}
