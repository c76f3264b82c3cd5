// The language server's patch reviewer (bundled as dist/patch-worker.js): a worker thread that
// reads a patch document, applies its series to the tree in memory and reviews it, so that a long
// series (seconds of work) never holds up the server's diagnostics and hovers on other files.
// One review at a time, in the order asked; a shared flag cancels the running one between checks.
import { parentPort } from 'node:worker_threads';
import { loadParser } from './engine/parse/parser';
import { reviewPatchText, type PatchReviewRequest, type PatchReviewResponse } from './patch-documents';

const port = parentPort;
if (!port) throw new Error('patch-worker.js runs as a worker thread of the language server');
const send = (message: PatchReviewResponse) => port.postMessage(message);

const ready = loadParser();
let queue = Promise.resolve();

port.on('message', (request: PatchReviewRequest) => {
  queue = queue.then(async () => {
    const cancelled = new Int32Array(request.cancel);
    try {
      await ready;
      const token = { get isCancellationRequested() { return Atomics.load(cancelled, 0) !== 0; } };
      if (token.isCancellationRequested) return send({ id: request.id, cancelled: true });
      send({ id: request.id, ...reviewPatchText(request.file, request.text, request.options, request.workspaceFolder, token) });
    } catch (error) {
      send({ id: request.id, error: String((error as Error)?.stack ?? error) });
    }
  });
});
