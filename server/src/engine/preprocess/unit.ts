// Runs the preprocessor's directives of one file and what it includes, for one ABI: macros are
// defined and undefined in order, `#if` branches evaluated, includes followed. The output is,
// per file, the text with inactive lines blanked (positions kept), ready to parse; macro bodies
// are not expanded into the code (the model resolves macros used as types or array lengths).
import path from 'node:path';
import type { Abi } from '../layout/abi';
import { resolveInclude, type IncludeContext, type SourceStore } from '../workspace';
import type { Directive } from './directives';
import { evaluate, EvalError, type MacroTable } from './expr';
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
}

export function preprocessUnit(mainPath: string, opts: UnitOptions): UnitResult {
  const macros: MacroTable = new Map();
  for (const [name, body] of Object.entries(opts.predefined)) macros.set(name, { name, body });
  const result: UnitResult = { abi: opts.include.abi, macros, files: [], inputs: new Map(), problems: [] };
  const seen = new Map<string, FileVariant>();
  const stack: string[] = [];
  const onceFiles = new Set<string>();
  // `#pragma pack` state is global to the translation unit, across includes.
  const packStack: number[] = [];
  let pack = 0;
  const packsByFile = new Map<string, { line: number; value: number }[]>();

  // The same #include from the same folder resolves the same way within one unit (a uapi header's
  // closure includes linux/types.h from a dozen files); each resolution stats and realpaths.
  const resolved = new Map<string, string | undefined>();
  const resolveOnce = (from: string, includePath: string, angled: boolean): string | undefined => {
    const key = `${angled ? '<' : '"'}${path.dirname(from)}\0${includePath}`;
    if (resolved.has(key)) return resolved.get(key);
    const target = resolveInclude(from, includePath, angled, opts.include, opts.store);
    resolved.set(key, target);
    return target;
  };

  const processFile = (file: string, depth: number): void => {
    if (stack.includes(file)) return; // include cycle: the guard macro would stop a real compiler too
    if (onceFiles.has(file)) return;
    if (depth > MAX_DEPTH || seen.size >= MAX_FILES) {
      result.problems.push({ file, line: 0, message: `include depth or file limit reached at ${file}` });
      return;
    }
    const src = opts.store.read(file);
    if (!src) return;
    result.inputs.set(file, src.hash);
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
        result.problems.push({ file, line: d.line, message: `cannot evaluate #${d.kind} ${d.text}: ${e instanceof EvalError ? e.message : String(e)}` });
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
            if (target) processFile(target, depth + 1);
            else if (depth === 0) result.problems.push({ file, line: d.line, message: `include not found: ${d.includePath}` });
          }
          break;
        case 'other': {
          if (!active) break;
          if (/^pragma\s+once\b/.test(d.text)) onceFiles.add(file);
          const pm = /^pragma\s+pack\s*\(\s*(push|pop)?\s*,?\s*(\d+)?\s*\)/.exec(d.text);
          if (pm) {
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
    if (conds.length > 0) result.problems.push({ file, line: facts.lineCount - 1, message: `${conds.length} unterminated #if` });
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
      seen.set(file, variant);
      result.files.push(variant);
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
