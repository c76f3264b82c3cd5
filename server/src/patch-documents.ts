// Patch documents in the editor (`.patch`, `.diff`, `.mbox`, `.mbx`, `.eml`, language
// `vfio-patch`): each version is read, applied in memory to the kernel tree and reviewed; the
// findings it introduces go back as diagnostics on the patch's lines. No LSP here: the server
// hands text in and publishes what comes out.
import path from 'node:path';
import type { CancelToken, EngineOptions, HoverResult, Position } from './engine';
import { readPatchInput } from './engine/patch/read';
import { reviewPatchInput, type PatchFinding, type PatchReview } from './engine/patch/review';
import { patchHover } from './engine/patch/hover';
import { draftReply } from './engine/patch/reply';
import type { PatchInput } from './engine/patch/types';
import { findKernelRoot } from './engine/workspace';

export const PATCH_LANGUAGE_ID = 'vfio-patch';
const PATCH_EXTENSIONS = new Set(['.patch', '.diff', '.mbox', '.mbx', '.eml']);

export function isPatchPath(file: string, languageId?: string): boolean {
  return languageId === PATCH_LANGUAGE_ID || PATCH_EXTENSIONS.has(path.extname(file).toLowerCase());
}

export interface ReviewedDocument {
  version: number;
  input: PatchInput;
  review: PatchReview;
}

export interface DraftedReply {
  text: string;
  /** N of `[PATCH N/M]` (or the mail's position, from 1). */
  patch: number;
  subject: string;
}

/** Where the series applies: the configured root, else the kernel tree around the patch, else around the workspace. */
export function treeFor(file: string, options: EngineOptions, workspaceFolder?: string): string | undefined {
  if (options.root) return path.resolve(options.root);
  return findKernelRoot(path.dirname(file)) ?? (workspaceFolder ? findKernelRoot(workspaceFolder) : undefined);
}

export class PatchDocuments {
  private reviewed = new Map<string, ReviewedDocument>();

  /** Reviews one version of a patch document; the parser must be loaded (the engine is ready). */
  review(file: string, text: string, version: number, options: EngineOptions, workspaceFolder: string | undefined, token?: CancelToken): PatchFinding[] {
    const input = readPatchInput(text);
    const review = reviewPatchInput(input, { document: file, documentText: text, tree: treeFor(file, options, workspaceFolder), engine: options, token });
    if (!review.cancelled) this.reviewed.set(file, { version, input, review });
    return review.findings;
  }

  get(file: string): ReviewedDocument | undefined {
    return this.reviewed.get(file);
  }

  forget(file: string): void {
    this.reviewed.delete(file);
  }

  hover(file: string, position: Position, options: EngineOptions): HoverResult | null {
    const r = this.reviewed.get(file);
    return r ? patchHover(r.input, r.review, position, options) : null;
  }

  /** A reply to the patch whose mail contains `line`; null when the line is in no patch (a cover letter, outside any mail). */
  reply(file: string, line: number, docsBase?: string): DraftedReply | null {
    const r = this.reviewed.get(file);
    if (!r) return null;
    const mail = r.input.mails.find((m) => line >= m.startLine && line < m.endLine && !m.isCover && m.files.length > 0);
    if (!mail) return null;
    return { text: draftReply(mail, r.review.findings, { docsBase }), patch: mail.tag?.number ?? mail.index + 1, subject: mail.subject };
  }
}
