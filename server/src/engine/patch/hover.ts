// Hovers on a patch document: on a `+` or context line, what the engine's hover says about that
// line of the patched file (a uapi struct's layout before and after the patch, side by side when
// it changed; the locks held; a flag's meaning); on a `-` line, the same about the old file.
import path from 'node:path';
import { Analyser } from '../analyser';
import type { EngineOptions } from '../api';
import type { HoverResult, Position } from '../types';
import type { PatchReview } from './review';
import type { FilePatch, HunkLine, PatchInput, PatchMail } from './types';

interface LineAt {
  mail: PatchMail;
  file: FilePatch;
  line: HunkLine;
}

/** The diff line at a (0-based) line of the input document. */
export function hunkLineAt(input: PatchInput, docLine: number): LineAt | undefined {
  for (const mail of input.mails) {
    if (docLine < mail.startLine || docLine >= mail.endLine) continue;
    for (const file of mail.files) {
      for (const h of file.hunks) {
        if (docLine < h.headerLine) continue;
        const line = h.lines.find((l) => l.docLine === docLine);
        if (line) return { mail, file, line };
      }
    }
  }
  return undefined;
}

function enclosingTypeHover(analyser: Analyser, file: string, line: number): string | undefined {
  try {
    const report = analyser.layouts(file, [], [analyser.arches[0]]);
    const types = Object.values(report.arches)[0]?.types ?? [];
    const inner = types.filter((t) => t.line <= line && line <= t.endLine).sort((a, b) => b.line - a.line)[0];
    if (!inner || inner.line === line) return undefined;
    return analyser.hover(file, { line: inner.line, character: inner.character })?.contents;
  } catch {
    return undefined;
  }
}

export function patchHover(input: PatchInput, review: PatchReview, position: Position, options: EngineOptions = {}): HoverResult | null {
  const at = hunkLineAt(input, position.line);
  if (!at) return null;
  const oldSide = at.line.kind === '-';
  const rel = oldSide ? at.file.oldPath : at.file.newPath;
  const lineNo = oldSide ? at.line.oldLine : at.line.newLine;
  const reviewed = review.files.find((f) => f.mail === at.mail.index && (f.path === at.file.newPath || f.path === at.file.oldPath));
  const text = oldSide ? reviewed?.before : reviewed?.after;
  if (!rel || !lineNo || text === undefined || !reviewed) return null;
  const file = path.join(review.root, rel);
  const analyser = new Analyser({ ...options, root: review.root });
  try {
    analyser.openDocument(file, text, 1);
    if (!oldSide && reviewed.before !== undefined && reviewed.before !== text) {
      analyser.setBase(file, { text: reviewed.before, label: `${at.file.oldPath ?? rel} before this patch`, location: file });
    }
    // The `+`, `-` or space in front of the line is not in the file.
    const hover = analyser.hover(file, { line: lineNo - 1, character: Math.max(0, position.character - 1) });
    if (!hover) return null;
    // Inside a struct of a uapi header, the whole struct before and after the patch, below.
    const enclosing = analyser.isUapi(file) ? enclosingTypeHover(analyser, file, lineNo - 1) : undefined;
    if (enclosing && enclosing !== hover.contents) hover.contents += `\n\n---\n\n${enclosing}`;
    const note = reviewed.mode === 'hunks' ? '\n\n_From the patch\'s hunks alone: only what is complete in them is known._' : '';
    const sameLine = hover.range.start.line === lineNo - 1 && hover.range.end.line === lineNo - 1;
    return {
      contents: `${hover.contents}${note}`,
      range: sameLine
        ? { start: { line: position.line, character: hover.range.start.character + 1 }, end: { line: position.line, character: hover.range.end.character + 1 } }
        : { start: { line: position.line, character: 0 }, end: { line: position.line, character: at.line.text.length + 1 } },
    };
  } finally {
    analyser.dispose();
  }
}
