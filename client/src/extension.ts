// The VS Code side: starts dist/server.js and shows its state. All analysis is in the server.
import * as vscode from 'vscode';
import {
  LanguageClient,
  RevealOutputChannelOn,
  State,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { LAYOUT_REQUEST, LayoutView } from './layout-view';
import { restartPolicy } from './restart-policy';
import { pickBaseRef } from './base-ref';
import { registerPatchCommands } from './patch-commands';

const CLIENT_ID = 'vfioReview';
const CLIENT_NAME = 'VFIO Review';
// Sent by the server (see server/src/server.ts).
const STATUS_NOTIFICATION = 'vfioReview/status';
// Sent to the server (see server/src/server.ts): trust granted; the text of a base version.
const WORKSPACE_TRUSTED_NOTIFICATION = 'vfioReview/workspaceTrusted';
const BASE_TEXT_REQUEST = 'vfioReview/baseText';
// Related locations of abi-* diagnostics point at the compared version of a header with this
// scheme (`vfio-review-base:<path>?<commit>`); the server reads it from git.
const BASE_SCHEME = 'vfio-review-base';

type ServerState = 'starting' | 'ready' | 'error';

let client: LanguageClient | undefined;
let statusItem: vscode.StatusBarItem | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel(CLIENT_NAME, { log: true });
  context.subscriptions.push(output);

  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.name = CLIENT_NAME;
  statusItem.command = 'vfioReview.showOutput';
  context.subscriptions.push(statusItem);
  showState('starting');
  statusItem.show();

  const policy = restartPolicy(() => showState('error', 'The language server crashed repeatedly and was not restarted.'));
  const serverModule = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.ipc },
    debug: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6009'] } },
  };
  const clientOptions: LanguageClientOptions = {
    // Headers often open as 'cpp'; the pattern catches them whatever their language. The server
    // filters again by extension, so C++ sources are ignored there.
    documentSelector: [
      { scheme: 'file', language: 'c' },
      { scheme: 'file', language: 'cpp' },
      { scheme: 'file', pattern: '**/*.{c,h}' },
      // Patches and patch mails (patch-commands.ts): findings on what each patch introduces.
      { scheme: 'file', language: 'vfio-patch' },
      { scheme: 'file', pattern: '**/*.{patch,diff,mbox,mbx,eml}' },
    ],
    synchronize: { configurationSection: CLIENT_ID },
    // git may only run in a trusted workspace (a repository's config can name programs to run).
    initializationOptions: () => ({ workspaceTrusted: vscode.workspace.isTrusted }),
    outputChannel: output,
    revealOutputChannelOn: RevealOutputChannelOn.Error,
    // A few restarts after a crash, then one message and no more (see restart-policy.ts).
    errorHandler: policy,
  };

  client = new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
  const c = client;
  const layoutView = new LayoutView(context.extensionUri, async (params) => {
    if (!c.isRunning()) throw new Error('the language server is not running');
    return c.sendRequest(LAYOUT_REQUEST, params);
  });
  context.subscriptions.push(
    layoutView,
    // Also run by the CodeLens above each struct, with (type name, document URI).
    vscode.commands.registerCommand('vfioReview.showLayout', (typeName?: unknown, uri?: unknown) =>
      layoutView.show(typeof typeName === 'string' ? typeName : undefined, typeof uri === 'string' ? uri : undefined),
    ),
    vscode.commands.registerCommand('vfioReview.compareWithBase', () => pickBaseRef()),
    registerPatchCommands(c),
    c.onDidChangeState((e) => {
      if (e.newState === State.Starting) showState('starting');
      else if (e.newState === State.Stopped) showState('error', 'The language server stopped.');
      // Running: wait for the server's own 'ready', sent once its engine has loaded.
    }),
    c.onNotification(STATUS_NOTIFICATION, (p: { state?: ServerState; message?: string }) => {
      if (p?.state === 'starting' || p?.state === 'ready' || p?.state === 'error') showState(p.state, p.message);
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      if (c.isRunning()) void c.sendNotification(WORKSPACE_TRUSTED_NOTIFICATION);
    }),
    vscode.workspace.registerTextDocumentContentProvider(BASE_SCHEME, {
      async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
        const text = await c.sendRequest<string | null>(BASE_TEXT_REQUEST, { uri: uri.toString() });
        if (typeof text !== 'string') {
          throw new Error(`VFIO Review: ${uri.path} at ${uri.query.slice(0, 12)} is not available (not in git, or git may not run here).`);
        }
        return text;
      },
    }),
    vscode.commands.registerCommand('vfioReview.showOutput', () => c.outputChannel.show(true)),
    vscode.commands.registerCommand('vfioReview.restartServer', async () => {
      policy.reset();
      showState('starting');
      try {
        if (c.isRunning()) await c.restart();
        else await c.start();
      } catch (err) {
        showState('error', String(err));
        c.outputChannel.show(true);
      }
    }),
  );

  try {
    await c.start();
  } catch (err) {
    showState('error', String(err));
    output.show(true);
  }
}

export async function deactivate(): Promise<void> {
  const c = client;
  client = undefined;
  if (c) await c.stop();
}

function showState(state: ServerState, message?: string): void {
  if (!statusItem) return;
  const icon = state === 'starting' ? '$(sync~spin)' : state === 'ready' ? '$(check)' : '$(error)';
  statusItem.text = `${icon} VFIO Review`;
  const label = state === 'starting' ? 'starting' : state === 'ready' ? 'ready' : 'error';
  statusItem.tooltip = `VFIO Review: ${label}${message ? ` — ${message}` : ''}. Click to show the output.`;
  statusItem.backgroundColor = state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
}
