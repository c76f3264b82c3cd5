// A worker thread of `vfio-review check --jobs N` (bundled as dist/check-worker.js): it owns one
// engine, and so one parser and one set of caches, and checks the files the CLI hands it one at a
// time, answering each with its findings.
import { parentPort, workerData } from 'node:worker_threads';
import { createEngine } from './engine';
import type { Analyser } from './engine/analyser';
import { FindingsCache } from './engine/cache/findings';
import { lockIRStats } from './engine/cache/lock-ir';
import { awaitChecks, dropParsedTrees } from './engine/analyses/locks';
import { checkFile, type CheckWorkerData, type FromWorker, type ToWorker } from './check-files';

const port = parentPort;
if (!port) throw new Error('check-worker.js runs as a worker thread of the CLI');
const data = workerData as CheckWorkerData;
const send = (message: FromWorker) => port.postMessage(message);

// The listener is attached at once: it keeps the thread alive while the parser's wasm compiles
// (a pending compile alone does not, and the thread would end with exit code 0). Messages that
// arrive before the engine is ready wait in `early`.
const early: ToWorker[] = [];
let handle = (message: ToWorker) => void early.push(message);
port.on('message', (message: ToWorker) => handle(message));

createEngine(data.options).then((service) => {
  const engine = service as Analyser;
  for (const { file, base } of data.bases) engine.setBase(file, base);
  const cache = data.cache ? new FindingsCache(data.cache.dir, data.cache.stamp) : undefined;
  // Trees of index files parsed for the lock analysis wait for their own check (checkFiles).
  awaitChecks(data.files ?? []);
  handle = (message) => {
    if (message.kind === 'check') send({ kind: 'result', result: checkFile(engine, cache, message.file) });
    else if (message.kind === 'config') send({ kind: 'config', problems: engine.configProblems(message.file) });
    else {
      send({ kind: 'stats', stats: cache?.stats, lockIR: lockIRStats() });
      dropParsedTrees();
      engine.dispose();
      port.close();
    }
  };
  for (const message of early.splice(0)) handle(message);
}, (error) => {
  // A failure to start (the parser's wasm missing) ends the thread with an error event in the CLI.
  setImmediate(() => {
    throw error;
  });
});
