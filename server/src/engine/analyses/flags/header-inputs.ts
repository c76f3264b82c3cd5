// What a uapi header's flag model was built from, in a form a later process can check without
// preprocessing again (cache/flag-models.ts): the content hash of every file its unit read, and
// where each `#include` of those files resolves. The unit is a function of those texts, those
// resolutions and the ABI's predefined macros (the slot), so when all of them are as recorded the
// model is the one that would be built. Every include of a file counts, active or not (a
// superset: cheaper than knowing which branch was taken, and it can only miss more).
import type { FlagModelInputs } from '../../cache/flag-models';
import { resolveInclude, type IncludeContext, type SourceStore } from '../../workspace';

/** The inputs of a unit that read `files` (path -> hash); undefined when one of them changed meanwhile. */
export function headerInputs(files: Map<string, string>, store: SourceStore, include: IncludeContext): FlagModelInputs | undefined {
  const includes: FlagModelInputs['includes'] = [];
  const seen = new Set<string>();
  for (const [file, hash] of files) {
    const src = store.read(file);
    if (!src || src.hash !== hash) return undefined;
    for (const d of store.factsOf(src).directives) {
      if (d.kind !== 'include' || !d.includePath) continue;
      const angled = !!d.angled;
      const key = `${file}\0${d.includePath}\0${angled}`;
      if (seen.has(key)) continue;
      seen.add(key);
      includes.push([file, d.includePath, angled, resolveInclude(file, d.includePath, angled, include, store) ?? null]);
    }
  }
  return { files: [...files], includes };
}

/** Whether every file still has its hash and every include still resolves where it did. */
export function headerInputsHold(inputs: FlagModelInputs, store: SourceStore, include: IncludeContext): boolean {
  for (const [file, hash] of inputs.files) if (store.read(file)?.hash !== hash) return false;
  for (const [from, spec, angled, target] of inputs.includes) if (resolvedNow(from, spec, angled, include, store) !== target) return false;
  return true;
}

// The headers a C file reaches share most of their closure (linux/types.h and its family): each
// of their includes is resolved once for all of them. An answer stands for as long as the
// include resolution's own memory of the disk (two seconds), and until an overlay is set or cleared.
const RESOLVED_MS = 2000;
const resolved = new WeakMap<SourceStore, { at: number; generation: number; context: string; answers: Map<string, string | null> }>();

function resolvedNow(from: string, spec: string, angled: boolean, include: IncludeContext, store: SourceStore): string | null {
  const context = JSON.stringify([include.root ?? null, include.abi.name, include.uapi, include.extra]);
  let memo = resolved.get(store);
  const now = Date.now();
  if (!memo || memo.context !== context || memo.generation !== store.generation || now - memo.at > RESOLVED_MS) {
    resolved.set(store, (memo = { at: now, generation: store.generation, context, answers: new Map() }));
  }
  const key = `${from}\0${spec}\0${angled}`;
  let answer = memo.answers.get(key);
  if (answer === undefined) memo.answers.set(key, (answer = resolveInclude(from, spec, angled, include, store) ?? null));
  return answer;
}

/** Whether any input is an editor's buffer or a patched text: such one-off versions are not kept. */
export function readsOpenText(files: Map<string, string>, store: SourceStore): boolean {
  for (const file of files.keys()) if (store.isOpen(file)) return true;
  return false;
}
