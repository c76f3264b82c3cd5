// Runs one in-process fuzz target inside a worker thread, so the harness can stop a call that
// does not return (a synchronous loop in the engine cannot be interrupted from its own thread).
import { parentPort, workerData } from 'node:worker_threads';
import { TARGETS } from './targets.mjs';

// `node --test test/` also loads this file as a test, outside a worker: then it does nothing.
if (parentPort && workerData?.target) {
  const target = TARGETS[workerData.target];
  const env = await target.setup();
  parentPort.on('message', async (message) => {
    if (message.type === 'stop') {
      await target.teardown(env);
      parentPort.postMessage({ type: 'stopped' });
      return;
    }
    try {
      const stats = await target.run({ bytes: Buffer.from(message.bytes), ext: message.ext }, env);
      parentPort.postMessage({ type: 'done', id: message.id, stats: { calls: stats.calls, slowestMs: stats.slowestMs, slowestCall: stats.slowestCall } });
    } catch (error) {
      parentPort.postMessage({ type: 'failed', id: message.id, error: String(error?.stack ?? error) });
    }
  });
  parentPort.postMessage({ type: 'ready', treeRoot: env.tree?.root });
}
