// Engine results -> LSP shapes. Pure translation, so it can be tested without a connection.
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CodeActionKind, DiagnosticSeverity, MarkupKind } from 'vscode-languageserver';
import type {
  CodeAction,
  CodeLens,
  Diagnostic,
  DiagnosticRelatedInformation,
  Hover,
  InlayHint as LspInlayHint,
  Range as LspRange,
} from 'vscode-languageserver';
import type { Finding, Fix, HoverResult, Range, Severity } from '../engine/types';
import type { InlayHint, Lens } from '../engine/lenses';

/** The client command a CodeLens runs: arguments are the type name and the document URI. */
export const SHOW_LAYOUT_COMMAND = 'vfioReview.showLayout';

import { ruleDocUrl } from '../engine/rules/rule';
export const DIAGNOSTIC_SOURCE = 'vfio-review';

/** The rule pages shipped with the extension: docs/rules next to dist/. */
export function defaultDocsBase(): string {
  return pathToFileURL(path.join(__dirname, '..', 'docs', 'rules')).href;
}

export function ruleDocUri(rule: string, docsBase: string = defaultDocsBase()): string {
  return ruleDocUrl(docsBase, rule);
}

export function pathToUri(file: string): string {
  return pathToFileURL(file).href;
}

/** The absolute path of a file: URI; undefined for other schemes (untitled:, git:, ...). */
export function uriToPath(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}

export function toLspSeverity(severity: Severity): DiagnosticSeverity {
  switch (severity) {
    case 'error':
      return DiagnosticSeverity.Error;
    case 'warning':
      return DiagnosticSeverity.Warning;
    case 'info':
      return DiagnosticSeverity.Information;
    case 'hint':
      return DiagnosticSeverity.Hint;
    default:
      // A severity this module does not know yet must still show up.
      return DiagnosticSeverity.Warning;
  }
}

export interface DiagnosticOptions {
  docsBase?: string;
  /** URI for a path; lets the server reuse the exact URI the client sent for open documents. */
  uriForPath?: (file: string) => string;
}

export function findingToDiagnostic(finding: Finding, opts: DiagnosticOptions = {}): Diagnostic {
  const uriFor = opts.uriForPath ?? pathToUri;
  const diagnostic: Diagnostic = {
    range: toLspRange(finding.range),
    severity: toLspSeverity(finding.severity),
    source: DIAGNOSTIC_SOURCE,
    code: finding.rule,
    codeDescription: { href: ruleDocUri(finding.rule, opts.docsBase) },
    message: finding.message,
  };
  if (finding.related && finding.related.length > 0) {
    diagnostic.relatedInformation = finding.related.map(
      (r): DiagnosticRelatedInformation => ({
        location: { uri: uriFor(r.file), range: toLspRange(r.range) },
        message: r.message,
      }),
    );
  }
  return diagnostic;
}

export function findingsToDiagnostics(findings: readonly Finding[], opts: DiagnosticOptions = {}): Diagnostic[] {
  return findings.map((f) => findingToDiagnostic(f, opts));
}

export function hoverToLsp(hover: HoverResult | null | undefined): Hover | null {
  if (!hover || !hover.contents) return null;
  return {
    contents: { kind: MarkupKind.Markdown, value: hover.contents },
    range: toLspRange(hover.range),
  };
}

// Both sides are 0-based UTF-16; only guard against negative or fractional values.
function toLspRange(r: Range): LspRange {
  const pos = (p: { line: number; character: number }) => ({
    line: Math.max(0, Math.trunc(p.line)),
    character: Math.max(0, Math.trunc(p.character)),
  });
  return { start: pos(r.start), end: pos(r.end) };
}

/** A quick fix on the document `uri`, with the diagnostic it fixes attached. */
/** A fix as a code action: a quick fix of its finding, or a rewrite when it belongs to none. */
export function fixToCodeAction(finding: Finding | undefined, fix: Fix, uri: string, opts: DiagnosticOptions = {}): CodeAction {
  const action: CodeAction = {
    title: fix.title,
    kind: finding ? CodeActionKind.QuickFix : CodeActionKind.RefactorRewrite,
    ...(finding ? { diagnostics: [findingToDiagnostic(finding, opts)] } : {}),
    edit: { changes: { [uri]: fix.edits.map((e) => ({ range: toLspRange(e.range), newText: e.newText })) } },
  };
  if (fix.preferred) action.isPreferred = true;
  return action;
}

export function lensToLsp(lens: Lens, uri: string): CodeLens {
  return {
    range: toLspRange(lens.range),
    command: { title: lens.title, command: SHOW_LAYOUT_COMMAND, arguments: [lens.typeName, uri] },
  };
}

export function inlayHintToLsp(hint: InlayHint): LspInlayHint {
  return { position: toLspRange({ start: hint.position, end: hint.position }).start, label: hint.label, paddingLeft: false };
}
