// A small LSP client for tests: spawns a server over stdio, speaks real JSON-RPC to it, records
// what the server sends, and always kills the child in the end (also when a test fails).
//
//   const client = await startLspClient({ args: ['dist/server.js', '--stdio'], settings });
//   t.after(() => client.close());
//   await client.initialize({ workspaceFolders: [folder] });
//   const d = await client.waitForDiagnostics(uri, (p) => p.diagnostics.length > 0);
//
// Importing this module has no side effects (node --test also runs files under test/).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { crashBacktrace } from './crash-report.mjs';
import { pathToFileURL } from 'node:url';
import { StreamMessageReader, StreamMessageWriter, createProtocolConnection } from 'vscode-languageserver-protocol/node';

export const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

export function fileUri(file) {
  return pathToFileURL(file).href;
}

const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * Starts a server process. Options:
 *  - command (default: this node), args, cwd (default: repo root), env
 *  - settings: answer to workspace/configuration for section 'vfioReview' (change with setSettings)
 */
export async function startLspClient(options = {}) {
  const command = options.command ?? process.execPath;
  const args = options.args ?? [path.join(repoRoot, 'dist', 'server.js'), '--stdio'];
  const cwd = options.cwd ?? repoRoot;
  const started = Date.now();
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...(options.env ?? {}) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new LspClient(child, { ...options, cwd, started });
}

export class LspClient {
  constructor(child, options) {
    this.child = child;
    this.settings = options.settings ?? {};
    this.stderr = '';
    /** Every notification from the server, in order: { method, params }. */
    this.notifications = [];
    /** Every request from the server: { method, params }. */
    this.serverRequests = [];
    this.listeners = new Set();
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
    });
    this.exitStatus = undefined;
    this.exited.then((s) => {
      this.exitStatus = s;
      // A crash (not the SIGKILL of shutdown below) says which signal, with a backtrace from its core.
      if (s.signal && s.signal !== 'SIGKILL') this.stderr += `[test harness: the server was ended by ${s.signal}]\n${options.cwd ? crashBacktrace(options.cwd, options.started ?? 0) : ''}`;
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      // Keep the tail only: enough to explain a failure.
      this.stderr = (this.stderr + chunk).slice(-20_000);
    });
    // A write after the child died must not take the test process down.
    child.stdin.on('error', () => undefined);

    this.connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    this.connection.onError(() => undefined);
    this.connection.onNotification((method, params) => {
      const n = { method, params };
      this.notifications.push(n);
      for (const l of [...this.listeners]) l(n);
    });
    this.connection.onRequest((method, params) => {
      this.serverRequests.push({ method, params });
      switch (method) {
        case 'workspace/configuration':
          return (params?.items ?? []).map((item) => (item.section === 'vfioReview' ? this.settings : null));
        default:
          // client/registerCapability, window/workDoneProgress/create, window/showMessageRequest, ...
          return null;
      }
    });
    this.connection.listen();
  }

  /** Sends initialize + initialized. `params` is merged over a minimal InitializeParams. */
  async initialize(params = {}) {
    const folders = (params.workspaceFolders ?? []).map((f) => (typeof f === 'string' ? { uri: fileUri(f), name: path.basename(f) } : f));
    const base = {
      processId: process.pid,
      clientInfo: { name: 'vfio-review-tests' },
      rootUri: folders[0]?.uri ?? null,
      capabilities: {
        workspace: { configuration: true, workspaceFolders: true, didChangeConfiguration: { dynamicRegistration: false } },
        textDocument: {
          synchronization: { dynamicRegistration: false, didSave: false },
          hover: { contentFormat: ['markdown', 'plaintext'] },
          publishDiagnostics: { relatedInformation: true, versionSupport: true, codeDescriptionSupport: true },
        },
        window: { showMessage: {} },
      },
    };
    const result = await this.request('initialize', { ...base, ...params, workspaceFolders: folders });
    this.notify('initialized', {});
    return result;
  }

  /** A request with a timeout; the error names the method. */
  request(method, params, timeoutMs = DEFAULT_TIMEOUT_MS) {
    return withTimeout(this.connection.sendRequest(method, params), timeoutMs, () => `request ${method}`, this);
  }

  notify(method, params) {
    return this.connection.sendNotification(method, params);
  }

  setSettings(settings) {
    this.settings = settings;
  }

  openDocument(uri, languageId, text, version = 1) {
    return this.notify('textDocument/didOpen', { textDocument: { uri, languageId, version, text } });
  }

  /** `changes`: LSP content changes ({ range, text } or { text }). */
  changeDocument(uri, version, changes) {
    return this.notify('textDocument/didChange', { textDocument: { uri, version }, contentChanges: changes });
  }

  closeDocument(uri) {
    return this.notify('textDocument/didClose', { textDocument: { uri } });
  }

  hover(uri, position) {
    return this.request('textDocument/hover', { textDocument: { uri }, position });
  }

  /** All publishDiagnostics params received for `uri`, oldest first. */
  diagnosticsFor(uri) {
    return this.notifications.filter((n) => n.method === 'textDocument/publishDiagnostics' && n.params.uri === uri).map((n) => n.params);
  }

  /**
   * Resolves with the first notification `method` whose params satisfy `predicate`, looking at
   * those received from index `since` on (default: all so far), then at new ones.
   */
  waitForNotification(method, predicate = () => true, { timeoutMs = DEFAULT_TIMEOUT_MS, since = 0 } = {}) {
    const matches = (n) => n.method === method && predicate(n.params);
    const seen = this.notifications.slice(since).find(matches);
    if (seen) return Promise.resolve(seen.params);
    let listener;
    const found = new Promise((resolve) => {
      listener = (n) => {
        if (matches(n)) resolve(n.params);
      };
      this.listeners.add(listener);
    });
    return withTimeout(found, timeoutMs, () => `notification ${method}`, this).finally(() => this.listeners.delete(listener));
  }

  /**
   * Resolves with the params of a publishDiagnostics for `uri` satisfying `predicate`. Only the
   * latest publication already received counts (older ones are superseded), then new ones.
   */
  waitForDiagnostics(uri, predicate = () => true, timeoutMs = DEFAULT_TIMEOUT_MS) {
    const method = 'textDocument/publishDiagnostics';
    const forUri = (p) => p.uri === uri;
    let lastIndex = -1;
    this.notifications.forEach((n, i) => {
      if (n.method === method && forUri(n.params)) lastIndex = i;
    });
    const since = lastIndex < 0 ? this.notifications.length : lastIndex;
    return this.waitForNotification(method, (p) => forUri(p) && predicate(p), { timeoutMs, since }).catch((err) => {
      const last = this.diagnosticsFor(uri).at(-1);
      err.message += `\nlast diagnostics for ${uri}: ${last ? JSON.stringify(summarize(last)) : 'none'}`;
      throw err;
    });
  }

  /**
   * Shuts down politely (shutdown + exit) when the server still runs, then makes sure the child
   * is gone. Resolves with the exit status. Safe to call more than once.
   */
  async close({ timeoutMs = 3000 } = {}) {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      try {
        if (this.exitStatus === undefined) {
          await this.request('shutdown', undefined, timeoutMs);
          await this.notify('exit');
          await withTimeout(this.exited, timeoutMs, () => 'exit after shutdown', this);
        }
      } catch {
        // Falls through to the kill below; the caller sees a non-zero status or a signal.
      } finally {
        if (this.exitStatus === undefined) this.child.kill('SIGKILL');
        this.connection.dispose();
      }
      return this.exited;
    })();
    return this.closing;
  }
}

/** Compact form of a publishDiagnostics for failure messages. */
export function summarize(params) {
  return {
    version: params.version,
    diagnostics: params.diagnostics.map((d) => `${d.code}@${d.range.start.line}:${d.range.start.character}`),
  };
}

function withTimeout(promise, ms, what, client) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const logs = client.notifications
        .filter((n) => n.method === 'window/logMessage')
        .slice(-10)
        .map((n) => `  ${n.params.message}`)
        .join('\n');
      const tail = client.stderr.trim() ? `\nserver stderr (tail):\n${client.stderr.slice(-2000)}` : '';
      reject(new Error(`timed out after ${ms} ms waiting for ${what()}${logs ? `\nserver log (tail):\n${logs}` : ''}${tail}`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
