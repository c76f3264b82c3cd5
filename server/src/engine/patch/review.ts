// The review of a patch series: every check runs on each touched file before and after each
// patch, and only the findings a patch introduces are reported, on the patch's own `+` lines.
//
// One Analyser holds the series' state as overlays: after patch i its overlays are the files as
// patch i left them, which is exactly the "before" of patch i+1, so the caches of the "after"
// check (units, the lock program keyed by contents) serve the next "before" check. Nothing is
// ever written: the tree is read, the patched versions live in memory.
import os from 'node:os';
import path from 'node:path';
import { Analyser } from '../analyser';
import type { CancelToken, EngineOptions } from '../api';
import { DEFAULT_LOCK_INDEX, indexFiles } from '../analyses/locks';
import type { FindingsCache } from '../cache/findings';
import type { Finding, RelatedLocation, Severity } from '../types';
import { hashText, realInside } from '../workspace';
import { hasWord } from '../words';
import { applyFilePatch } from './apply';
import { onlyCommentsChanged } from './comment-only';
import { functionsAt, functionsInTree } from './functions';
import { parseText } from '../parse/parser';
import type { Tree } from 'web-tree-sitter';
import { hunksOnlyTexts } from './hunks-only';
import type { FilePatch, HunkLine, PatchInput, PatchMail } from './types';

export type ReviewMode = 'tree' | 'hunks';

/** How one file of one patch was analysed. */
export interface ReviewedFile {
  /** Index of the mail in PatchInput.mails. */
  mail: number;
  /** Path relative to the tree (the new path; the old one for a deletion). */
  path: string;
  /** 'tree': the patch applied to the file; 'hunks': only the hunks' complete constructs were analysed; 'skipped': not C. */
  mode: ReviewMode | 'skipped';
  /** Why a file was analysed from its hunks alone, or skipped. */
  reason?: string;
  /** 0-based input line of the file's diff header. */
  headerLine: number;
  /** The texts analysed (whole files in tree mode, hunks at their lines otherwise), for hovers. */
  before?: string;
  after?: string;
}

/** A finding a patch introduces, placed on the patch document. */
export interface PatchFinding extends Finding {
  /** Index of the mail (patch) in PatchInput.mails. */
  mail: number;
  /** Where it is in the patched file: path relative to the tree, 1-based line. */
  target: { file: string; line: number };
}

export interface PatchReview {
  findings: PatchFinding[];
  files: ReviewedFile[];
  /** The tree the patches were applied to; undefined when there was none (hunks alone). */
  tree?: string;
  /** The root the files were analysed under: the tree, or a folder that does not exist (hunks alone). */
  root: string;
  /** True when the token cancelled the review before the end. */
  cancelled: boolean;
}

export interface PatchReviewOptions {
  /** Absolute path of the patch document: the findings' `file`. */
  document: string;
  /** The document's text as the editor shows it (for exact columns on `+` lines). */
  documentText?: string;
  /** Kernel tree to apply the series to; hunks alone when absent. */
  tree?: string;
  engine?: EngineOptions;
  token?: CancelToken;
  /** Patches reviewed at most (default MAX_REVIEWED_PATCHES); the rest get one note. */
  maxPatches?: number;
  /**
   * The findings of files checked as they are in the tree (the "before" of a series' first
   * patch, of every patch when b4 runs one process per patch), kept between runs as `check`
   * keeps them (cache/findings.ts). Not used with a token: a cancelled check is not a result.
   */
  findingsCache?: FindingsCache;
}

/** A series is tens of patches; an mbox of thousands is an archive, not a review. */
export const MAX_REVIEWED_PATCHES = 300;

/** Input problems and analysis notes are reported under these rules (see docs/rules/). */
export const PATCH_INPUT_RULE = 'patch-input';
export const PATCH_HUNKS_ONLY_RULE = 'patch-hunks-only';

const C_FILE = /\.[ch]$/;
/** Other files of the index searched for callers of the changed functions, at most. */
const MAX_CALLER_FILES = 24;

interface FilePlan {
  fp: FilePatch;
  oldRel?: string;
  newRel?: string;
  mode: ReviewMode | 'skipped';
  reason?: string;
  before?: string;
  after?: string;
}

/** Reviews every patch of `input` in order. Needs the tree-sitter parser loaded (createEngine or loadParser). */
export function reviewPatchInput(input: PatchInput, options: PatchReviewOptions): PatchReview {
  const tree = options.tree ? path.resolve(options.tree) : undefined;
  // Without a tree the hunks live under a root that does not exist, so nothing is read from disk.
  const root = tree ?? path.join(os.tmpdir(), `vfio-review-no-tree-${process.pid}-${Date.now()}`, 'linux');
  const analyser = new Analyser({ ...options.engine, root });
  const review: PatchReview = { findings: [], files: [], tree, root, cancelled: false };
  const docLines = options.documentText?.split('\n');
  // The series' state: text of each file as the patches so far left it (null: deleted).
  const state = new Map<string, string | null>();
  // Files whose state is unknown because an earlier patch did not apply to them.
  const diverged = new Set<string>();
  const abs = (rel: string) => path.join(root, rel);
  // Files the analyser holds patched (or hunks-only) texts of: while there are any, a check
  // reads some text that is not the tree's, and the findings cache is not asked.
  const overlaid = new Set<string>();
  const setText = (file: string, text: string | undefined, parse = true, parsed?: Tree) => setAnalyserText(analyser, overlaid, file, text, parse, parsed);
  // Trees of patched texts parsed to find the changed functions, until their documents take them.
  const afterTrees = new Map<FilePlan, Tree>();

  for (const p of input.problems) review.findings.push(problemFinding(options.document, -1, p));
  const maxPatches = options.maxPatches ?? MAX_REVIEWED_PATCHES;
  let reviewedPatches = 0;
  try {
    for (const mail of input.mails) {
      for (const p of mail.problems) review.findings.push(problemFinding(options.document, mail.index, p));
      if (mail.isCover || mail.files.length === 0) continue;
      if (reviewedPatches++ === maxPatches) {
        const left = input.mails.filter((m) => m.index >= mail.index && !m.isCover && m.files.length > 0).length;
        review.findings.push(problemFinding(options.document, mail.index, { line: mail.startLine, severity: 'warning', message: `only the first ${maxPatches} patches were reviewed; this one and the ${left - 1} after it were not (split the mbox into series)` }));
      }
      if (reviewedPatches > maxPatches) continue;
      if (options.token?.isCancellationRequested) {
        review.cancelled = true;
        break;
      }
      const plans = mail.files.map((fp) => planFile(fp, tree, state, diverged, (rel) => readTreeFile(analyser, tree!, rel)));
      for (const plan of plans) {
        review.files.push({ mail: mail.index, path: plan.newRel ?? plan.oldRel ?? '', mode: plan.mode, reason: plan.reason, headerLine: plan.fp.headerLine, before: plan.before, after: plan.after });
        if (plan.mode === 'hunks' && C_FILE.test(plan.newRel ?? plan.oldRel ?? '')) {
          review.findings.push({
            file: options.document, mail: mail.index, rule: PATCH_HUNKS_ONLY_RULE, severity: 'info',
            range: lineRange(plan.fp.headerLine, docLines),
            target: { file: plan.newRel ?? plan.oldRel ?? '', line: 1 },
            message: `${plan.newRel ?? plan.oldRel}: analysed from the patch's hunks alone (${plan.reason}); only the structs, macros and functions complete in them were checked`,
          });
        }
      }
      // A kernel C file whose code the patch leaves as it was (comments only) cannot gain a
      // finding: it is not checked before and after (comment-only.ts).
      const checked = plans.filter((p) => p.mode !== 'skipped' && C_FILE.test(p.newRel ?? p.oldRel ?? '') && !commentsOnly(analyser, p, abs));

      // Before: the overlays hold the previous patch's result already; hunks-only files get their old side.
      for (const p of checked) if (p.mode === 'hunks' && p.oldRel && p.before !== undefined) setText(abs(p.oldRel), p.before);
      const changed = changedFunctions(analyser, checked, abs, afterTrees);
      const callers = tree ? callerFiles(analyser, tree, checked, changed.names, options.engine?.lockIndex) : [];
      const beforeFiles = [...checked.filter((p) => p.oldRel && p.before !== undefined).map((p) => abs(p.oldRel!)), ...callers];
      const beforeFindings = new Map<string, Finding[]>();
      const treeCache = overlaid.size === 0 && !options.token ? options.findingsCache : undefined;
      for (const f of beforeFiles) beforeFindings.set(f, checkFile(analyser, f, options.token, treeCache));

      // After: the patched texts, with the old text as the ABI base of each changed uapi header.
      for (const p of plans) {
        if (p.oldRel && p.oldRel !== p.newRel && p.mode === 'tree') setText(abs(p.oldRel), undefined);
        // A file checked below is parsed now (the next patch's "before" keeps the tree); the
        // rest (comments only, not C) only when something reads them.
        if (p.newRel && p.after !== undefined) setText(abs(p.newRel), p.after, checked.includes(p), afterTrees.get(p));
        afterTrees.delete(p);
      }
      for (const p of checked) {
        if (!p.newRel || p.after === undefined || p.before === undefined || !analyser.isUapi(abs(p.newRel))) continue;
        analyser.setBase(abs(p.newRel), { text: p.before, label: `${p.oldRel ?? p.newRel} before this patch`, location: abs(p.oldRel ?? p.newRel) });
      }
      for (const p of checked) {
        if (!p.newRel || p.after === undefined) continue;
        const file = abs(p.newRel);
        const before = p.oldRel ? beforeFindings.get(abs(p.oldRel)) ?? [] : [];
        const beforeText = p.before ?? '';
        const introduced = newFindings(before, beforeText, checkFile(analyser, file, options.token), p.after);
        for (const f of introduced) review.findings.push(placeOnPatch(f, p, mail, options.document, docLines, p.newRel, touchedFiles(plans, abs)));
        analyser.setBase(file, undefined);
      }
      for (const caller of callers) {
        const text = analyser.store.read(caller)?.text ?? '';
        const introduced = newFindings(beforeFindings.get(caller) ?? [], text, checkFile(analyser, caller, options.token), text);
        const rel = path.relative(root, caller).split(path.sep).join('/');
        for (const f of introduced) review.findings.push(placeCallerFinding(f, rel, changed.newSide, mail, options.document, docLines));
      }

      // A hunks-only file's texts are fragments: the next patches must not see them as the file.
      for (const p of plans) {
        if (p.mode === 'hunks') {
          if (p.oldRel) setText(abs(p.oldRel), undefined);
          if (p.newRel) setText(abs(p.newRel), undefined);
        }
      }
    }
  } finally {
    for (const tree of afterTrees.values()) tree.delete();
    analyser.dispose();
  }
  review.findings.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character || a.rule.localeCompare(b.rule) || a.message.localeCompare(b.message));
  return review;
}

// ---- planning: apply or fall back to the hunks ---------------------------------------------

function planFile(fp: FilePatch, tree: string | undefined, state: Map<string, string | null>, diverged: Set<string>, readTree: (rel: string) => string | undefined): FilePlan {
  const oldRel = fp.oldPath;
  const newRel = fp.newPath;
  const plan: FilePlan = { fp, oldRel, newRel, mode: 'skipped' };
  const name = newRel ?? oldRel ?? '';
  if (fp.binary) return { ...plan, reason: 'binary patch' };
  const isC = C_FILE.test(name);
  let reason: string | undefined;
  if (!tree) reason = 'no tree given';
  else if (oldRel && diverged.has(oldRel)) reason = 'an earlier patch of the series did not apply to it';
  else {
    const before = oldRel === undefined ? undefined : state.has(oldRel) ? state.get(oldRel) ?? undefined : readTree(oldRel);
    if (fp.status !== 'added' && before === undefined) reason = `${oldRel} is not in the tree`;
    else {
      const applied = applyFilePatch(before, fp);
      if (applied.ok) {
        if (oldRel && oldRel !== newRel) state.set(oldRel, null);
        if (newRel) state.set(newRel, applied.text ?? null);
        return { ...plan, mode: isC ? 'tree' : 'skipped', reason: isC ? undefined : 'not a C file', before, after: applied.text };
      }
      reason = `hunk ${applied.hunk + 1} does not apply: ${applied.reason}`;
    }
  }
  if (newRel) diverged.add(newRel);
  if (!isC) return { ...plan, reason: 'not a C file' };
  const texts = hunksOnlyTexts(fp);
  return {
    ...plan, mode: 'hunks', reason,
    before: fp.status === 'added' ? undefined : texts.oldText,
    after: fp.status === 'deleted' ? undefined : texts.newText,
  };
}

/**
 * A file of the tree as the store reads it (regular, at most MAX_FILE_BYTES, no NUL), if it lies
 * inside the tree with its links resolved: a stranger's tree may link elsewhere.
 */
function readTreeFile(analyser: Analyser, tree: string, rel: string): string | undefined {
  const file = path.resolve(tree, rel);
  return realInside(file, [tree]) ? analyser.store.read(file)?.text : undefined;
}

// ---- analysis --------------------------------------------------------------------------------

/**
 * The analyser's text of `file`: none (the tree's), or `text` as an open document (parsed now)
 * or, without `parse`, as the store's overlay alone (parsed on demand by whatever reads it:
 * Analyser.withTree parses an overlay the same way).
 */
function setAnalyserText(analyser: Analyser, overlaid: Set<string>, file: string, text: string | undefined, parse: boolean, parsed?: Tree): void {
  if (text === undefined) {
    parsed?.delete();
    analyser.closeDocument(file);
    overlaid.delete(file);
    return;
  }
  if (analyser.store.read(file)?.text !== text || !analyser.store.isOpen(file)) {
    if (parse) analyser.openDocument(file, text, 1, parsed);
    else {
      parsed?.delete();
      // An open document's tree is of its old text: closed first.
      analyser.closeDocument(file);
      analyser.store.setOverlay(file, text);
    }
  } else parsed?.delete();
  overlaid.add(file);
}

function commentsOnly(analyser: Analyser, p: FilePlan, abs: (rel: string) => string): boolean {
  if (p.mode !== 'tree' || p.before === undefined || p.after === undefined || !p.oldRel || p.oldRel !== p.newRel) return false;
  return !analyser.isUapi(abs(p.oldRel)) && onlyCommentsChanged(p.before, p.after);
}

function checkFile(analyser: Analyser, file: string, token?: CancelToken, cache?: FindingsCache): Finding[] {
  // The lock rules analyse the whole index: not worth it for a uapi header, which has no functions.
  const options = { projectRules: !analyser.isUapi(file) };
  return cache ? cache.check(analyser, file, options) : analyser.check(file, token, options);
}

interface ChangedFunctions {
  /** Functions changed on either side of tree-mode files: their callers are checked too. */
  names: Set<string>;
  /** Functions changed on the new side, with the input line of their first `+` line. */
  newSide: { name: string; docLine: number; file: string }[];
}

/**
 * The functions the patch changes, each side of each file parsed once. The trees of the patched
 * texts are left in `afterTrees`, for their documents.
 */
function changedFunctions(analyser: Analyser, checked: FilePlan[], abs: (rel: string) => string, afterTrees: Map<FilePlan, Tree>): ChangedFunctions {
  const out: ChangedFunctions = { names: new Set(), newSide: [] };
  const parseTextOf = (text: string) => analyser.store.factsOf({ path: '', text, hash: hashText(text) }).parseText;
  for (const p of checked) {
    if (p.before && p.mode === 'tree') {
      const removed = new Set<number>();
      for (const h of p.fp.hunks) for (const l of h.lines) if (l.kind === '-' && l.oldLine) removed.add(l.oldLine);
      // Through the analyser: the tree it keeps of the previous patch's result (in a series) is
      // not parsed again. Should it hold another text (two diffs of one file in a mail), parse.
      const before = p.before;
      const known = removed.size && p.oldRel ? analyser.withTree(abs(p.oldRel), (tree, text) => (text === before ? functionsInTree(tree, removed) : undefined)) : undefined;
      for (const fn of known ?? functionsAt(parseTextOf(before), removed)) out.names.add(fn.name);
    }
    if (!p.newRel || !p.after) continue;
    const added = new Map<number, number>();
    for (const h of p.fp.hunks) for (const l of h.lines) if (l.kind === '+' && l.newLine) added.set(l.newLine, l.docLine);
    if (added.size === 0) continue;
    // The patched text's tree is kept for its document (openDocument takes it over).
    const tree = parseText(parseTextOf(p.after));
    afterTrees.set(p, tree);
    for (const fn of functionsInTree(tree, added.keys())) {
      if (p.mode === 'tree') out.names.add(fn.name);
      const first = [...added].filter(([line]) => line >= fn.startLine && line <= fn.endLine).sort((a, b) => a[0] - b[0])[0];
      if (first) out.newSide.push({ name: fn.name, docLine: first[1], file: p.newRel });
    }
  }
  return out;
}

/** Files of the lock index (other than the touched ones) that name a function the patch changes. */
function callerFiles(analyser: Analyser, tree: string, checked: FilePlan[], names: Set<string>, lockIndex: string[] | undefined): string[] {
  if (names.size === 0) return [];
  const touched = new Set(checked.flatMap((p) => [p.oldRel, p.newRel]).filter((x): x is string => !!x).map((r) => path.join(tree, r)));
  const words = [...names];
  const out: string[] = [];
  for (const f of indexFiles(tree, lockIndex ?? DEFAULT_LOCK_INDEX)) {
    if (touched.has(f)) continue;
    const text = analyser.store.read(f)?.text;
    if (text && words.some((w) => hasWord(text, w))) out.push(f);
    if (out.length >= MAX_CALLER_FILES) break;
  }
  return out;
}

/**
 * The findings of `after` that `before` does not have. Findings move with the lines the patch
 * adds above them, so they are matched by rule, message (line numbers in it ignored) and the
 * text of the line they are on, as many times as they occur.
 */
export function newFindings(before: Finding[], beforeText: string, after: Finding[], afterText: string): Finding[] {
  const beforeLines = beforeText.split('\n');
  const afterLines = afterText.split('\n');
  const seen = new Map<string, number>();
  for (const f of before) {
    const k = findingKey(f, beforeLines);
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return after.filter((f) => {
    const k = findingKey(f, afterLines);
    const n = seen.get(k) ?? 0;
    if (n > 0) {
      seen.set(k, n - 1);
      return false;
    }
    return true;
  });
}

function findingKey(f: Finding, lines: string[]): string {
  const message = f.message.replace(/(:|\bline |\blines )\d+(-\d+)?/g, '$1#');
  return `${f.rule}\0${message}\0${(lines[f.range.start.line] ?? '').trim()}`;
}

// ---- placing findings on the patch ------------------------------------------------------------

function touchedFiles(plans: FilePlan[], abs: (rel: string) => string): Set<string> {
  return new Set(plans.flatMap((p) => [p.oldRel, p.newRel]).filter((x): x is string => !!x).map(abs));
}

/** The diff line a finding on (1-based) line `line` of the new file belongs on: that `+` line, else the nearest change. */
export function nearestChange(fp: FilePatch, line: number): { line: HunkLine; exact: boolean } | undefined {
  let best: { line: HunkLine; distance: number } | undefined;
  for (const h of fp.hunks) {
    let next = h.newStart;
    for (const l of h.lines) {
      if (l.kind === '+' && l.newLine === line) return { line: l, exact: true };
      const at = l.kind === '+' ? l.newLine ?? next : next;
      if (l.kind !== ' ') {
        const distance = Math.abs(at - line) + (l.kind === '-' ? 0.5 : 0);
        if (!best || distance < best.distance) best = { line: l, distance };
      }
      if (l.kind !== '-') next = (l.newLine ?? next) + 1;
    }
  }
  return best && { line: best.line, exact: false };
}

function placeOnPatch(f: Finding, plan: FilePlan, mail: PatchMail, document: string, docLines: string[] | undefined, rel: string, touched: Set<string>): PatchFinding {
  const target = { file: rel, line: f.range.start.line + 1 };
  const at = nearestChange(plan.fp, target.line);
  let range = lineRange(at?.line.docLine ?? plan.fp.headerLine, docLines);
  if (at?.exact && f.range.start.line === f.range.end.line) {
    // On the `+` line itself: the finding's columns, shifted by the `+`, when the input line is the diff line verbatim.
    const raw = docLines?.[at.line.docLine]?.replace(/\r$/, '');
    if (raw === `+${at.line.text}`) range = { start: { line: at.line.docLine, character: f.range.start.character + 1 }, end: { line: at.line.docLine, character: Math.max(f.range.end.character, f.range.start.character) + 1 } };
  }
  return toPatchFinding(f, document, mail.index, target, range, touched);
}

function placeCallerFinding(f: Finding, rel: string, changed: { name: string; docLine: number; file: string }[], mail: PatchMail, document: string, docLines: string[] | undefined): PatchFinding {
  const mentioned = changed.find((c) => hasWord(f.message, c.name)) ?? changed[0];
  const docLine = mentioned?.docLine ?? mail.files[0]?.headerLine ?? mail.startLine;
  const target = { file: rel, line: f.range.start.line + 1 };
  return toPatchFinding(f, document, mail.index, target, lineRange(docLine, docLines), new Set());
}

function toPatchFinding(f: Finding, document: string, mail: number, target: { file: string; line: number }, range: Finding['range'], touched: Set<string>): PatchFinding {
  // Related locations in files the patch changes point at lines that only exist after it: left out.
  const related: RelatedLocation[] = (f.related ?? []).filter((r) => !touched.has(r.file) && !r.file.includes('vfio-review-no-tree-'));
  return {
    file: document, range, severity: f.severity, rule: f.rule, mail, target,
    message: `${target.file}:${target.line}: ${f.message}`,
    ...(related.length ? { related } : {}),
  };
}

function problemFinding(document: string, mail: number, p: { line: number; severity: Severity | 'error' | 'warning' | 'info'; message: string }): PatchFinding {
  return {
    file: document, mail, rule: PATCH_INPUT_RULE, severity: p.severity,
    range: { start: { line: Math.max(0, p.line), character: 0 }, end: { line: Math.max(0, p.line), character: 0 } },
    target: { file: '', line: 0 }, message: p.message,
  };
}

function lineRange(line: number, docLines: string[] | undefined): Finding['range'] {
  const length = docLines?.[line]?.replace(/\r$/, '').length ?? 0;
  return { start: { line, character: 0 }, end: { line, character: length } };
}
