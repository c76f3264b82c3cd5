// The files the engine reads: the kernel tree root, the editor's open documents shadowing the
// disk, include resolution per ABI, and per-content caches (blanking and directive scans do not
// depend on the ABI, so they are computed once per file content).
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { blankTracked, reblankLine, type BlankResult, type TrackedBlank } from './parse/blank';
import { scanDirectives, type Directive } from './preprocess/directives';
import { neutraliseDirectives } from './preprocess/neutralise';
import type { Abi } from './layout/abi';

/** Files larger than this are not analysed (a generated table, not a header to review). */
export const MAX_FILE_BYTES = 8 * 1024 * 1024;

/** Walks up from `start` to a folder that looks like a kernel tree (include/uapi and Kbuild or MAINTAINERS). */
export function findKernelRoot(start: string): string | undefined {
  let dir = path.resolve(start);
  try {
    if (!statSync(dir).isDirectory()) dir = path.dirname(dir);
  } catch {
    dir = path.dirname(dir);
  }
  for (;;) {
    if (isDir(path.join(dir, 'include', 'uapi')) && (isFile(path.join(dir, 'Kbuild')) || isFile(path.join(dir, 'MAINTAINERS')))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export interface SourceFile {
  path: string;
  text: string;
  hash: string;
}

/** A file's ABI-independent facts, cached by content hash. */
export interface FileFacts {
  hash: string;
  blank: BlankResult;
  directives: Directive[];
  /** What tree-sitter parses: annotations blanked and directives neutralised, positions kept. */
  parseText: string;
  lineCount: number;
}

export function hashText(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

export class SourceStore {
  /**
   * The disk is taken as unchanging while this store lives (a CLI run of a few seconds): each
   * file is stat'd and read once. Re-stating every file at every read cost 0.4 s of a 3 s check
   * of the VFIO set. The editor's store re-stats, since files change under it.
   */
  constructor(private readonly diskSnapshot = false) {}

  private overlay = new Map<string, SourceFile>();
  private disk = new Map<string, { mtimeMs: number; size: number; file: SourceFile | undefined }>();
  private facts = new Map<string, FileFacts>();
  /** Bumped on every overlay change: answers cached "for a second" must not outlive an edit of another file. */
  generation = 0;

  setOverlay(file: string, text: string): SourceFile {
    this.generation++;
    const f = { path: file, text, hash: hashText(text) };
    // The facts of the text being replaced are dead weight (a large file edited 2,000 times
    // would otherwise keep 2,000 copies).
    const prev = this.overlay.get(file);
    if (prev && prev.hash !== f.hash) this.facts.delete(prev.hash);
    this.overlay.set(file, f);
    return f;
  }

  /**
   * The overlay after one edit of the overlay's text ([start, end) replaced by `inserted`): the
   * facts of the previous text are carried over where the edit cannot change them (a typical
   * keystroke inside a statement: directives, blanking and parse text of every other line), so
   * an edit costs the changed line instead of scanning the whole file three times.
   */
  setOverlayEdited(file: string, text: string, edit: { start: number; end: number; inserted: string }): SourceFile {
    const prev = this.overlay.get(file);
    const prevFacts = prev ? this.facts.get(prev.hash) : undefined;
    const f = this.setOverlay(file, text);
    if (prev && prevFacts && !this.facts.has(f.hash)) {
      const carried = editedFacts(prev.text, prevFacts, f, edit);
      if (carried) this.facts.set(f.hash, carried);
    }
    return f;
  }

  clearOverlay(file: string): void {
    if (this.overlay.delete(file)) this.generation++;
  }

  isOpen(file: string): boolean {
    return this.overlay.has(file);
  }

  /** The overlay's text, else the disk's (re-read when its mtime or size changed). */
  read(file: string): SourceFile | undefined {
    const o = this.overlay.get(file);
    if (o) return o;
    const cached = this.disk.get(file);
    if (cached && this.diskSnapshot) return cached.file;
    let st;
    try {
      st = statSync(file, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (!st || !st.isFile() || st.size > MAX_FILE_BYTES) {
      if (this.diskSnapshot) this.disk.set(file, { mtimeMs: -1, size: -1, file: undefined });
      return undefined;
    }
    if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.file;
    let f: SourceFile | undefined;
    try {
      const text = readFileSync(file, 'utf8');
      f = text.includes('\0') ? undefined : { path: file, text, hash: hashText(text) };
    } catch {
      f = undefined;
    }
    this.disk.set(file, { mtimeMs: st.mtimeMs, size: st.size, file: f });
    return f;
  }

  factsOf(file: SourceFile): FileFacts {
    let f = this.facts.get(file.hash);
    if (!f) {
      f = lazyFacts(file);
      if (this.facts.size > 3000) this.facts.clear();
      this.facts.set(file.hash, f);
    }
    return f;
  }
}

/** What lazy facts hold besides their fields, for the next edit to start from (editedFacts). */
interface FactsState {
  /** The blanking with its comment spans, made now if it was not yet. */
  tracked(): TrackedBlank;
  /** The parse text, if it has been made. */
  parseTextMade(): string | undefined;
}
const factsStates = new WeakMap<FileFacts, FactsState>();

/** Directives are needed for every included file; blanking only for the files that get parsed. */
function lazyFacts(file: SourceFile, known: { directives?: Directive[]; tracked?: TrackedBlank; parseText?: string } = {}): FileFacts {
  let tracked = known.tracked;
  let parseText = known.parseText;
  const directives = known.directives ?? scanDirectives(file.text);
  const state: FactsState = { tracked: () => (tracked ??= blankTracked(file.text)), parseTextMade: () => parseText };
  const facts: FileFacts = {
    hash: file.hash,
    directives,
    lineCount: countLines(file.text),
    get blank() {
      return state.tracked().result;
    },
    get parseText() {
      return (parseText ??= neutraliseDirectives(this.blank.text, directives));
    },
  };
  factsStates.set(facts, state);
  return facts;
}

/**
 * The facts of `file` made from those of the text one edit before, or undefined when the edit
 * may reach beyond its line (reblankLine decides). Within those bounds the line is no directive,
 * continues none and sits in no comment, so the directives are the same (no line moved: the edit
 * adds or removes no line end) and directive neutralisation leaves the line as blanked.
 */
function editedFacts(prevText: string, prev: FileFacts, file: SourceFile, edit: { start: number; end: number; inserted: string }): FileFacts | undefined {
  const state = factsStates.get(prev);
  if (!state) return undefined;
  const redone = reblankLine(prevText, state.tracked(), file.text, edit);
  if (!redone) return undefined;
  const { start, oldEnd, newEnd } = redone.line;
  const prevParse = state.parseTextMade();
  const parseText = prevParse === undefined ? undefined : prevParse.slice(0, start) + redone.result.text.slice(start, newEnd) + prevParse.slice(oldEnd);
  return lazyFacts(file, { directives: prev.directives, tracked: redone, parseText });
}

function countLines(text: string): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** True for files under include/uapi or arch/<arch>/include/uapi (by default), relative to the root. */
export function isUnder(rel: string, globs: string[]): boolean {
  const norm = rel.split(path.sep).join('/');
  return globs.some((g) => globMatcher(g)(norm));
}

const globCache = new Map<string, (p: string) => boolean>();

/** Glob matching from picomatch (see docs/architecture.md for why). */
export function globMatcher(glob: string): (p: string) => boolean {
  let m = globCache.get(glob);
  if (!m) {
    m = picomatch(glob, { dot: true });
    globCache.set(glob, m);
  }
  return m;
}

export interface IncludeContext {
  root?: string;
  abi: Abi;
  /** uapi mode: only uapi include folders, as userspace sees the headers after headers_install. */
  uapi: boolean;
  extra: string[];
}

/** The folders `<...>` includes are searched in, for one ABI. */
export function includeDirs(ctx: IncludeContext): string[] {
  if (!ctx.root) return ctx.extra;
  const r = ctx.root;
  const arch = ctx.abi.archDir;
  const uapiDirs = [path.join(r, 'include/uapi'), path.join(r, 'arch', arch, 'include/uapi'), path.join(r, 'arch', arch, 'include/generated/uapi'), path.join(r, 'include/generated/uapi')];
  const kernelDirs = [path.join(r, 'arch', arch, 'include'), path.join(r, 'arch', arch, 'include/generated'), path.join(r, 'include')];
  const extra = ctx.extra.map((e) => (path.isAbsolute(e) ? e : path.join(r, e)));
  return ctx.uapi ? [...uapiDirs, ...extra] : [...kernelDirs, ...uapiDirs, ...extra];
}

/**
 * Resolves an include. `<asm/x.h>` falls back to asm-generic when the arch has no header of its
 * own (the kernel generates such wrappers at build time; there is no build here).
 */
export function resolveInclude(from: string, spec: string, angled: boolean, ctx: IncludeContext, store: SourceStore): string | undefined {
  if (spec.includes('\0') || path.isAbsolute(spec)) return undefined;
  const candidates: string[] = [];
  if (!angled) candidates.push(path.join(path.dirname(from), spec));
  for (const d of includeDirs(ctx)) candidates.push(path.join(d, spec));
  if (ctx.root && spec.startsWith('asm/')) {
    const rest = spec.slice(4);
    if (!ctx.uapi) candidates.push(path.join(ctx.root, 'include/asm-generic', rest));
    candidates.push(path.join(ctx.root, 'include/uapi/asm-generic', rest));
  }
  for (const c of candidates) {
    // Never leave the tree through `..` in an include.
    if (ctx.root && !c.startsWith(ctx.root + path.sep) && !ctx.extra.some((e) => path.isAbsolute(e) && c.startsWith(e))) {
      if (!c.startsWith(path.dirname(from) + path.sep)) continue;
    }
    // Nor through a symbolic link in it (a header or folder linked to elsewhere): checked before
    // the file is read. Open documents are the editor's, not the disk's.
    if (ctx.root && !store.isOpen(c) && !realInside(c, [ctx.root, path.dirname(from), ...ctx.extra.filter((e) => path.isAbsolute(e))])) continue;
    if (store.read(c)) return c;
  }
  return undefined;
}

/**
 * Whether `file` exists and, links resolved, lies inside one of `dirs` (links resolved too); the
 * folder itself counts only with `orSelf`. Shared by includes, the lock index walk and patch review.
 */
export function realInside(file: string, dirs: string[], orSelf = false): boolean {
  const real = realPath(file);
  if (real === undefined) return false;
  return dirs.some((d) => {
    const rel = path.relative(realDir(d), real);
    return (rel !== '' || orSelf) && !rel.startsWith('..') && !path.isAbsolute(rel);
  });
}

const realDirs = new Map<string, string>();

// Include resolution asks about the same candidates (most of them missing) for every unit of a
// run: 9% of a whole-uapi check went to realpath and its ENOENT errors. An answer, found or not,
// stands for two seconds: links are checked just before a file is read, not years earlier.
const REALPATH_MS = 2000;
const realPaths = new Map<string, { real: string | undefined; at: number }>();

/** `file` with its links resolved, or undefined when it does not exist. */
function realPath(file: string): string | undefined {
  const now = Date.now();
  const hit = realPaths.get(file);
  if (hit && now - hit.at < REALPATH_MS) return hit.real;
  let real: string | undefined;
  try {
    real = realpathSync.native(file);
  } catch {
    real = undefined;
  }
  if (realPaths.size > 20000) realPaths.clear();
  realPaths.set(file, { real, at: now });
  return real;
}

/** A folder with its links resolved, remembered (roots and include folders repeat). */
function realDir(dir: string): string {
  let real = realDirs.get(dir);
  if (real === undefined) {
    try {
      real = realpathSync.native(dir);
    } catch {
      real = dir;
    }
    if (realDirs.size > 1000) realDirs.clear();
    realDirs.set(dir, real);
  }
  return real;
}
