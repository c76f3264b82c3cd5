// The language server: the only module that knows both LSP and the engine. It keeps the engine's
// document overlay in step with the editor (incremental edits), runs debounced checks whose
// results are dropped once a newer version exists, and turns engine failures into log lines.
import * as path from 'node:path';
import {
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
import type { AnalysisService, CancelToken, EngineOptions, RuleInfo, TextChange } from './engine';
import { SETTINGS_SECTION, defaultSettings, validateSettings, type Settings } from './config';
import { defaultDocsBase, findingsToDiagnostics, hoverToLsp, pathToUri, uriToPath } from './formats/lsp';

export const STATUS_NOTIFICATION = 'vfioReview/status';
export type ServerState = 'starting' | 'ready' | 'error';

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
}

/** Registers every handler on `connection` and starts listening. */
export function startServer(connection: Connection, serverOptions: ServerOptions = {}): void {
  const log = connection.console;
  const docsBase = serverOptions.docsBase ?? defaultDocsBase();
  const makeEngine = serverOptions.createEngine ?? createEngine;

  let settings: Settings = defaultSettings();
  let engine: AnalysisService | undefined;
  let shuttingDown = false;
  let canPullConfiguration = false;
  let initOptionsSettings: unknown;
  let workspaceFolder: string | undefined;
  const reported = new Set<string>();
  const open = new Map<string, OpenDoc>();
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
    if (shuttingDown || !isCheckedDocument(document.uri, document.languageId)) return;
    const doc: OpenDoc = { uri: document.uri, path: uriToPath(document.uri)!, inEngine: false };
    const previous = open.get(document.uri);
    if (previous) cancel(previous);
    open.set(document.uri, doc);
    openInEngine(doc, document.getText(), document.version);
    schedule(doc);
  });

  documents.onDidClose(({ document }) => {
    const doc = open.get(document.uri);
    if (!doc) return;
    cancel(doc);
    open.delete(document.uri);
    if (engine && doc.inEngine) {
      try {
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
    if (doc.token) doc.token.isCancellationRequested = true;
    doc.token = undefined;
  }

  /** (Re)starts the debounce for `doc`; whatever was pending or running for it is superseded. */
  function schedule(doc: OpenDoc, delay = settings.debounceMs): void {
    cancel(doc);
    doc.timer = setTimeout(() => {
      doc.timer = undefined;
      void runCheck(doc);
    }, delay);
  }

  async function runCheck(doc: OpenDoc): Promise<void> {
    const text = documents.get(doc.uri);
    if (!engine || !text || shuttingDown || open.get(doc.uri) !== doc) return;
    if (!doc.inEngine) openInEngine(doc, text.getText(), text.version);
    const version = text.version;
    const token: CancelToken & { isCancellationRequested: boolean } = { isCancellationRequested: false };
    doc.token = token;
    let findings: Awaited<ReturnType<AnalysisService['check']>>;
    try {
      // `await` keeps this correct should check() ever become asynchronous.
      findings = await engine.check(doc.path, token);
    } catch (err) {
      logError(`checking ${doc.path}`, err);
      findings = [];
    }
    // Never publish for a version the editor has moved past, or for a closed document.
    const current = documents.get(doc.uri);
    if (token.isCancellationRequested || open.get(doc.uri) !== doc || !current || current.version !== version) return;
    if (doc.token === token) doc.token = undefined;
    const mine = findings.filter((f) => samePath(f.file, doc.path));
    const diagnostics = findingsToDiagnostics(mine, { docsBase, uriForPath });
    await connection.sendDiagnostics({ uri: doc.uri, version, diagnostics }).catch(() => undefined);
  }

  /** The URI the client used for an open file, so related locations match its editors. */
  function uriForPath(file: string): string {
    for (const doc of open.values()) if (samePath(doc.path, file)) return doc.uri;
    return pathToUri(file);
  }

  function recheckAll(): void {
    for (const doc of open.values()) schedule(doc);
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
    settings = options;
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
    initOptionsSettings = settingsFromInitOptions(params.initializationOptions);
    const folder = params.workspaceFolders?.[0]?.uri ?? params.rootUri ?? undefined;
    workspaceFolder = folder ? uriToPath(folder) : (params.rootPath ?? undefined);
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        hoverProvider: true,
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

  connection.onHover((params) =>
    guarded('hover', null, async () => {
      const doc = open.get(params.textDocument.uri);
      if (!doc) return null;
      const e = await engineReady;
      if (!e || shuttingDown || !doc.inEngine) return null;
      return hoverToLsp(e.hover(doc.path, params.position));
    }),
  );

  connection.onShutdown(() => {
    shuttingDown = true;
    for (const doc of open.values()) cancel(doc);
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
  return isObject(init[SETTINGS_SECTION]) ? init[SETTINGS_SECTION] : init;
}

function mergeSettings(base: unknown, over: unknown): unknown {
  if (!isObject(base)) return over;
  if (!isObject(over)) return over;
  return { ...base, ...over };
}
