// "Review Patch File…" and "Draft Review Reply": the editor side of patch review. The server finds
// what a patch introduces (diagnostics on its + lines) and writes the reply; this file only opens
// files and shows text. Nothing is ever mailed from the editor.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';

/** The language of patches and patch mails (package.json contributes.languages). */
export const PATCH_LANGUAGE = 'vfio-patch';

/** Extensions the open dialog offers; the same as the language's in package.json. */
export const PATCH_EXTENSIONS = ['patch', 'diff', 'mbox', 'mbx', 'eml'];

/** Served by the server (the other end is server/src/server.ts): a reply to one patch of the file. */
export const DRAFT_REPLY_REQUEST = 'vfioReview/draftReply';

export interface DraftReplyParams {
  /** The patch file's URI, as the client sent it in didOpen. */
  uri: string;
  /** 0-based line of the cursor: the patch containing it is the one replied to. */
  line: number;
}

/** The server's answer; null when no patch contains the line. */
export interface DraftReplyResult {
  text: string;
  patch: number;
  subject: string;
}

export function registerPatchCommands(client: LanguageClient): vscode.Disposable {
  return vscode.Disposable.from(
    // From the palette: an open dialog; from the explorer's context menu: the clicked file.
    vscode.commands.registerCommand('vfioReview.reviewPatchFile', async (uri?: unknown) => {
      const target = uri instanceof vscode.Uri ? uri : await pickPatchFile();
      if (target) await openAsPatch(target);
    }),
    // From the palette: the active editor; from the editor title bar: the editor's file.
    vscode.commands.registerCommand('vfioReview.draftReply', (uri?: unknown) => draftReply(client, uri instanceof vscode.Uri ? uri : undefined)),
  );
}

async function pickPatchFile(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title: 'Review a patch, a series or a mail',
    openLabel: 'Review',
    canSelectMany: false,
    canSelectFolders: false,
    filters: { 'Patches and mail': PATCH_EXTENSIONS, 'All files': ['*'] },
  });
  return picked?.[0];
}

/**
 * Opens the file as a vfio-patch document, so that the server analyses it and publishes what each
 * patch introduces. VS Code may have picked its own `diff` language for .patch and .diff.
 */
async function openAsPatch(uri: vscode.Uri): Promise<void> {
  try {
    let document = await vscode.workspace.openTextDocument(uri);
    if (document.languageId !== PATCH_LANGUAGE) document = await vscode.languages.setTextDocumentLanguage(document, PATCH_LANGUAGE);
    await vscode.window.showTextDocument(document, { preview: false });
  } catch (err) {
    void vscode.window.showErrorMessage(`VFIO Review: cannot open ${uri.fsPath || uri.toString()} as a patch: ${errorText(err)}`);
  }
}

async function draftReply(client: LanguageClient, uri: vscode.Uri | undefined): Promise<void> {
  const editor = (uri && vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri.toString())) || vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== PATCH_LANGUAGE) {
    void vscode.window.showInformationMessage('VFIO Review: open a patch (.patch, .mbx, .eml…) with VFIO Review: Review Patch File…, put the cursor in the patch to answer, then draft the reply.');
    return;
  }
  if (!client.isRunning()) {
    void vscode.window.showErrorMessage('VFIO Review: the language server is not running (VFIO Review: Restart Server starts it).');
    return;
  }
  const params: DraftReplyParams = { uri: editor.document.uri.toString(), line: editor.selection.active.line };
  let reply: DraftReplyResult | null;
  try {
    reply = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'VFIO Review: drafting the reply' }, () =>
      client.sendRequest<DraftReplyResult | null>(DRAFT_REPLY_REQUEST, params),
    );
  } catch (err) {
    void vscode.window.showErrorMessage(`VFIO Review: could not draft the reply: ${errorText(err)}`);
    return;
  }
  if (!reply || typeof reply.text !== 'string') {
    void vscode.window.showInformationMessage(`VFIO Review: no patch at line ${params.line + 1}. Put the cursor in the mail or the diff of the patch to answer.`);
    return;
  }
  // An untitled document: the server only analyses files, and nothing leaves the editor unless the
  // reviewer copies it out. In vfio-patch so that headers and quotes are coloured.
  const draft = await vscode.workspace.openTextDocument({ language: PATCH_LANGUAGE, content: reply.text });
  await vscode.window.showTextDocument(draft, { viewColumn: vscode.ViewColumn.Beside, preview: false });
  const subject = typeof reply.subject === 'string' && reply.subject ? `"${reply.subject}"` : `patch ${reply.patch}`;
  void vscode.window.showInformationMessage(
    `VFIO Review: reply to ${subject} drafted beside it. Nothing is sent from the editor: edit it, then send it with your own mail client.`,
  );
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
