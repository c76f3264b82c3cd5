// The "Show Struct Layout" webview: asks the server for a type's layouts (vfioReview/layout) and
// hands them to client/media/layout.js, which draws them. One panel, reused; it follows the
// struct under the cursor and keeps its last picture (with a note) when the document closes.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

// Served by the server (see server/src/server.ts, LAYOUT_REQUEST / LayoutResponse).
export const LAYOUT_REQUEST = 'vfioReview/layout';

/** What the webview script receives (see client/media/layout.js). */
export type ViewMessage =
  | { kind: 'layout'; data: unknown }
  | { kind: 'message'; text: string }
  | { kind: 'closed'; text: string };

export type LayoutRequester = (params: { uri: string; typeName?: string; position?: vscode.Position }) => Promise<unknown>;

const FOLLOW_DELAY_MS = 200;

export class LayoutView implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private shown: { uri: string; typeName: string | null } | undefined;
  private followTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly request: LayoutRequester,
  ) {
    this.disposables.push(
      vscode.window.onDidChangeTextEditorSelection((e) => this.follow(e.textEditor)),
      vscode.workspace.onDidCloseTextDocument((doc) => {
        if (this.panel && this.shown?.uri === doc.uri.toString()) {
          void this.post({ kind: 'closed', text: `${vscode.workspace.asRelativePath(doc.uri)} was closed; this is its layout as last seen.` });
        }
      }),
    );
  }

  /** Shows `typeName` of `uri`, or, without them, the type at the active editor's cursor. */
  async show(typeName?: string, uri?: string): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!uri) {
      if (!editor) {
        void vscode.window.showInformationMessage('VFIO Review: open a header and put the cursor in a struct to see its layout.');
        return;
      }
      uri = editor.document.uri.toString();
    }
    this.reveal();
    const position = typeName ? undefined : editor?.selection.active;
    await this.load({ uri, typeName, position });
  }

  private reveal(): void {
    if (this.panel) {
      this.panel.reveal(undefined, true);
      return;
    }
    const media = vscode.Uri.joinPath(this.extensionUri, 'client', 'media');
    const panel = vscode.window.createWebviewPanel('vfioReview.layout', 'Struct Layout', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true,
      localResourceRoots: [media],
      retainContextWhenHidden: true,
    });
    panel.webview.html = this.html(panel.webview, media);
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.shown = undefined;
    });
    this.panel = panel;
  }

  private follow(editor: vscode.TextEditor): void {
    if (!this.panel || !/\.(h|c)$/i.test(editor.document.uri.path)) return;
    if (this.followTimer) clearTimeout(this.followTimer);
    this.followTimer = setTimeout(() => {
      this.followTimer = undefined;
      void this.load({ uri: editor.document.uri.toString(), position: editor.selection.active }, true);
    }, FOLLOW_DELAY_MS);
  }

  /** `quiet`: a cursor move outside any struct keeps the current picture. */
  private async load(params: { uri: string; typeName?: string; position?: vscode.Position }, quiet = false): Promise<void> {
    let data: { typeName?: string | null; report?: unknown; message?: string } | null;
    try {
      data = (await this.request({
        uri: params.uri,
        typeName: params.typeName,
        position: params.position && { line: params.position.line, character: params.position.character },
      } as Parameters<LayoutRequester>[0])) as typeof data;
    } catch (err) {
      if (!quiet) await this.post({ kind: 'message', text: `The language server did not answer: ${err instanceof Error ? err.message : String(err)}` });
      return;
    }
    if (!this.panel) return;
    if (!data) {
      if (!quiet) await this.post({ kind: 'message', text: 'The language server could not lay this file out; see the VFIO Review output.' });
      return;
    }
    if (!data.typeName) {
      if (!quiet) await this.post({ kind: 'message', text: data.message ?? 'No struct or union at the cursor.' });
      return;
    }
    this.shown = { uri: params.uri, typeName: data.typeName };
    this.panel.title = `Layout: ${data.typeName}`;
    await this.post({ kind: 'layout', data });
  }

  private post(message: ViewMessage): Thenable<boolean> {
    return this.panel ? this.panel.webview.postMessage(message) : Promise.resolve(false);
  }

  private html(webview: vscode.Webview, media: vscode.Uri): string {
    const nonce = randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(media, 'layout.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(media, 'layout.css'));
    const csp = [`default-src 'none'`, `script-src 'nonce-${nonce}'`, `style-src ${webview.cspSource}`, `img-src ${webview.cspSource}`, `font-src ${webview.cspSource}`].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>Struct Layout</title>
</head>
<body>
<div id="note" class="note" hidden></div>
<main id="root"><p class="empty">Put the cursor in a struct or union of a header.</p></main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }

  dispose(): void {
    if (this.followTimer) clearTimeout(this.followTimer);
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
