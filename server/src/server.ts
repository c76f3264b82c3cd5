// The language server: the only module that knows both LSP and the engine. It keeps the engine's
// document overlay in step with the editor (incremental edits), runs debounced checks whose
// results are dropped once a newer version exists, and turns engine failures into log lines.
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CodeActionKind,
  MessageType,
  ShowMessageNotification,
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
  type InitializeParams,
  type InitializeResult,
  type TextDocumentContentChangeEvent,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { version as packageVersion } from '../../package.json';
import { ALL_ABIS, RULES, UsageError, createEngine } from './engine';
import { findKernelRoot } from './engine/workspace';
import { defaultCacheDir } from './engine/cache/entries';
import type { Finding, AnalysisService, CancelToken, EngineOptions, RuleInfo, TextChange } from './engine';
import { DEFAULT_UAPI_GLOBS } from './engine/analyser';
import { SETTINGS_SECTION, defaultSettings, isUapiHeader, validateSettings, type Settings } from './config';
import { GitError, PathOutsideRepoError, lookupRepo, repoPath, resolveCommit, showFile, type RepoLookup } from './git';
import {
  defaultDocsBase,
  findingsToDiagnostics,
  fixToCodeAction,
  hoverToLsp,
  inlayHintToLsp,
  lensToLsp,
  pathToUri,
  uriToPath,
} from './formats/lsp';
import type { LayoutReport, Position } from './engine/types';
import { PatchDocuments, isPatchPath } from './patch-documents';
import { liveTreeCount } from './engine/parse/parser';
import { createIdleCollector } from './idle-gc';

export const STATUS_NOTIFICATION = 'vfioReview/status';

/** Rules that analyse the whole index: run once typing stops (see runCheck). */
const PROJECT_RULE_IDS = new Set(RULES.filter((r) => r.cost === 'project').map((r) => r.id));
export type ServerState = 'starting' | 'ready' | 'error';
/** Client -> server, once the user trusts the workspace: git may run from now on. */
export const WORKSPACE_TRUSTED_NOTIFICATION = 'vfioReview/workspaceTrusted';
/** Client -> server: `{ uri }` of a base version (BASE_SCHEME) -> its text, or null. */
export const BASE_TEXT_REQUEST = 'vfioReview/baseText';
/**
 * URIs of the versions headers are compared with: `vfio-review-base:<file path>?<commit>`.
 * VS Code's client serves them with a content provider backed by BASE_TEXT_REQUEST.
 */
export const BASE_SCHEME = 'vfio-review-base';

/** The URI of `file` as it is at `commit`. */
export function baseUri(file: string, commit: string): string {
  return `${BASE_SCHEME}:${pathToFileURL(file).pathname}?${commit}`;
}

/** The file and commit of a BASE_SCHEME URI, or undefined for anything else. */
export function parseBaseUri(uri: string): { file: string; commit: string } | undefined {
  if (!uri.startsWith(`${BASE_SCHEME}:`)) return undefined;
  try {
    const url = new URL(uri);
    const commit = decodeURIComponent(url.search.slice(1));
    if (!/^[0-9a-f]{40,64}$/.test(commit)) return undefined;
    return { file: fileURLToPath(`file://${url.pathname}`), commit };
  } catch {
    return undefined;
  }
}

/** Client -> server: `{ uri, typeName?, position? }` -> LayoutResponse (the webview's data). */
export const LAYOUT_REQUEST = 'vfioReview/layout';
/**
 * Sent by the client's "Draft Review Reply" (client/src/patch-commands.ts): params
 * `{ uri, line }`, result `{ text, patch, subject }` for the patch whose mail holds `line`, or null.
 */
export const DRAFT_REPLY_REQUEST = 'vfioReview/draftReply';
/** For tests and bug reports: what the server holds (live parse trees, documents, memory). */
export const STATS_REQUEST = 'vfioReview/stats';
/** Patch documents are reviewed this long after the last edit (a whole series is re-applied). */
const PATCH_DEBOUNCE_MS = 400;

export interface LayoutResponse {
  uri: string;
  /** The type shown; null when none was named and none is at the position. */
  typeName: string | null;
  /** Its layout on every configured ABI; null when it could not be made (see `message`). */
  report: LayoutReport | null;
  /** The same type in the base version (vfioReview.baseRef), when the document is compared with one. */
  base?: { label: string; report: LayoutReport | null; message?: string };
  message?: string;
}

/** How long a revision's commit is trusted before git is asked again (HEAD moves on commit). */
const REV_TTL_MS = 2000;

export interface ServerOptions {
  /** Base URI of the rule pages; default: docs/rules next to the bundle. */
  docsBase?: string;
  /** Engine factory, replaceable for tests. */
  createEngine?: (options: EngineOptions) => Promise<AnalysisService>;
}

const C_EXTENSIONS = new Set(['.c', '.h']);

/**
 * Editors disagree on the language of a header (VS Code and Neovim say 'cpp' for `.h`), so a
 * document is ours when its extension is `.c`/`.h` or its language is C, and it is a file.
 */
export function isCheckedDocument(uri: string, languageId: string): boolean {
  const file = uriToPath(uri);
  if (file === undefined) return false;
  return C_EXTENSIONS.has(path.extname(file).toLowerCase()) || languageId === 'c';
}

interface OpenDoc {
  uri: string;
  path: string;
  /** The engine has this document in its overlay. */
  inEngine: boolean;
  timer?: ReturnType<typeof setTimeout>;
  token?: { isCancellationRequested: boolean };
  /** The base version the engine has for this document, if any. */
  base?: { ref: string; commit: string };
  /** Findings of the whole-index rules from the last full check, shown until the next one. */
  projectFindings?: Finding[];
  /** Hover preparation, started once the user has paused (see prepareHovers). */
  prepare?: ReturnType<typeof setTimeout>;
}

/** A patch, mail or mbox open in the editor: reviewed as a whole on every version. */
interface OpenPatch {
  uri: string;
  path: string;
  timer?: ReturnType<typeof setTimeout>;
  token?: { isCancellationRequested: boolean };
}

/** A patch document, by extension or language id (`vfio-patch`), on disk. */
export function isPatchDocument(uri: string, languageId: string): boolean {
  const file = uriToPath(uri);
  return file !== undefined && isPatchPath(file, languageId);
}

/** After typing stops this long, the rules that analyse the whole index run too. */
const PROJECT_RULES_DELAY_MS = 750;
// A pause in typing this long, after the heap has grown at least this much, collects garbage (idle-gc.ts).
const IDLE_GC_MS = 2000;
const IDLE_GC_GROWTH_BYTES = 8 * 2 ** 20;
// While typing, V8's heap grows at most this much past what its last full collection kept (idle-gc.ts).
// 10, not 20: over 2,000 edits of vfio_pci_core.c, RSS grew 4.6-8.9% at 10 (three benches) against
// 12.2-13.2% at 20, for about 1 ms more CPU per edit (docs/architecture.md, language server).
const HEAP_GROWING_PERCENT = 10;
// A pause in typing this long starts the hover preparation (engine.prepareHovers).
const PREPARE_HOVERS_IDLE_MS = 300;

/** Registers every handler on `connection` and starts listening. */
export function startServer(connection: Connection, serverOptions: ServerOptions = {}): void {
  // Edits leave garbage V8 would rather grow the heap for: collected once the user pauses.
  // (VFIO_REVIEW_IDLE_GC=always: every pause after activity collects, for tests that check it does.)
  const everyPause = process.env.VFIO_REVIEW_IDLE_GC === 'always';
  const idleCollector = createIdleCollector({ idleMs: IDLE_GC_MS, minGrowthBytes: everyPause ? 0 : IDLE_GC_GROWTH_BYTES, growthRatio: everyPause ? 0 : 0.5, heapGrowingPercent: HEAP_GROWING_PERCENT });
  const log = connection.console;
  const docsBase = serverOptions.docsBase ?? defaultDocsBase();
  const makeEngine = serverOptions.createEngine ?? createEngine;

  let settings: Settings = defaultSettings();
  let engine: AnalysisService | undefined;
  let shuttingDown = false;
  let canPullConfiguration = false;
  let canRefreshInlayHints = false;
  let initOptionsSettings: unknown;
  let workspaceFolder: string | undefined;
  /** False when the client says the workspace is not trusted: then git never runs. */
  let gitAllowed = true;
  const reported = new Set<string>();
  const repoLookups = new Map<string, Promise<RepoLookup>>();
  const commits = new Map<string, { commit: Promise<string | undefined>; at: number }>();
  const open = new Map<string, OpenDoc>();
  const openPatches = new Map<string, OpenPatch>();
  // Patch documents are reviewed in a worker thread beside the server's bundle.
  const patches = new PatchDocuments(path.join(__dirname, 'patch-worker.js'));
  let resolveReady!: (e: AnalysisService | undefined) => void;
  const engineReady = new Promise<AnalysisService | undefined>((r) => (resolveReady = r));

  // TextDocuments applies the edits to its own copy; the update hook also hands the raw edits to
  // the engine so it can reparse incrementally instead of from scratch.
  const documents = new TextDocuments<TextDocument>({
    create: (uri, languageId, version, text) => TextDocument.create(uri, languageId, version, text),
    update: (doc, changes, version) => {
      const updated = TextDocument.update(doc, changes, version);
      onEdited(updated, changes);
      return updated;
    },
  });

  function engineOptions(): EngineOptions {
    // Every key present, so a setting that was removed resets the engine's value too.
    const e = settings.engine;
    return {
      root: e.root,
      arches: e.arches,
      includePaths: e.includePaths,
      uapiGlobs: e.uapiGlobs,
      severities: e.severities,
      docsBase,
      // A stranger's tree does not get to change what is reported: its .vfio-review.json is read
      // only once the workspace is trusted (the same moment git may run).
      readProjectConfig: gitAllowed,
      cacheDir: gitAllowed ? defaultCacheDir() : undefined,
    };
  }

  function reportOnce(message: string): void {
    if (reported.has(message)) return;
    reported.add(message);
    log.warn(message);
    // A notification, not window/showMessageRequest: nothing waits for the user to dismiss it.
    connection.sendNotification(ShowMessageNotification.type, { type: MessageType.Warning, message }).catch(() => undefined);
  }

  function logError(what: string, err: unknown): void {
    if (err instanceof UsageError) {
      // Usage problems (no kernel root, ...) repeat on every keystroke: say them once.
      const message = `${what}: ${err.message}`;
      if (!reported.has(message)) {
        reported.add(message);
        log.warn(message);
      }
      return;
    }
    log.error(`${what} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }

  /** An info line in the log, once per `key`: why a comparison is not made is not an error. */
  function infoOnce(key: string, message: string): void {
    if (reported.has(key)) return;
    reported.add(key);
    log.info(message);
  }

  function setStatus(state: ServerState, message?: string): void {
    connection.sendNotification(STATUS_NOTIFICATION, { state, message }).catch(() => undefined);
  }

  /** Runs `fn`, turning an exception into a logged error and `fallback`. */
  async function guarded<T>(what: string, fallback: T, fn: () => T | Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      logError(what, err);
      return fallback;
    }
  }

  // --- engine overlay -------------------------------------------------------------------------

  function openInEngine(doc: OpenDoc, text: string, version: number): void {
    if (!engine) return;
    try {
      engine.openDocument(doc.path, text, version);
      doc.inEngine = true;
    } catch (err) {
      doc.inEngine = false;
      logError(`opening ${doc.path}`, err);
    }
  }

  function onEdited(updated: TextDocument, changes: TextDocumentContentChangeEvent[]): void {
    idleCollector.touch();
    const patch = openPatches.get(updated.uri);
    if (patch && !shuttingDown) schedulePatch(patch);
    const doc = open.get(updated.uri);
    if (!doc || shuttingDown) return;
    if (engine) {
      if (doc.inEngine) {
        try {
          engine.changeDocument(doc.path, changes.map(toTextChange), updated.version);
        } catch (err) {
          // The overlay may be out of step now: replace it with the full text.
          logError(`applying an edit to ${doc.path}`, err);
          openInEngine(doc, updated.getText(), updated.version);
        }
      } else openInEngine(doc, updated.getText(), updated.version);
    }
    schedule(doc);
    // A header edit can change what other open files see (layouts, lock contracts).
    if (path.extname(doc.path).toLowerCase() === '.h') {
      for (const other of open.values()) if (other !== doc) schedule(other);
    }
  }

  documents.onDidOpen(({ document }) => {
    idleCollector.touch();
    if (shuttingDown) return;
    if (isPatchDocument(document.uri, document.languageId)) {
      const previous = openPatches.get(document.uri);
      if (previous) cancelPatch(previous);
      const patch: OpenPatch = { uri: document.uri, path: uriToPath(document.uri)! };
      openPatches.set(document.uri, patch);
      schedulePatch(patch, 0);
      return;
    }
    if (!isCheckedDocument(document.uri, document.languageId)) return;
    const doc: OpenDoc = { uri: document.uri, path: uriToPath(document.uri)!, inEngine: false };
    const previous = open.get(document.uri);
    if (previous) cancel(previous);
    open.set(document.uri, doc);
    openInEngine(doc, document.getText(), document.version);
    schedule(doc);
  });

  documents.onDidClose(({ document }) => {
    const patch = openPatches.get(document.uri);
    if (patch) {
      cancelPatch(patch);
      openPatches.delete(document.uri);
      patches.forget(patch.path);
      connection.sendDiagnostics({ uri: patch.uri, diagnostics: [] }).catch(() => undefined);
      return;
    }
    const doc = open.get(document.uri);
    if (!doc) return;
    cancel(doc);
    open.delete(document.uri);
    if (engine && doc.inEngine) {
      try {
        if (doc.base) engine.setBase(doc.path, undefined);
        doc.base = undefined;
        engine.closeDocument(doc.path);
      } catch (err) {
        logError(`closing ${doc.path}`, err);
      }
    }
    connection.sendDiagnostics({ uri: doc.uri, diagnostics: [] }).catch(() => undefined);
  });

  // --- diagnostics ----------------------------------------------------------------------------

  function cancel(doc: OpenDoc): void {
    if (doc.timer) clearTimeout(doc.timer);
    doc.timer = undefined;
    if (doc.prepare) clearTimeout(doc.prepare);
    doc.prepare = undefined;
    if (doc.token) doc.token.isCancellationRequested = true;
    doc.token = undefined;
  }

  /** (Re)starts the debounce for `doc`; whatever was pending or running for it is superseded. */
  function schedule(doc: OpenDoc, delay = settings.debounceMs, phase: 'fast' | 'full' = 'fast'): void {
    cancel(doc);
    doc.timer = setTimeout(() => {
      doc.timer = undefined;
      void runCheck(doc, phase);
    }, delay);
  }

  /**
   * Two phases: right after an edit, every rule but the whole-index ones (lock analysis), with the
   * index findings of the last full check kept; once typing has stopped, everything.
   */
  async function runCheck(doc: OpenDoc, phase: 'fast' | 'full' = 'fast'): Promise<void> {
    const text = documents.get(doc.uri);
    if (!engine || !text || shuttingDown || open.get(doc.uri) !== doc) return;
    if (!doc.inEngine) openInEngine(doc, text.getText(), text.version);
    const token: CancelToken & { isCancellationRequested: boolean } = { isCancellationRequested: false };
    doc.token = token;
    await syncBase(doc);
    if (token.isCancellationRequested || !engine || open.get(doc.uri) !== doc) return;
    const version = documents.get(doc.uri)?.version ?? text.version;
    let findings: Awaited<ReturnType<AnalysisService['check']>>;
    try {
      // `await` keeps this correct should check() ever become asynchronous.
      findings = await engine.check(doc.path, token, { projectRules: phase === 'full' });
    } catch (err) {
      logError(`checking ${doc.path}`, err);
      findings = [];
    }
    // Never publish for a version the editor has moved past, or for a closed document.
    const current = documents.get(doc.uri);
    if (token.isCancellationRequested || open.get(doc.uri) !== doc || !current || current.version !== version) return;
    if (doc.token === token) doc.token = undefined;
    if (phase === 'full') doc.projectFindings = findings.filter((f) => PROJECT_RULE_IDS.has(f.rule));
    else if (PROJECT_RULE_IDS.size) findings = [...findings, ...(doc.projectFindings ?? [])];
    const mine = findings.filter((f) => samePath(f.file, doc.path));
    const diagnostics = findingsToDiagnostics(mine, { docsBase, uriForPath });
    await connection.sendDiagnostics({ uri: doc.uri, version, diagnostics }).catch(() => undefined);
    if (phase === 'fast' && PROJECT_RULE_IDS.size && !doc.timer) schedule(doc, PROJECT_RULES_DELAY_MS, 'full');
    idleCollector.touch();
    // Once the user pauses, what hovers will need is worked out ahead, not on the first hover (a
    // kernel C file's headers take a second or two to scan).
    if (doc.prepare) clearTimeout(doc.prepare);
    doc.prepare = setTimeout(() => prepareHovers(doc, version), PREPARE_HOVERS_IDLE_MS);
  }

  /**
   * Runs the engine's hover preparation a step per turn of the event loop, while the document
   * stays at `version`: an edit or a closed document stops it between two steps.
   */
  function prepareHovers(doc: OpenDoc, version: number, steps?: Generator<void, void>): void {
    doc.prepare = undefined;
    if (!engine || shuttingDown || open.get(doc.uri) !== doc || documents.get(doc.uri)?.version !== version) return;
    try {
      steps ??= engine.prepareHovers(doc.path);
      if (!steps.next().done) setImmediate(() => prepareHovers(doc, version, steps));
    } catch (err) {
      logError(`preparing hovers on ${doc.path}`, err);
    }
  }

  // --- patch documents ------------------------------------------------------------------------

  function cancelPatch(patch: OpenPatch): void {
    if (patch.timer) clearTimeout(patch.timer);
    patch.timer = undefined;
    if (patch.token) patch.token.isCancellationRequested = true;
    patch.token = undefined;
  }

  function schedulePatch(patch: OpenPatch, delay = PATCH_DEBOUNCE_MS): void {
    cancelPatch(patch);
    patch.timer = setTimeout(() => {
      patch.timer = undefined;
      void reviewPatch(patch);
    }, delay);
  }

  /** Reviews the document's current version and publishes the findings its patches introduce. */
  async function reviewPatch(patch: OpenPatch): Promise<void> {
    // The engine's start loads the parser the review needs.
    if (!(await engineReady) || shuttingDown || openPatches.get(patch.uri) !== patch) return;
    const text = documents.get(patch.uri);
    if (!text) return;
    const token = { isCancellationRequested: false };
    patch.token = token;
    const version = text.version;
    const findings = await guarded(`reviewing ${patch.path}`, undefined, () => patches.review(patch.path, text.getText(), version, engineOptions(), workspaceFolder, token));
    const current = documents.get(patch.uri);
    if (!findings || token.isCancellationRequested || openPatches.get(patch.uri) !== patch || current?.version !== version) return;
    if (patch.token === token) patch.token = undefined;
    const diagnostics = findingsToDiagnostics(findings.filter((f) => samePath(f.file, patch.path)), { docsBase, uriForPath });
    await connection.sendDiagnostics({ uri: patch.uri, version, diagnostics }).catch(() => undefined);
  }

  /** The URI the client used for an open file, so related locations match its editors. */
  function uriForPath(file: string): string {
    // Related locations in a base version are URIs already.
    if (file.startsWith(`${BASE_SCHEME}:`)) return file;
    for (const doc of open.values()) if (samePath(doc.path, file)) return doc.uri;
    return pathToUri(file);
  }

  // --- base versions from git -----------------------------------------------------------------

  /** The workspace folder `file` belongs to, for saying things once per workspace. */
  function workspaceOf(file: string): string {
    if (workspaceFolder && !path.relative(workspaceFolder, file).startsWith('..')) return workspaceFolder;
    return settings.engine.root ?? findKernelRoot(file) ?? path.dirname(file);
  }

  function repoOf(dir: string): Promise<RepoLookup> {
    let lookup = repoLookups.get(dir);
    if (!lookup) repoLookups.set(dir, (lookup = lookupRepo(dir)));
    return lookup;
  }

  /** The commit `ref` names in `top`, asked again once it is REV_TTL_MS old. */
  function commitOf(top: string, ref: string): Promise<string | undefined> {
    const key = `${top}\0${ref}`;
    const cached = commits.get(key);
    if (cached && Date.now() - cached.at < REV_TTL_MS) return cached.commit;
    const commit = resolveCommit(top, ref);
    commits.set(key, { commit, at: Date.now() });
    commit.catch(() => commits.delete(key));
    return commit;
  }

  /**
   * The version of `doc` at vfioReview.baseRef, when it should be compared with one: a uapi
   * header, in a trusted workspace, in a git repository, that exists at that revision. Each
   * reason to skip the comparison is logged once (per workspace, per file for new files).
   */
  async function wantedBase(doc: OpenDoc): Promise<{ ref: string; commit: string; rel: string; text?: string } | undefined> {
    const ref = settings.baseRef;
    if (!ref) return undefined;
    const root = settings.engine.root ?? findKernelRoot(doc.path);
    if (!isUapiHeader(doc.path, root, settings.engine.uapiGlobs ?? DEFAULT_UAPI_GLOBS)) return undefined;
    const workspace = workspaceOf(doc.path);
    if (!gitAllowed) {
      infoOnce(`untrusted:${workspace}`, `ABI comparison with ${ref} is off in ${workspace}: the workspace is not trusted, so git does not run.`);
      return undefined;
    }
    try {
      const repo = await repoOf(path.dirname(doc.path));
      if (!repo.top) {
        infoOnce(`no-repo:${workspace}`, `ABI comparison with ${ref} is off in ${workspace}: ${repo.reason}.`);
        return undefined;
      }
      const rel = repoPath(repo.top, doc.path);
      const commit = await commitOf(repo.top, ref);
      if (!commit) {
        infoOnce(`no-commit:${repo.top}:${ref}`, `ABI comparison is off in ${repo.top}: vfioReview.baseRef '${ref}' names no commit there.`);
        return undefined;
      }
      if (doc.base?.ref === ref && doc.base.commit === commit) return { ref, commit, rel };
      const text = await showFile(repo.top, commit, rel);
      if (text === undefined) {
        infoOnce(`new:${doc.path}`, `${rel} is not in ${ref} (a new or untracked file): nothing to compare it with.`);
        return undefined;
      }
      return { ref, commit, rel, text };
    } catch (err) {
      if (err instanceof GitError || err instanceof PathOutsideRepoError) {
        infoOnce(`git:${workspace}:${err.message}`, `ABI comparison with ${ref} skipped for ${doc.path}: ${err.message}.`);
        return undefined;
      }
      throw err;
    }
  }

  /** Gives the engine the base version `doc` should be compared with (or takes it away). */
  async function syncBase(doc: OpenDoc): Promise<void> {
    const want = await guarded(`reading the base version of ${doc.path}`, undefined, () => wantedBase(doc));
    if (!engine || shuttingDown || open.get(doc.uri) !== doc) return;
    if (want && doc.base?.ref === want.ref && doc.base.commit === want.commit) return;
    if (!want && !doc.base) return;
    try {
      if (want?.text !== undefined) {
        engine.setBase(doc.path, { text: want.text, label: `${want.ref}:${want.rel}`, location: baseUri(doc.path, want.commit) });
        doc.base = { ref: want.ref, commit: want.commit };
      } else {
        engine.setBase(doc.path, undefined);
        doc.base = undefined;
      }
    } catch (err) {
      doc.base = undefined;
      logError(`setting the base version of ${doc.path}`, err);
    }
  }

  /** Serves BASE_TEXT_REQUEST: the text behind a base URI of a related location. */
  async function baseText(uri: unknown): Promise<string | null> {
    const parsed = typeof uri === 'string' ? parseBaseUri(uri) : undefined;
    if (!parsed || !gitAllowed) return null;
    const repo = await repoOf(path.dirname(parsed.file));
    if (!repo.top) return null;
    try {
      return (await showFile(repo.top, parsed.commit, repoPath(repo.top, parsed.file))) ?? null;
    } catch (err) {
      if (err instanceof GitError || err instanceof PathOutsideRepoError) return null;
      throw err;
    }
  }

  function recheckAll(): void {
    for (const doc of open.values()) schedule(doc);
    for (const patch of openPatches.values()) schedulePatch(patch);
  }

  // --- settings -------------------------------------------------------------------------------

  async function loadSettings(pushed?: unknown): Promise<void> {
    let raw: unknown = initOptionsSettings;
    if (canPullConfiguration) {
      try {
        const pulled: unknown = await connection.workspace.getConfiguration(SETTINGS_SECTION);
        if (pulled !== null && pulled !== undefined) raw = mergeSettings(raw, pulled);
      } catch (err) {
        logError('reading the vfioReview settings', err);
      }
    } else if (pushed !== undefined && pushed !== null) {
      raw = mergeSettings(raw, pushed);
    }
    const { options, errors } = validateSettings(raw, {
      abis: ALL_ABIS,
      rules: RULES.map((r: RuleInfo) => r.id),
      workspaceFolder,
    });
    for (const e of errors) reportOnce(e);
    const hintsChanged = (settings.inlayHints ?? false) !== (options.inlayHints ?? false);
    settings = options;
    if (hintsChanged && canRefreshInlayHints) connection.languages.inlayHint.refresh().catch(() => undefined);
    // A repository may have appeared (git init) or the root moved; look again.
    repoLookups.clear();
  }

  function applySettings(): void {
    if (!engine) return;
    try {
      engine.configure(engineOptions());
    } catch (err) {
      logError('configuring the engine', err);
    }
    recheckAll();
  }

  // --- lifecycle ------------------------------------------------------------------------------

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    canPullConfiguration = params.capabilities.workspace?.configuration === true;
    canRefreshInlayHints = params.capabilities.workspace?.inlayHint?.refreshSupport === true;
    initOptionsSettings = settingsFromInitOptions(params.initializationOptions);
    gitAllowed = !(isObject(params.initializationOptions) && params.initializationOptions.workspaceTrusted === false);
    const folder = params.workspaceFolders?.[0]?.uri ?? params.rootUri ?? undefined;
    workspaceFolder = folder ? uriToPath(folder) : (params.rootPath ?? undefined);
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        hoverProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix, CodeActionKind.RefactorRewrite] },
        codeLensProvider: { resolveProvider: false },
        inlayHintProvider: true,
      },
      serverInfo: { name: 'vfio-review', version: packageVersion },
    };
  });

  connection.onInitialized(async () => {
    setStatus('starting');
    await loadSettings();
    let created: AnalysisService;
    try {
      created = await makeEngine(engineOptions());
    } catch (err) {
      logError('starting the analysis engine', err);
      setStatus('error', `The analysis engine did not start: ${err instanceof Error ? err.message : String(err)}`);
      resolveReady(undefined);
      return;
    }
    if (shuttingDown) {
      created.dispose();
      resolveReady(undefined);
      return;
    }
    engine = created;
    // Settings may have changed while the engine loaded.
    applySettings();
    for (const doc of open.values()) {
      const text = documents.get(doc.uri);
      if (text) openInEngine(doc, text.getText(), text.version);
      schedule(doc, 0);
    }
    resolveReady(engine);
    const arches = settings.engine.arches ?? ALL_ABIS;
    log.info(`vfio-review ${packageVersion} ready (ABIs: ${arches.join(', ')}; root: ${settings.engine.root ?? 'discovered per file'})`);
    setStatus('ready');
  });

  connection.onDidChangeConfiguration(async (params) => {
    const pushed = isObject(params?.settings) ? (params.settings as Record<string, unknown>)[SETTINGS_SECTION] : undefined;
    await guarded('reloading settings', undefined, async () => {
      await loadSettings(pushed);
      applySettings();
    });
  });

  connection.onNotification(WORKSPACE_TRUSTED_NOTIFICATION, () => {
    if (gitAllowed) return;
    gitAllowed = true;
    engine?.configure(engineOptions());
    recheckAll();
  });

  connection.onRequest(BASE_TEXT_REQUEST, (params: { uri?: unknown }) => guarded('reading a base version', null, () => baseText(params?.uri)));

  connection.onHover((params) =>
    guarded('hover', null, async () => {
      const patch = openPatches.get(params.textDocument.uri);
      if (patch) {
        if (!(await engineReady) || shuttingDown) return null;
        return hoverToLsp(patches.hover(patch.path, params.position, engineOptions()));
      }
      const doc = open.get(params.textDocument.uri);
      if (!doc) return null;
      const e = await engineReady;
      if (!e || shuttingDown || !doc.inEngine) return null;
      return hoverToLsp(e.hover(doc.path, params.position));
    }),
  );

  /** The open document of `uri` once the engine has it, else undefined. */
  async function readyDoc(uri: string): Promise<{ doc: OpenDoc; e: AnalysisService } | undefined> {
    const doc = open.get(uri);
    if (!doc) return undefined;
    const e = await engineReady;
    if (!e || shuttingDown || !doc.inEngine) return undefined;
    return { doc, e };
  }

  connection.onCodeAction((params) =>
    guarded('code actions', [], async () => {
      const only = params.context.only;
      // A requested kind covers its sub-kinds (`refactor` asks for `refactor.rewrite` too).
      const wanted = (kind: string) => !only || only.some((k) => kind === k || kind.startsWith(`${k}.`));
      if (!wanted(CodeActionKind.QuickFix) && !wanted(CodeActionKind.RefactorRewrite)) return [];
      const r = await readyDoc(params.textDocument.uri);
      if (!r) return [];
      return r.e.codeActions(r.doc.path, params.range)
        .map(({ finding, fix }) => fixToCodeAction(finding, fix, r.doc.uri, { docsBase, uriForPath }))
        .filter((action) => wanted(action.kind ?? CodeActionKind.QuickFix));
    }),
  );

  connection.onCodeLens((params) =>
    guarded('code lenses', [], async () => {
      const r = await readyDoc(params.textDocument.uri);
      if (!r) return [];
      return r.e.codeLenses(r.doc.path).map((l) => lensToLsp(l, r.doc.uri));
    }),
  );

  connection.languages.inlayHint.on((params) =>
    guarded('inlay hints', [], async () => {
      if (settings.inlayHints !== true) return [];
      const r = await readyDoc(params.textDocument.uri);
      if (!r || settings.inlayHints !== true) return [];
      return r.e.inlayHints(r.doc.path, params.range).map(inlayHintToLsp);
    }),
  );

  connection.onRequest(STATS_REQUEST, () => {
    const memory = process.memoryUsage();
    return { liveTrees: liveTreeCount(), openDocuments: open.size, openPatches: openPatches.size, rssMiB: Math.round(memory.rss / 2 ** 20), heapUsedMiB: Math.round(memory.heapUsed / 2 ** 20), idleCollections: idleCollector.collections };
  });

  connection.onRequest(DRAFT_REPLY_REQUEST, (params: { uri?: unknown; line?: unknown }) =>
    guarded('drafting a reply', null, async () => {
      if (typeof params?.uri !== 'string' || typeof params.line !== 'number') return null;
      const patch = openPatches.get(params.uri);
      if (!patch) return null;
      // The review of the version on screen, if one is pending.
      const shown = documents.get(patch.uri)?.version;
      if (patch.timer || patches.get(patch.path)?.version !== shown) {
        cancelPatch(patch);
        await reviewPatch(patch);
      }
      return patches.reply(patch.path, params.line, docsBase);
    }),
  );

  connection.onRequest(LAYOUT_REQUEST, (params: { uri?: unknown; typeName?: unknown; position?: Position }) =>
    guarded('layout', null, () => layoutFor(params)),
  );

  /** Serves LAYOUT_REQUEST: the named type, or the one around `position`, on every ABI. */
  async function layoutFor(params: { uri?: unknown; typeName?: unknown; position?: Position }): Promise<LayoutResponse | null> {
    if (typeof params?.uri !== 'string') return null;
    const uri = params.uri;
    const file = open.get(uri)?.path ?? uriToPath(uri);
    const e = await engineReady;
    if (!file || !e || shuttingDown) return { uri, typeName: null, report: null, message: 'The analysis engine is not running.' };
    let typeName = typeof params.typeName === 'string' && params.typeName ? params.typeName : null;
    if (!typeName) {
      typeName = params.position ? typeAt(e.layouts(file), params.position) : null;
      if (!typeName) return { uri, typeName: null, report: null, message: 'No struct or union at the cursor.' };
    }
    let report: LayoutReport;
    try {
      report = e.layouts(file, [typeName]);
    } catch (err) {
      if (err instanceof UsageError) return { uri, typeName, report: null, message: err.message };
      throw err;
    }
    const response: LayoutResponse = { uri, typeName, report };
    const doc = open.get(uri);
    if (doc?.base) response.base = await baseLayout(e, doc, typeName);
    return response;
  }

  /**
   * The layout of `typeName` in the base version of `doc`: the base text is laid out as a
   * sibling overlay document (same folder, so its includes resolve the same way), then dropped.
   */
  async function baseLayout(e: AnalysisService, doc: OpenDoc, typeName: string): Promise<LayoutResponse['base']> {
    const base = doc.base!;
    const label = `${base.ref} (${base.commit.slice(0, 12)})`;
    const text = await baseText(baseUri(doc.path, base.commit));
    if (text === null) return { label, report: null, message: 'The base version is not available.' };
    const shadow = path.join(path.dirname(doc.path), `.${path.basename(doc.path, '.h')}.vfio-review-base.h`);
    try {
      e.openDocument(shadow, text, 1);
      return { label, report: e.layouts(shadow, [typeName]) };
    } catch (err) {
      if (err instanceof UsageError) return { label, report: null, message: `Not in ${base.ref}: ${err.message}` };
      throw err;
    } finally {
      try {
        e.closeDocument(shadow);
      } catch {
        // Nothing to undo.
      }
    }
  }

  connection.onShutdown(() => {
    shuttingDown = true;
    idleCollector.dispose();
    patches.dispose();
    for (const doc of open.values()) cancel(doc);
    for (const patch of openPatches.values()) cancelPatch(patch);
    if (engine) {
      try {
        engine.dispose();
      } catch (err) {
        logError('disposing the engine', err);
      }
    }
    engine = undefined;
  });

  documents.listen(connection);
  connection.listen();
}

/** The innermost named type whose lines contain `position` (first ABI of the report). */
function typeAt(report: LayoutReport, position: Position): string | null {
  const first = Object.values(report.arches)[0];
  let best: { name: string; span: number } | null = null;
  for (const t of first?.types ?? []) {
    if (position.line < t.line || position.line > t.endLine) continue;
    const span = t.endLine - t.line;
    if (!best || span < best.span) best = { name: t.name, span };
  }
  return best?.name ?? null;
}

function toTextChange(c: TextDocumentContentChangeEvent): TextChange {
  return 'range' in c && c.range ? { range: c.range, text: c.text } : { text: c.text };
}

function samePath(a: string, b: string): boolean {
  return path.resolve(a) === path.resolve(b);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** initializationOptions may be the settings themselves or `{ vfioReview: {...} }`. */
function settingsFromInitOptions(init: unknown): unknown {
  if (!isObject(init)) return undefined;
  if (isObject(init[SETTINGS_SECTION])) return init[SETTINGS_SECTION];
  // The trust flag travels beside the settings; it is not one of them.
  const { workspaceTrusted: _trust, ...settings } = init;
  return Object.keys(settings).length ? settings : undefined;
}

function mergeSettings(base: unknown, over: unknown): unknown {
  if (!isObject(base)) return over;
  if (!isObject(over)) return over;
  return { ...base, ...over };
}
