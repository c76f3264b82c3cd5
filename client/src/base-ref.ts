// "VFIO Review: Compare with Base…": picks the git revision uapi headers are compared with and
// stores it in the workspace's vfioReview.baseRef (the server re-reads its settings on change).
import * as vscode from 'vscode';

interface RefItem extends vscode.QuickPickItem {
  ref?: string;
  custom?: boolean;
}

const COMMON: RefItem[] = [
  { label: 'HEAD', ref: 'HEAD', description: 'the last commit: uncommitted changes' },
  { label: 'HEAD~1', ref: 'HEAD~1', description: 'the commit before: the last commit and uncommitted changes' },
  { label: '@{upstream}', ref: '@{upstream}', description: 'the branch this one tracks: everything not pushed' },
  { label: 'origin/master', ref: 'origin/master' },
  { label: 'origin/main', ref: 'origin/main' },
];

export async function pickBaseRef(): Promise<void> {
  const config = vscode.workspace.getConfiguration('vfioReview');
  const current = config.get<string>('baseRef') ?? '';
  const items: RefItem[] = [
    ...COMMON.map((i) => (i.ref === current ? { ...i, description: `${i.description ?? ''} (current)`.trim() } : i)),
    { label: 'Other revision…', custom: true, description: 'a tag, branch or commit, e.g. v6.12' },
    { label: 'No comparison', ref: '', description: 'turn the abi-* checks off' },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'Compare uapi headers with', placeHolder: `now: ${current || 'no comparison'}` });
  if (!picked) return;
  let ref = picked.ref;
  if (picked.custom) {
    ref = await vscode.window.showInputBox({
      title: 'Compare uapi headers with the revision',
      value: current,
      validateInput: (v) => (v.trim().startsWith('-') ? 'A revision cannot start with "-"' : /\s/.test(v.trim()) ? 'No spaces' : undefined),
    });
    if (ref === undefined) return;
  }
  if (!vscode.workspace.workspaceFolders?.length) {
    void vscode.window.showWarningMessage('VFIO Review: open a folder to set vfioReview.baseRef for it.');
    return;
  }
  await config.update('baseRef', ref!.trim(), vscode.ConfigurationTarget.Workspace);
}
