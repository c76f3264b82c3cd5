// The contract between the engine and its front ends (language server, CLI, benchmarks).
// Front ends depend on this file only; the engine's internals may change freely behind it.
import type { AbiName, Finding, Fix, HoverResult, LayoutReport, Position, Range, SeveritySetting } from './types';
import type { InlayHint, Lens } from './lenses';

export interface EngineOptions {
  /** Kernel tree root. When absent, it is discovered upwards from each file (see findKernelRoot). */
  root?: string;
  /** ABIs to lay out and compare. Default: all. */
  arches?: AbiName[];
  /** Extra include directories, relative to the root (or absolute), searched after the defaults. */
  includePaths?: string[];
  /** Globs (relative to the root) of uapi headers. Default: include/uapi/**, arch/&#42;/include/uapi/**. */
  uapiGlobs?: string[];
  /** Per-rule severity override; 'off' disables the rule. */
  severities?: Record<string, SeveritySetting>;
  /** Base URI of the rule documentation pages (`<base>/<rule>.md`). */
  docsBase?: string;
  /**
   * Globs (relative to the root) of the source files whose functions the lock analysis indexes
   * for contracts and callers. Default: drivers/vfio/**, drivers/iommu/iommufd/**,
   * include/linux/vfio*.h.
   */
  lockIndex?: string[];
  /**
   * Read `.vfio-review.json` at the tree root (default true). Off in an untrusted workspace: the
   * file can only declare facts, but a stranger's tree should not change what is reported.
   */
  readProjectConfig?: boolean;
  /**
   * Milliseconds of work on one file after which no further ABI or rule is started (default
   * 10,000; 0: no limit). What was left out is reported as an analysis-incomplete finding.
   */
  fileBudgetMs?: number;
  /**
   * Folder of the persistent cache (the CLI's `--cache DIR`). When given, the lock analysis keeps
   * each index file's extraction there (`lock-ir/`), per path, content and build, and a new
   * process reads it back instead of parsing the file. Default: none (nothing is written).
   */
  cacheDir?: string;
  /**
   * The files on disk do not change while this engine lives (a CLI run): each is stat'd and read
   * once instead of re-stat'd at every read. Default false (the editor's files change under it).
   */
  diskSnapshot?: boolean;
}

/** An LSP-style content change: a range edit, or a full replacement when `range` is absent. */
export interface TextChange {
  range?: Range;
  text: string;
}

export interface RuleInfo {
  id: string;
  defaultSeverity: SeveritySetting;
  /** One line, for help output, SARIF `shortDescription` and hovers. */
  summary: string;
  /** 'project': the rule analyses the whole index (slow on each edit; editors run it when idle). */
  cost?: 'project';
}

/** Thrown for bad requests from the user (unknown type or arch, missing root): exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An older version of a file, for ABI comparison. */
export interface BaseVersion {
  text: string;
  /** How to name it in messages: `HEAD:include/uapi/linux/vfio.h`, `old/vfio.h`. */
  label: string;
  /** Where `related` locations of findings point (a file path, or a URI the client can open). */
  location: string;
}

/** Cooperative cancellation: long analyses poll it and stop early. */
export interface CancelToken {
  readonly isCancellationRequested: boolean;
}

export interface AnalysisService {
  /** Options may change at run time (editor settings). */
  configure(options: Partial<EngineOptions>): void;
  /** Whether `path` is a uapi header (by the configured globs, relative to its tree root). */
  isUapi(path: string): boolean;
  /** Editor overlay: open documents shadow the disk. Paths are absolute. */
  openDocument(path: string, text: string, version: number): void;
  /** Applies incremental changes (tree.edit + incremental reparse). */
  changeDocument(path: string, changes: TextChange[], version: number): void;
  closeDocument(path: string): void;
  /**
   * All enabled rules on one file (from the overlay, else the disk). `projectRules: false` skips
   * the rules that analyse the whole index (RuleInfo.cost 'project'), for a fast first answer
   * while the user types.
   */
  check(path: string, token?: CancelToken, options?: { projectRules?: boolean }): Finding[];
  /**
   * Layouts of the named types (all named structs/unions of the file when `types` is empty) for
   * the given ABIs (default: the configured ones). Throws UsageError for an unknown type.
   */
  layouts(path: string, types?: string[], arches?: AbiName[]): LayoutReport;
  hover(path: string, position: Position): HoverResult | null;
  /**
   * Works out ahead what hovers on `path` need (its include closure, its flag facts, the layouts of
   * the uapi types it names), for an editor to run when idle: each step of the generator is a
   * bounded piece of work, so the caller can stop between steps when the user types or asks
   * something. Hovers answer the same either way, only sooner.
   */
  prepareHovers(path: string): Generator<void, void>;
  /**
   * The version of `path` to compare with (from git, a patch, or another file), or undefined to
   * stop comparing. While a base is set, check() also reports the abi-* findings of compare(),
   * and hovers on changed types show the old and new layouts side by side.
   */
  setBase(path: string, base: BaseVersion | undefined): void;
  /** abi-* findings of `path` against its base, on the new version's lines; [] without a base. */
  compare(path: string, arches?: AbiName[]): Finding[];
  /**
   * Quick fixes for the findings overlapping `range` (the rules' own, then a suppression comment),
   * then fixes that belong to no finding (a lock contract a function inherits, stated with
   * lockdep_assert_held()).
   */
  codeActions(path: string, range: Range): { finding?: Finding; fix: Fix }[];
  /** A CodeLens per struct/union of a uapi header. */
  codeLenses(path: string): Lens[];
  /** pahole-style member offsets as inlay hints (uapi headers). */
  inlayHints(path: string, range: Range): InlayHint[];
  /** Problems of the tree's `.vfio-review.json` (file, key, line, message); [] when none or not read. */
  configProblems(path: string): { file: string; key: string; line: number; message: string }[];
  /** Frees parse trees. */
  dispose(): void;
}

export type { AbiName, Finding, Fix, HoverResult, InlayHint, LayoutReport, Lens, Position, Range, SeveritySetting };
