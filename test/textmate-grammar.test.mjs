// The patch-mail grammar (syntaxes/vfio-patch.tmLanguage.json) tokenized as VS Code does it, with
// vscode-textmate and the Oniguruma wasm, on a b4 series, a saved reply and a plain git diff; and
// the manifest entries that make VS Code use it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const textmate = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = path.join(repo, 'test/fixtures/patch/grammar');
const manifest = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8'));
const grammarEntry = manifest.contributes.grammars.find((g) => g.language === 'vfio-patch');
const grammarPath = path.join(repo, grammarEntry?.path ?? 'syntaxes/vfio-patch.tmLanguage.json');

let grammarPromise;
function loadGrammar() {
  grammarPromise ??= (async () => {
    const wasm = readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    const registry = new textmate.Registry({
      onigLib: Promise.resolve({
        createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
        createOnigString: (text) => new oniguruma.OnigString(text),
      }),
      loadGrammar: async (scopeName) =>
        scopeName === 'source.vfio-patch' ? textmate.parseRawGrammar(readFileSync(grammarPath, 'utf8'), grammarPath) : null,
    });
    return registry.loadGrammar('source.vfio-patch');
  })();
  return grammarPromise;
}

/** Every line of a fixture with its tokens: { text, tokens: [{ text, start, end, scopes }] }. */
async function tokenizeFixture(name) {
  return tokenize(readFileSync(path.join(fixtures, name), 'utf8'));
}

async function tokenize(content) {
  const grammar = await loadGrammar();
  let stack = textmate.INITIAL;
  return content.split('\n').map((text) => {
    const r = grammar.tokenizeLine(text, stack);
    stack = r.ruleStack;
    const tokens = r.tokens.map((t) => ({ text: text.slice(t.startIndex, t.endIndex), start: t.startIndex, end: t.endIndex, scopes: t.scopes }));
    return { text, tokens };
  });
}

/** The nth (0-based) line equal to `line`. */
function findLine(lines, line, nth = 0) {
  const found = lines.filter((l) => l.text === line);
  assert.ok(found.length > nth, `no line ${JSON.stringify(line)} (#${nth})`);
  return found[nth];
}

/** The scopes every character of `fragment` (first occurrence in the line) has in common. */
function scopesAt(line, fragment) {
  const start = line.text.indexOf(fragment);
  assert.ok(start >= 0, `${JSON.stringify(fragment)} not in ${JSON.stringify(line.text)}`);
  const end = start + fragment.length;
  const covering = line.tokens.filter((t) => t.end > start && t.start < end);
  return covering.map((t) => t.scopes).reduce((common, scopes) => common.filter((s) => scopes.includes(s)));
}

/** Asserts that every character of `fragment` in `line` has each of `expected` among its scopes. */
function assertScopes(line, fragment, ...expected) {
  const scopes = scopesAt(line, fragment);
  for (const scope of expected) assert.ok(scopes.includes(scope), `${JSON.stringify(fragment)} in ${JSON.stringify(line.text)}: ${scope} not in [${scopes.join(', ')}]`);
}

/** Asserts that no character of the line has a scope starting with one of `prefixes`. */
function assertNoScope(line, ...prefixes) {
  for (const t of line.tokens) {
    for (const s of t.scopes) {
      assert.ok(!prefixes.some((p) => s.startsWith(p)), `${JSON.stringify(t.text)} in ${JSON.stringify(line.text)} has ${s}`);
    }
  }
}

const SERIES = 'v6_20250311_yi_l_liu_vfio_reset_info.mbx';

test('the grammar is valid JSON with its scope name, and package.json contributes it with the language', () => {
  assert.ok(grammarEntry, 'package.json contributes.grammars has no vfio-patch entry');
  assert.equal(grammarEntry.scopeName, 'source.vfio-patch');
  assert.equal(grammarEntry.path, './syntaxes/vfio-patch.tmLanguage.json');
  const grammar = JSON.parse(readFileSync(grammarPath, 'utf8'));
  assert.equal(grammar.scopeName, 'source.vfio-patch');
  // Every #name a pattern includes is in the repository (a typo would silently colour nothing).
  const includes = [...JSON.stringify(grammar).matchAll(/"include":"#([^"]+)"/g)].map((m) => m[1]);
  assert.ok(includes.length > 10);
  for (const name of includes) assert.ok(grammar.repository[name], `#${name} is included but not defined`);

  const language = manifest.contributes.languages.find((l) => l.id === 'vfio-patch');
  assert.ok(language, 'package.json contributes.languages has no vfio-patch');
  assert.deepEqual(language.aliases, ['VFIO Patch', 'Patch mail']);
  for (const ext of ['.patch', '.diff', '.mbox', '.eml']) assert.ok(language.extensions.includes(ext), ext);
  assert.ok(language.filenamePatterns.includes('*.mbx'));
  const configuration = path.join(repo, language.configuration);
  assert.ok(existsSync(configuration), language.configuration);
  assert.deepEqual(JSON.parse(readFileSync(configuration, 'utf8')).brackets, [], 'no bracket pairs across unbalanced hunks');
  assert.ok(manifest.activationEvents.includes('onLanguage:vfio-patch'));

  // vsce packages only what .vscodeignore lets through: the grammar and configuration must be.
  const ignore = readFileSync(path.join(repo, '.vscodeignore'), 'utf8').split('\n');
  assert.ok(ignore.includes('!syntaxes/**'), '.vscodeignore keeps syntaxes/');
});

test('package.json: the two patch commands, Draft Review Reply only offered in a patch', () => {
  const command = (id) => manifest.contributes.commands.find((c) => c.command === id);
  assert.deepEqual(command('vfioReview.reviewPatchFile'), { command: 'vfioReview.reviewPatchFile', title: 'Review Patch File…', category: 'VFIO Review' });
  assert.equal(command('vfioReview.draftReply')?.title, 'Draft Review Reply');
  assert.equal(command('vfioReview.draftReply')?.category, 'VFIO Review');
  const palette = manifest.contributes.menus.commandPalette.find((m) => m.command === 'vfioReview.draftReply');
  assert.equal(palette?.when, 'editorLangId == vfio-patch');
  const title = manifest.contributes.menus['editor/title'].find((m) => m.command === 'vfioReview.draftReply');
  assert.equal(title?.when, 'editorLangId == vfio-patch');
  // The explorer offers Review Patch File… on exactly the language's file types.
  const explorer = manifest.contributes.menus['explorer/context'].find((m) => m.command === 'vfioReview.reviewPatchFile');
  const [, extnamePattern] = /resourceExtname =~ \/(.+)\/$/.exec(explorer.when) ?? [];
  assert.ok(extnamePattern, explorer.when);
  const language = manifest.contributes.languages.find((l) => l.id === 'vfio-patch');
  for (const ext of language.extensions) assert.match(ext, new RegExp(extnamePattern), ext);
  for (const ext of ['.c', '.h', '.patches', '.txt']) assert.doesNotMatch(ext, new RegExp(extnamePattern), ext);
  // The earlier entries are still there.
  for (const id of ['vfioReview.restartServer', 'vfioReview.showLayout', 'vfioReview.compareWithBase', 'vfioReview.showOutput']) assert.ok(command(id), id);
  assert.ok(manifest.contributes.menus.commandPalette.some((m) => m.command === 'vfioReview.showLayout'));
});

test('mail headers: mbox separator, names and values, the [PATCH] tag of the Subject, addresses, message ids, folded lines', async () => {
  const lines = await tokenizeFixture(SERIES);
  const separator = findLine(lines, 'From git@z Thu Jan  1 00:00:00 1970');
  assertScopes(separator, 'From', 'meta.separator.mbox.vfio-patch', 'keyword.other.mbox-from.vfio-patch');
  assertScopes(separator, 'Thu Jan  1 00:00:00 1970', 'string.unquoted.date.vfio-patch');

  const subject = findLine(lines, 'Subject: [PATCH v6 00/02] vfio: Report the reset capabilities of a device');
  assertScopes(subject, 'Subject', 'meta.header.subject.vfio-patch', 'keyword.other.header-name.vfio-patch');
  assertScopes(subject, '[PATCH v6 00/02]', 'markup.heading.subject.vfio-patch', 'entity.name.tag.patch-prefix.vfio-patch');
  assertScopes(subject, 'vfio: Report the reset', 'markup.heading.subject.vfio-patch');
  assert.ok(!scopesAt(subject, 'vfio: Report').includes('entity.name.tag.patch-prefix.vfio-patch'), 'the tag scope ends with the ]');

  // A reply's Subject: the RE: prefix, then the tag; its folded second line is still the subject.
  const reply = findLine(lines, 'Subject: RE: [PATCH v6 02/02] vfio/pci: Report the reset capabilities of a');
  assertScopes(reply, 'RE: ', 'keyword.other.reply-prefix.vfio-patch');
  assertScopes(reply, '[PATCH v6 02/02]', 'entity.name.tag.patch-prefix.vfio-patch');
  assertScopes(findLine(lines, ' device', 1), 'device', 'meta.header.subject.vfio-patch', 'markup.heading.subject.vfio-patch');

  const from = findLine(lines, 'From: Yi Liu <yi.l.liu@example.org>');
  assertScopes(from, 'From', 'meta.header.from.vfio-patch', 'keyword.other.header-name.vfio-patch');
  assertScopes(from, 'Yi Liu', 'string.unquoted.address.vfio-patch');
  assertScopes(from, '<yi.l.liu@example.org>', 'constant.other.email.vfio-patch');
  // To: folded onto a second line; the continuation keeps the To: scopes.
  assertScopes(findLine(lines, 'To: alex.williamson@example.org,'), 'alex.williamson@example.org', 'meta.header.to.vfio-patch', 'constant.other.email.vfio-patch');
  assertScopes(findLine(lines, ' jgg@example.org'), 'jgg@example.org', 'meta.header.to.vfio-patch', 'constant.other.email.vfio-patch');
  const cc = findLine(lines, 'Cc: kevin.tian@example.org, kvm@vger.kernel.org');
  assertScopes(cc, 'Cc', 'meta.header.cc.vfio-patch', 'keyword.other.header-name.vfio-patch');
  assertScopes(cc, 'kvm@vger.kernel.org', 'constant.other.email.vfio-patch');

  assertScopes(findLine(lines, 'Message-Id: <20250311120500.4242-1-yi.l.liu@example.org>'), '<20250311120500.4242-1-yi.l.liu@example.org>', 'meta.header.message-id.vfio-patch', 'constant.other.message-id.vfio-patch');
  const inReplyTo = findLine(lines, 'In-Reply-To: <20250311120500.4242-1-yi.l.liu@example.org>');
  assertScopes(inReplyTo, 'In-Reply-To', 'meta.header.in-reply-to.vfio-patch', 'keyword.other.header-name.vfio-patch');
  assertScopes(inReplyTo, '<20250311120500.4242-1-yi.l.liu@example.org>', 'constant.other.message-id.vfio-patch');
  assertScopes(findLine(lines, ' <20250311120500.4242-3-yi.l.liu@example.org>'), '<20250311', 'meta.header.references.vfio-patch', 'constant.other.message-id.vfio-patch');
  assertScopes(findLine(lines, 'Date: Tue, 11 Mar 2025 05:05:00 -0700'), '11 Mar 2025', 'string.unquoted.header-value.vfio-patch');
});

test('commit message: trailers are coloured, prose that looks like a diff or a separator is not', async () => {
  const lines = await tokenizeFixture(SERIES);
  const fixes = findLine(lines, 'Fixes: 0123456789ab ("vfio/pci: Add VFIO_DEVICE_PCI_HOT_RESET")');
  assertScopes(fixes, 'Fixes', 'meta.trailer.fixes.vfio-patch', 'keyword.other.trailer.vfio-patch');
  assertScopes(fixes, '0123456789ab', 'constant.other.hash.vfio-patch');
  assertScopes(fixes, '("vfio/pci: Add VFIO_DEVICE_PCI_HOT_RESET")', 'string.quoted.subject.vfio-patch');
  // Cc: in the body is a trailer, not a header.
  const cc = findLine(lines, 'Cc: stable@vger.kernel.org # v6.6+');
  assertScopes(cc, 'Cc', 'meta.trailer.cc.vfio-patch', 'keyword.other.trailer.vfio-patch');
  assertScopes(cc, 'stable@vger.kernel.org', 'constant.other.email.vfio-patch');
  assert.ok(!scopesAt(cc, 'Cc').some((s) => s.startsWith('meta.message-header')));
  assertScopes(findLine(lines, 'Link: https://lore.kernel.org/r/20250101000000.1-1-yi.l.liu@example.org'), 'https://lore.kernel.org/r/', 'meta.trailer.link.vfio-patch', 'markup.underline.link.vfio-patch');
  for (const [line, name, kind] of [
    ['Signed-off-by: Yi Liu <yi.l.liu@example.org>', 'Signed-off-by', 'signed-off-by'],
    ['Suggested-by: Jason Example <jgg@example.org>', 'Suggested-by', 'suggested-by'],
    ['Reported-by: Tester Example <tester@example.org>', 'Reported-by', 'reported-by'],
    ['Tested-by: Tester Example <tester@example.org>', 'Tested-by', 'tested-by'],
    ['Acked-by: Jason Example <jgg@example.org>', 'Acked-by', 'acked-by'],
    ['Reviewed-by: Kevin Example <kevin.tian@example.org>', 'Reviewed-by', 'reviewed-by'],
  ]) {
    const l = findLine(lines, line);
    assertScopes(l, name, `meta.trailer.${kind}.vfio-patch`, 'keyword.other.trailer.vfio-patch');
    assertScopes(l, line.slice(line.indexOf('<')), 'string.unquoted.trailer.vfio-patch', 'constant.other.email.vfio-patch');
  }
  // A list in the cover letter and a paragraph that starts with "From ": plain text.
  for (const line of ['- VFIO_DEVICE_RESET keeps its semantics', '+ the new ioctl is optional', 'From a userspace point of view nothing else changes:', 'Describe how a device can be reset and which dev_set it belongs to.']) {
    assertNoScope(findLine(lines, line), 'markup.', 'meta.', 'keyword.');
  }
});

test('diffstat after --- and in the cover letter; the --- separator; the -- signature', async () => {
  const lines = await tokenizeFixture(SERIES);
  assertScopes(findLine(lines, '---'), '---', 'meta.separator.patch.vfio-patch');
  const stat = findLine(lines, ' drivers/vfio/pci/vfio_pci_core.c        | 22 ++++++++++++++++++++--', 1);
  assertScopes(stat, 'drivers/vfio/pci/vfio_pci_core.c', 'meta.diffstat.file.vfio-patch', 'string.unquoted.path.vfio-patch');
  assertScopes(stat, '22', 'constant.numeric.changes.vfio-patch');
  assertScopes(stat, '++++++++++++++++++++', 'markup.inserted.diff');
  assertScopes(stat, '--', 'markup.deleted.diff');
  const cover = findLine(lines, ' include/uapi/linux/vfio.h               | 18 ++++++++++++++++++');
  assertScopes(cover, 'include/uapi/linux/vfio.h', 'meta.diffstat.file.vfio-patch', 'string.unquoted.path.vfio-patch');
  const summary = findLine(lines, ' 2 files changed, 24 insertions(+), 2 deletions(-)');
  assertScopes(summary, '2 files', 'meta.diffstat.summary.vfio-patch');
  assertScopes(summary, '24', 'markup.inserted.diff');
  assertScopes(summary, '2 deletions', 'meta.diffstat.summary.vfio-patch');
  assertScopes(findLine(lines, ' create mode 100644 tools/testing/selftests/vfio/.gitignore'), 'tools/testing', 'meta.diffstat.mode.vfio-patch', 'string.unquoted.path.vfio-patch');
  // Notes between --- and the diffstat stay text.
  assertNoScope(findLine(lines, 'v6: take the dev_set lock around the id'), 'markup.', 'meta.', 'keyword.');

  const signatures = lines.filter((l) => l.text === '-- ');
  assert.equal(signatures.length, 3);
  for (const l of signatures) assertScopes(l, '--', 'meta.signature.vfio-patch', 'punctuation.separator.signature.vfio-patch');
  const version = lines.filter((l) => l.text === '2.43.0');
  assert.equal(version.length, 3);
  for (const l of version) assertScopes(l, '2.43.0', 'comment.block.signature.vfio-patch');
  // The signature ends at the empty line: the next mbox separator is a separator again.
  const after = lines[lines.indexOf(version[0]) + 2];
  assertScopes(after, 'From', 'meta.separator.mbox.vfio-patch');
});

test('file headers and hunks: a uapi header and a C file, inserted, deleted and context lines, \\ No newline', async () => {
  const lines = await tokenizeFixture(SERIES);
  const diffGit = findLine(lines, 'diff --git a/include/uapi/linux/vfio.h b/include/uapi/linux/vfio.h');
  assertScopes(diffGit, 'diff --git', 'meta.file-diff.vfio-patch', 'meta.diff.header.git.diff');
  assertScopes(findLine(lines, 'index 5a3c2f1d0e9b..8b7e6d4c2a10 100644'), '5a3c2f1d0e9b', 'meta.diff.header.index.diff', 'constant.other.hash.vfio-patch');
  const from = findLine(lines, '--- a/include/uapi/linux/vfio.h');
  assertScopes(from, '---', 'meta.diff.header.from-file.diff', 'punctuation.definition.from-file.diff');
  assertScopes(from, 'a/include/uapi/linux/vfio.h', 'meta.diff.header.from-file.diff');
  assertScopes(findLine(lines, '+++ b/include/uapi/linux/vfio.h'), '+++ b/include', 'meta.diff.header.to-file.diff');
  const hunk = findLine(lines, '@@ -1214,6 +1214,24 @@ struct vfio_device_feature_bus_master {');
  assertScopes(hunk, '@@ -1214,6 +1214,24 @@', 'meta.diff.range.unified.diff');
  assertScopes(hunk, '-1214,6', 'constant.numeric.line-range.from.vfio-patch');
  assertScopes(hunk, '+1214,24', 'constant.numeric.line-range.to.vfio-patch');
  assertScopes(hunk, 'struct vfio_device_feature_bus_master {', 'entity.name.section.vfio-patch');

  // uapi header: the added struct, its kernel-doc and #defines are all inserted lines.
  for (const line of ['+/**', '+ * @argsz: user filled size of this structure', '+struct vfio_device_reset_info {', '+	__u64	dev_set_id;', '+#define VFIO_DEVICE_RESET_INFO_FLR	(1 << 0)', '+']) {
    const l = findLine(lines, line);
    assertScopes(l, line, 'meta.hunk.vfio-patch', 'markup.inserted.diff');
    assertScopes(l, '+', 'punctuation.definition.inserted.diff');
  }
  assertScopes(findLine(lines, ' #define VFIO_DEVICE_FEATURE_BUS_MASTER 10'), '#define', 'meta.line.context.vfio-patch');
  assert.ok(!scopesAt(findLine(lines, ' #define VFIO_DEVICE_FEATURE_BUS_MASTER 10'), '#define').some((s) => s.startsWith('markup.')));
  // Context lines: the hunk's own " /**" and " *" lines, and the empty context line " ".
  assertScopes(findLine(lines, '  *'), '*', 'meta.line.context.vfio-patch');

  // C file: two hunks, deleted then inserted lines, context between.
  assertScopes(findLine(lines, '@@ -1452,8 +1470,10 @@ long vfio_pci_core_ioctl(struct vfio_device *core_vdev, unsigned int cmd,'), 'long vfio_pci_core_ioctl', 'entity.name.section.vfio-patch');
  const removed = findLine(lines, '-	case VFIO_DEVICE_SET_IRQS:');
  assertScopes(removed, '-	case VFIO_DEVICE_SET_IRQS:', 'markup.deleted.diff');
  assertScopes(removed, '-', 'punctuation.definition.deleted.diff');
  assertScopes(findLine(lines, '+	case VFIO_DEVICE_SET_IRQS:'), 'case', 'markup.inserted.diff');
  assertScopes(findLine(lines, '+	mutex_lock(&vdev->vdev.dev_set->lock);'), 'mutex_lock', 'markup.inserted.diff');
  assertScopes(findLine(lines, ' 		return -ENOTTY;'), 'return', 'meta.line.context.vfio-patch');

  // A new file: extended header, /dev/null, and the no-newline marker.
  assertScopes(findLine(lines, 'new file mode 100644'), 'new file mode', 'meta.diff.header.extended.diff');
  assertScopes(findLine(lines, '--- /dev/null'), '/dev/null', 'meta.diff.header.from-file.diff');
  const noNewline = findLine(lines, '\\ No newline at end of file');
  assertScopes(noNewline, 'No newline at end of file', 'comment.line.no-newline.diff');
  assert.ok(!scopesAt(noNewline, 'No newline').some((s) => s.startsWith('markup.')));
});

test('quoted reply: attribution, quote depth 1, 2 (">>" and "> >") and 3, quoted diff lines stay quotes', async () => {
  const lines = await tokenizeFixture(SERIES);
  assertScopes(findLine(lines, 'On Tue, Mar 11, 2025 at 05:05:02AM -0700, Yi Liu wrote:'), 'Yi Liu wrote:', 'comment.line.attribution.vfio-patch');
  const quotedAdd = findLine(lines, '> +	mutex_lock(&vdev->vdev.dev_set->lock);');
  assertScopes(quotedAdd, '> ', 'comment.line.quote.level-1.vfio-patch', 'punctuation.definition.quote.vfio-patch');
  assertScopes(quotedAdd, '+	mutex_lock', 'comment.line.quote.level-1.vfio-patch');
  assert.ok(!scopesAt(quotedAdd, '+	mutex_lock').includes('markup.inserted.diff'));
  assertScopes(findLine(lines, '> @@ -1130,6 +1130,24 @@ static int vfio_pci_ioctl_reset(struct vfio_pci_core_device *vdev,'), '@@', 'comment.line.quote.level-1.vfio-patch');
  assertScopes(findLine(lines, '>> Is this the address of the dev_set?'), 'Is this', 'comment.line.quote.level-2.vfio-patch');
  assertScopes(findLine(lines, '> > Yes, for now.'), 'Yes', 'comment.line.quote.level-2.vfio-patch');
  assertScopes(findLine(lines, '>>> Please do not hand kernel addresses to userspace.'), 'Please', 'comment.line.quote.level-3.vfio-patch');
  assertNoScope(findLine(lines, 'This still hands a kernel address to userspace; use an ida instead.'), 'comment.', 'markup.', 'meta.');
});

test('a saved reply (.eml) whose first line is a header; header-like lines in its body are text', async () => {
  const lines = await tokenizeFixture('re_v6_01_vfio_reset_info.eml');
  assertScopes(lines[0], 'Return-Path', 'meta.message-header.vfio-patch', 'keyword.other.header-name.vfio-patch');
  assertScopes(findLine(lines, '	by smtp.example.org (Postfix) with ESMTPS id 4B1C2D3E4F'), 'smtp.example.org', 'meta.header.other.vfio-patch', 'string.unquoted.header-value.vfio-patch');
  assertScopes(findLine(lines, 'Subject: Re: [PATCH v6 01/02] vfio: Add the VFIO_DEVICE_RESET_INFO uapi'), '[PATCH v6 01/02]', 'entity.name.tag.patch-prefix.vfio-patch');
  assertScopes(findLine(lines, 'From: Jason Example <jgg@example.org>'), '<jgg@example.org>', 'meta.header.from.vfio-patch', 'constant.other.email.vfio-patch');
  assertScopes(findLine(lines, 'Content-Type: text/plain; charset=us-ascii'), 'text/plain', 'string.unquoted.header-value.vfio-patch');
  assertScopes(findLine(lines, '> +#define VFIO_DEVICE_RESET_INFO_FLR	(1 << 0)'), '#define', 'comment.line.quote.level-1.vfio-patch');
  for (const line of ['Subject: the layout is the same on every ABI, good.', 'From here on the flags need a check for unknown bits.', 'Jason']) {
    assertNoScope(findLine(lines, line), 'meta.', 'keyword.', 'markup.', 'comment.');
  }
});

test('a plain git diff: rst underlines and -- in code are removed lines, empty context lines keep the hunk open', async () => {
  const lines = await tokenizeFixture('vfio_pci_config_cleanup.diff');
  assertScopes(lines[0], 'diff --git', 'meta.diff.header.git.diff');
  assertNoScope(lines[0], 'meta.message-header');
  // "-" followed by an rst underline: a removed line, not a file header or signature.
  assertScopes(findLine(lines, '------------------'), '------------------', 'markup.deleted.diff');
  assertScopes(findLine(lines, '+-----------------'), '+-----------------', 'markup.inserted.diff');
  assertScopes(findLine(lines, '-	--vdev->refcnt;'), '--vdev', 'markup.deleted.diff');
  // The empty line (a context line whose space a mailer dropped) does not end the hunk.
  const empty = lines.indexOf(findLine(lines, ''));
  assert.ok(lines[empty].tokens.every((t) => t.scopes.includes('meta.hunk.vfio-patch')));
  assertScopes(lines[empty + 1], '-	if (pdev->is_virtfn)', 'markup.deleted.diff');
  assertScopes(findLine(lines, '+	if (pdev->is_virtfn || !vdev->reset_works)'), '!vdev', 'markup.inserted.diff');
  // Each file starts a new file region; the header hunk without a section is a hunk too.
  const fileHeaders = lines.filter((l) => l.text.startsWith('diff --git '));
  assert.equal(fileHeaders.length, 3);
  for (const l of fileHeaders) assertScopes(l, 'diff --git', 'meta.file-diff.vfio-patch', 'meta.diff.header.git.diff');
  assertScopes(findLine(lines, '@@ -20,3 +20,3 @@'), '@@ -20,3 +20,3 @@', 'meta.diff.range.unified.diff');
  assertScopes(findLine(lines, '+int __must_check vfio_config_init(struct vfio_pci_core_device *vdev);'), '__must_check', 'markup.inserted.diff');
});

test('diffs made by git of one patch mail against another: every hunk line, counted by the @@ header, has its diff scope', async () => {
  // The old and new sides are mails and diffs themselves, so the hunks hold "+-- ", "---- a/...",
  // "+diff --git", "-@@ ..." and "+From git@z ...": only git's line counts say where a hunk ends.
  for (const [from, to] of [
    ['vfio_pci_config_cleanup.diff', SERIES],
    ['re_v6_01_vfio_reset_info.eml', SERIES],
    [SERIES, 'vfio_pci_config_cleanup.diff'],
  ]) {
    const git = spawnSync('git', ['diff', '--no-index', '--no-color', '--no-ext-diff', '-U2', from, to], { cwd: fixtures, encoding: 'utf8' });
    assert.equal(git.status, 1, `git diff --no-index ${from} ${to}: ${git.stderr}`);
    const lines = await tokenize(git.stdout);
    let oldLeft = 0;
    let newLeft = 0;
    const seen = { '+': 0, '-': 0, ' ': 0, '@': 0 };
    for (const line of lines) {
      if (oldLeft > 0 || newLeft > 0) {
        const kind = line.text[0] ?? ' ';
        const scope = { '+': 'markup.inserted.diff', '-': 'markup.deleted.diff', ' ': 'meta.line.context.vfio-patch', '\\': 'comment.line.no-newline.diff' }[kind];
        assert.ok(scope, `${from} -> ${to}: unexpected hunk line ${JSON.stringify(line.text)}`);
        if (line.text) assertScopes(line, line.text, 'meta.hunk.vfio-patch', scope);
        if (kind === '+') newLeft--;
        else if (kind === '-') oldLeft--;
        else if (kind === ' ') (oldLeft--, newLeft--);
        seen[kind]++;
        continue;
      }
      const range = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(line.text);
      if (range) {
        assertScopes(line, '@@', 'meta.diff.range.unified.diff');
        [oldLeft, newLeft] = [range[1] === undefined ? 1 : Number(range[1]), range[2] === undefined ? 1 : Number(range[2])];
        seen['@']++;
      } else if (/^(?:diff --git|index|---|\+\+\+) /.test(line.text)) {
        assert.ok(line.tokens.every((t) => t.scopes.some((s) => s.startsWith('meta.diff.header.'))), `${from} -> ${to}: ${JSON.stringify(line.text)} is not a file header`);
      }
    }
    assert.ok(seen['@'] >= 1 && seen['+'] > 30 && seen['-'] > 20, `${from} -> ${to}: too small a diff to test (${JSON.stringify(seen)})`);
    // The adversarial lines are really there.
    assert.ok(lines.some((l) => l.text === '+-- ' || l.text === '--- '), 'a signature line inside a hunk');
    assert.ok(lines.some((l) => /^[-+]diff --git /.test(l.text)), 'a diff --git line inside a hunk');
  }
});
