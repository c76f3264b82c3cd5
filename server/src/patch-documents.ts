// Patch documents in the editor (`.patch`, `.diff`, `.mbox`, `.mbx`, `.eml`, language
// `vfio-patch`): each version is read, applied in memory to the kernel tree and reviewed; the
// findings it introduces go back as diagnostics on the patch's lines. No LSP here: the server
// hands text in and publishes what comes out.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
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

/** Reads and reviews one version of a patch document (here or in the patch worker); the parser must be loaded. */
export function reviewPatchText(file: string, text: string, options: EngineOptions, workspaceFolder: string | undefined, token?: CancelToken): { input: PatchInput; review: PatchReview } {
  const input = readPatchInput(text);
  return { input, review: reviewPatchInput(input, { document: file, documentText: text, tree: treeFor(file, options, workspaceFolder), engine: options, token }) };
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

/** What the server asks its patch worker (patch-worker.ts). */
export interface PatchReviewRequest {
  id: number;
  file: string;
  text: string;
  options: EngineOptions;
  workspaceFolder: string | undefined;
  /** An Int32Array's buffer: set to 1 to cancel. */
  cancel: SharedArrayBuffer;
}

export type PatchReviewResponse =
  | { id: number; input: PatchInput; review: PatchReview }
  | { id: number; cancelled: true }
  | { id: number; error: string };

/** How often a pending review looks whether its token was cancelled, to tell the worker. */
const CANCEL_POLL_MS = 25;

export class PatchDocuments {
  private reviewed = new Map<string, ReviewedDocument>();
  private worker?: Worker;
  private nextId = 1;
  private pending = new Map<number, (response: PatchReviewResponse) => void>();

  /**
   * @param workerScript the patch worker's bundle: reviews run there, off the server's thread;
   * without it (or when it cannot start) they run here.
   */
  constructor(private readonly workerScript?: string) {}

  /**
   * Reviews one version of a patch document; the findings, or undefined when the token cancelled
   * the review. In the worker when there is one, else here (the parser must be loaded).
   */
  async review(file: string, text: string, version: number, options: EngineOptions, workspaceFolder: string | undefined, token?: CancelToken): Promise<PatchFinding[] | undefined> {
    const worker = this.startWorker();
    let done: { input: PatchInput; review: PatchReview } | undefined;
    if (worker) {
      const response = await this.inWorker(worker, { file, text, options, workspaceFolder }, token);
      if ('error' in response) throw new Error(`patch review failed: ${response.error}`);
      if ('review' in response) done = response;
    } else done = reviewPatchText(file, text, options, workspaceFolder, token);
    if (!done || done.review.cancelled) return undefined;
    this.reviewed.set(file, { version, ...done });
    return done.review.findings;
  }

  private startWorker(): Worker | undefined {
    if (this.worker || !this.workerScript || !existsSync(this.workerScript)) return this.worker;
    const worker = new Worker(this.workerScript);
    // A worker that dies answers every pending review with the reason; the next review starts another.
    const fail = (reason: string) => {
      if (this.worker === worker) this.worker = undefined;
      for (const [id, resolve] of this.pending) resolve({ id, error: reason });
      this.pending.clear();
    };
    worker.on('message', (response: PatchReviewResponse) => {
      const resolve = this.pending.get(response.id);
      this.pending.delete(response.id);
      resolve?.(response);
    });
    worker.on('error', (error) => fail(String(error?.stack ?? error)));
    worker.on('exit', (code) => fail(`the patch worker exited (code ${code})`));
    // Not what keeps the server running.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private inWorker(worker: Worker, what: Omit<PatchReviewRequest, 'id' | 'cancel'>, token?: CancelToken): Promise<PatchReviewResponse> {
    const id = this.nextId++;
    const cancel = new SharedArrayBuffer(4);
    const flag = new Int32Array(cancel);
    const poll = token ? setInterval(() => token.isCancellationRequested && Atomics.store(flag, 0, 1), CANCEL_POLL_MS) : undefined;
    return new Promise<PatchReviewResponse>((resolve) => {
      this.pending.set(id, resolve);
      worker.postMessage({ id, cancel, ...what } satisfies PatchReviewRequest);
    }).finally(() => clearInterval(poll));
  }

  /** Stops the worker (the server shuts down). */
  dispose(): void {
    const worker = this.worker;
    this.worker = undefined;
    void worker?.terminate();
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
