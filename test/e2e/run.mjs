// End to end in a real VS Code (code-server) driven through Chromium: the packaged extension on
// examples/linux shows its diagnostics in the Problems panel, a member hover with offset and size,
// the CodeLens, the layout webview, and the example series reviewed through Review Patch File…
// and Draft Review Reply. `npm run test:e2e` (downloads go to ~/.cache/vfio-review-e2e,
// see setup.mjs). Skipped under a plain `npm test`, which also runs the files under test/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM, cacheDir, ensureChromium, ensureCodeServer, ensureNode24, packageVsix } from './setup.mjs';
import { installExtension, startCodeServer, writeUserSettings } from './code-server.mjs';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const folder = path.join(repoRoot, 'examples', 'linux');
const header = path.join(folder, 'include', 'uapi', 'linux', 'vfio_example.h');
const mbox = path.join(repoRoot, 'examples', 'patches', 'vfio-example-v2.mbox');
const shots = path.join(repoRoot, 'test', 'e2e', 'screenshots');
const enabled = process.env.VFIO_REVIEW_E2E === '1';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SETTINGS = {
  'vfioReview.arches': ['x86_64', 'i386'],
  'vfioReview.baseRef': '',
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'security.workspace.trust.enabled': false,
  'editor.codeLens': true,
  'editor.hover.delay': 100,
  'window.commandCenter': false,
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

test('VS Code (code-server): diagnostics, hover, CodeLens, layout view', { skip: enabled ? false : 'run with npm run test:e2e', timeout: 30 * 60_000 }, async (t) => {
  const { chromium } = await import('playwright-core');
  const cache = cacheDir();
  ensureChromium();
  const nodeBin = ensureNode24(cache);
  const codeServer = ensureCodeServer(nodeBin, cache);

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'vfio-review-e2e-'));
  const dirs = { userData: path.join(tmp, 'user-data'), extensions: path.join(tmp, 'extensions') };
  mkdirSync(shots, { recursive: true });
  let server;
  let context;
  try {
    const vsix = packageVsix(repoRoot, tmp);
    installExtension(codeServer, nodeBin, vsix, dirs);
    writeUserSettings(dirs.userData, SETTINGS);
    server = await startCodeServer(codeServer, nodeBin, folder, dirs, path.join(shots, 'code-server.log'));

    context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`) });
    try {
      await page.goto(`${server.url}/?folder=${encodeURIComponent(folder)}`);
      await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
      await page.locator('.explorer-folders-view, .explorer-viewlet').first().waitFor({ timeout: 60_000 }).catch(() => undefined);
      await shot('01-workbench');

      // Open the header with Quick Open.
      await page.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } }).catch(() => undefined);
      await page.keyboard.press('Control+P');
      const quickInput = page.locator('.quick-input-widget input');
      await quickInput.waitFor({ timeout: 20_000 });
      // include/linux/vfio_example.h (kernel-internal) exists too: pick the uapi one.
      await quickInput.fill('include/uapi/linux/vfio_example.h');
      const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'include/uapi/linux' }).filter({ hasText: 'vfio_example.h' }).first();
      await row.waitFor({ timeout: 30_000 });
      await row.click();
      await page.locator('.tab', { hasText: 'vfio_example.h' }).first().waitFor({ timeout: 20_000 });
      const editor = page.locator('.editor-instance .monaco-editor').first();
      await editor.waitFor();

      // CodeLens above struct vfio_example_device_info (the extension starts, the server lays it out).
      const lens = page.locator('.codelens-decoration', { hasText: 'size 24 · align 8 · no holes · same on all ABIs' });
      await lens.first().waitFor({ timeout: 90_000 });
      await shot('02-codelens');

      // Problems panel.
      await page.keyboard.press('Control+Shift+M');
      const problems = page.locator('.markers-panel');
      await problems.waitFor({ timeout: 20_000 });
      await page.locator('.markers-panel .monaco-list-row', { hasText: 'uapi-arch-dependent-layout' }).first().waitFor({ timeout: 60_000 });
      // The list is virtual: make the panel tall enough for every finding of the file.
      await runCommand(page, 'View: Toggle Maximized Panel').catch(() => undefined);
      const problemsText = await problems.innerText();
      for (const expected of ['uapi-arch-dependent-layout', 'uapi-implicit-padding', 'uapi-non-fixed-type', 'size is 32 on x86_64', 'flag-out-of-range']) {
        assert.ok(problemsText.includes(expected), `the Problems panel shows ${expected}:\n${problemsText}`);
      }
      await shot('03-problems');
      await runCommand(page, 'View: Toggle Maximized Panel').catch(() => undefined);

      // Hover a member: its offset and size per ABI.
      await runCommand(page, 'View: Hide Panel').catch(() => undefined);
      // Cursor on the member (Go to Line, line:column), then the hover at the cursor.
      const lines = readFileSync(header, 'utf8').split('\n');
      const memberLine = lines.findIndex((l) => /\bnum_regions;/.test(l));
      await page.keyboard.press('Control+G');
      await page.locator('.quick-input-widget input').fill(`:${memberLine + 1}:${visualColumn(lines[memberLine], lines[memberLine].indexOf('num_regions')) + 3}`);
      await page.keyboard.press('Enter');
      await runCommand(page, 'Show or Focus Hover');
      const hover = page.locator('.monaco-hover:not(.hidden)', { hasText: 'num_regions' });
      await hover.first().waitFor({ timeout: 20_000 });
      const hoverText = await hover.first().innerText();
      assert.match(hoverText, /struct vfio_example_device_info/);
      assert.match(hoverText, /offset/);
      assert.match(hoverText, /size/);
      assert.match(hoverText, /x86_64, i386\s+8\s+4\s+4/, `offset 8, size 4, align 4 on both ABIs:\n${hoverText}`);
      await shot('04-hover');
      await page.keyboard.press('Escape');

      // The CodeLens runs vfioReview.showLayout: the webview shows the struct's members.
      await lens.first().locator('a').first().click();
      const view = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
      await view.locator('h1', { hasText: 'struct vfio_example_device_info' }).waitFor({ timeout: 30_000 });
      const members = await view.locator('.box.member .name').allInnerTexts();
      for (const m of ['argsz', 'flags', 'num_regions', 'num_irqs', 'cap_offset']) {
        assert.ok(members.some((x) => x.startsWith(`${m}:`)), `the layout view shows ${m}: ${members}`);
      }
      const tabs = await view.locator('.tab').allInnerTexts();
      assert.deepEqual(tabs, ['x86_64', 'i386']);
      await shot('05-layout-view');

      // The view follows the cursor into struct vfio_example_dma_map: a hole on x86_64, and on
      // i386 (4-byte __u64 alignment) the members after it sit differently.
      const dmaLine = lines.findIndex((l) => l.startsWith('struct vfio_example_dma_map {'));
      await page.keyboard.press('Control+G');
      await page.locator('.quick-input-widget input').fill(`:${dmaLine + 3}`);
      await page.keyboard.press('Enter');
      await view.locator('h1', { hasText: 'struct vfio_example_dma_map' }).waitFor({ timeout: 20_000 });
      assert.ok((await view.locator('.box.hole').count()) >= 1, 'the hole is drawn');
      await view.locator('.tab', { hasText: 'i386' }).click();
      await view.locator('.tab.active', { hasText: 'i386' }).waitFor();
      const differs = await view.locator('.box.member.differs .name').allInnerTexts();
      assert.ok(differs.some((x) => x.startsWith('iova:')), `iova is highlighted on i386: ${differs}`);
      await shot('06-layout-follows-cursor');

      // Closing the header keeps the last picture, with a note saying so.
      const headerTab = page.locator('.tab', { hasText: 'vfio_example.h' }).first();
      await headerTab.hover();
      await headerTab.locator('.tab-actions .action-label').first().click();
      await headerTab.waitFor({ state: 'detached', timeout: 10_000 });
      const closedNote = view.locator('#note', { hasText: 'was closed' });
      await closedNote.waitFor({ timeout: 30_000 });
      assert.equal(await view.locator('h1').innerText(), 'struct vfio_example_dma_map');
      await shot('07-layout-document-closed');

      // Review Patch File…: the example series, picked in VS Code's own file dialog, opens as a
      // patch; the findings its patches introduce land in the Problems panel (the tree is the
      // workspace folder).
      // The command opens VS Code's own file dialog, itself a quick input: type the path there.
      await runCommand(page, 'VFIO Review: Review Patch File…', { waitHidden: false });
      await page.locator('.quick-input-widget', { hasText: 'Review a patch' }).waitFor({ timeout: 10_000 });
      const dialogState = await pickInFileDialog(page, mbox);
      await page.locator('.tab', { hasText: 'vfio-example-v2.mbox' }).first().waitFor({ timeout: 30_000 })
        .catch((err) => { throw new Error(`the series did not open (${dialogState}): ${err.message}`); });
      await page.keyboard.press('Control+Shift+M');
      await page.locator('.markers-panel .monaco-list-row', { hasText: 'lock-not-held' }).first().waitFor({ timeout: 120_000 });
      await runCommand(page, 'View: Toggle Maximized Panel').catch(() => undefined);
      const patchProblems = await page.locator('.markers-panel').innerText();
      for (const expected of ['abi-member-inserted', 'flag-signed-shift', 'lock-not-held', 'union-inactive-member']) {
        assert.ok(patchProblems.includes(expected), `the Problems panel shows ${expected} for the series:\n${patchProblems}`);
      }
      await shot('08-patch-problems');
      await runCommand(page, 'View: Toggle Maximized Panel').catch(() => undefined);
      await runCommand(page, 'View: Hide Panel').catch(() => undefined);

      // Draft Review Reply on patch 3's union write: a new document with the reply.
      const mboxLines = readFileSync(mbox, 'utf8').split('\n');
      const devidLine = mboxLines.findIndex((l) => l.startsWith('+\t\t\tinfo.devid = vfio_example_owner_devid'));
      await page.locator('.tab', { hasText: 'vfio-example-v2.mbox' }).first().click();
      await page.keyboard.press('Control+G');
      await page.locator('.quick-input-widget input').fill(`:${devidLine + 1}`);
      await page.keyboard.press('Enter');
      await runCommand(page, 'VFIO Review: Draft Review Reply');
      const draft = page.locator('.editor-instance .view-lines', { hasText: 'In-Reply-To' });
      await draft.first().waitFor({ timeout: 60_000 });
      const draftText = await draft.first().innerText();
      // The editor renders spaces as no-break spaces: \s matches both.
      assert.match(draftText, /Subject:\sRe:\s\[PATCH\sv2\s3\/3\]/);
      assert.match(draftText, /info\.devid\s=\svfio_example_owner_devid/);
      await shot('09-draft-reply');
    } catch (err) {
      await shot('failure').catch(() => undefined);
      throw err;
    }
  } finally {
    await context?.close().catch(() => undefined);
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
});

/**
 * Types `file` into VS Code's own (simple) file dialog and accepts it. The dialog fills in a folder
 * of its own a moment after it opens, possibly more than once, and lists the folder's entries as
 * the path is typed: wait for its value to settle, type the path until it sticks, then accept.
 */
async function pickInFileDialog(page, file) {
  const input = page.locator('.quick-input-widget input');
  const value = () => input.inputValue().catch(() => '');
  let last = '';
  let stableSince = Date.now();
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await page.waitForTimeout(100)) {
    const now = await value();
    if (now !== last) { last = now; stableSince = Date.now(); }
    else if (now.startsWith('/') && Date.now() - stableSince >= 750) break;
  }
  for (let attempt = 0; attempt < 5 && (await value()) !== file; attempt++) {
    await input.fill(file);
    await page.waitForTimeout(500);
  }
  assert.equal(await value(), file, 'the file dialog took the typed path');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: path.basename(file) }).first();
  // The listing is a convenience: the dialog accepts an existing path typed in full without it.
  const listed = await row.waitFor({ timeout: 10_000 }).then(() => true, () => false);
  // What the dialog showed, for the failure message should the file not open.
  const seen = `dialog value ${JSON.stringify(await value())}, file listed: ${listed}, rows: ${JSON.stringify(
    await page.locator('.quick-input-list .monaco-list-row').allInnerTexts().catch(() => []))}`;
  await page.locator('.quick-input-widget .monaco-button', { hasText: 'Review' }).first().click();
  return seen;
}

/** Runs a command by its title through the command palette (F1). */
async function runCommand(page, title, { waitHidden = true } = {}) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 10_000 });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
  if (waitHidden) await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
}

/** The 0-based column VS Code shows for character `index` of `line` (tabs to stops of 4, as the editor shows). */
function visualColumn(line, index) {
  let col = 0;
  for (const ch of line.slice(0, index)) col = ch === '\t' ? col + 4 - (col % 4) : col + 1;
  return col;
}
