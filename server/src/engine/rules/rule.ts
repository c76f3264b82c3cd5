// What a rule sees and how it reports. Rules are pure functions of the analysed file.
import type { AggregateDecl, FileModel, ParseProblem } from '../model/decls';
import type { LayoutEngine } from '../layout/compute';
import type { AbiName, Finding, Range, RelatedLocation, SeveritySetting, TypeLayout } from '../types';
import type { UnitProblem, UnitResult } from '../preprocess/unit';
import type { Tree } from 'web-tree-sitter';
import type { BlankResult } from '../parse/blank';
import type { Directive } from '../preprocess/directives';
import type { SourceStore } from '../workspace';
import type { EngineOptions } from '../api';

export interface RuleContext {
  file: string;
  /** The file is a uapi header (by the configured globs). */
  uapi: boolean;
  arches: AbiName[];
  /** Per ABI: every struct/union of the file laid out, in source order. */
  layouts: Map<AbiName, TypeLayout[]>;
  /** Per ABI: the file's model and the layout engine of its unit. */
  models: Map<AbiName, { model: FileModel; engine: LayoutEngine; named: Map<AggregateDecl, string> }>;
  /** Parse problems of the editor's tree (all preprocessor branches). */
  parseProblems: ParseProblem[];
  /** Preprocessor problems of the main file. */
  unitProblems: UnitProblem[];
  /** The file as the editor has it: text, its tree (all branches; valid only while rules run), what blanking recorded. */
  source: { text: string; tree: Tree; blank: BlankResult; directives: Directive[] };
  /** For rules that need other files (indexes of callers, contracts): reads go through the store. */
  project: {
    store: SourceStore; root?: string; options: EngineOptions;
    /**
     * A uapi header of this root preprocessed for `abi` as userspace sees it, with its files'
     * models: the engine's own unit, cached and shared with its layouts (flag models read it
     * instead of parsing the header's include closure again). Absent outside the engine's checks.
     */
    uapiUnit?: (file: string, abi: AbiName) => { result: UnitResult; models: FileModel[] } | undefined;
  };
  /** Work shared by the rules of one check (an index several rules read), computed once. */
  memo: Map<string, unknown>;
}

export type Report = Omit<Finding, 'severity' | 'file' | 'rule'> & { related?: RelatedLocation[] };

export interface Rule {
  id: string;
  defaultSeverity: SeveritySetting;
  summary: string;
  /** Only uapi headers, only kernel C (everything but uapi headers), or every C file. */
  scope: 'uapi' | 'kernel' | 'all';
  /** 'project': needs the whole index (other files' functions), so editors run it after typing stops. */
  cost?: 'project';
  run(ctx: RuleContext, report: (r: Report) => void): void;
}

export function lineRange(line: number, character = 0, length = 0): Range {
  return { start: { line, character }, end: { line, character: character + length } };
}

/** "x86_64, arm64 and ppc64le" */
export function listAbis(abis: string[]): string {
  if (abis.length <= 1) return abis.join('');
  return `${abis.slice(0, -1).join(', ')} and ${abis[abis.length - 1]}`;
}

/** Groups ABIs by a value: [[value, [abis]]], in the order the ABIs were given. */
export function groupByValue<T>(arches: AbiName[], valueOf: (abi: AbiName) => T): [T, AbiName[]][] {
  const groups: [T, AbiName[]][] = [];
  for (const a of arches) {
    const v = valueOf(a);
    const g = groups.find(([gv]) => gv === v);
    if (g) g[1].push(a);
    else groups.push([v, [a]]);
  }
  return groups;
}

/** The page of `rule` under `docsBase` (docs/rules/<rule>.md), for diagnostics, SARIF, b4 and replies. */
export function ruleDocUrl(docsBase: string, rule: string): string {
  // `(?<!\/)`: only the first slash of a run is tried, so a long run is not rescanned from each slash.
  return `${docsBase.replace(/(?<!\/)\/+$/, '')}/${encodeURIComponent(rule)}.md`;
}

/**
 * Rule ids (lower-case letters and hyphens) in the order localeCompare gives them, without it:
 * the first localeCompare of a process loads ICU's collator (15-17 ms of a short run). Test
 * abi-diff-rule-order checks every pair of the engine's ids.
 */
export function compareRuleIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
