// Project-level facts for the flag analysis: the configuration file's declarations, loaded through
// the engine's source store (so an open, unsaved .vfio-review.json counts) and cached by content.
// Not read at all when the front end says the tree is untrusted (EngineOptions.readProjectConfig):
// like its rules and ignore sections, a stranger's file must not change what is reported.
import path from 'node:path';
import type { Analyser } from '../../analyser';
import type { EngineOptions } from '../../api';
import type { SourceStore } from '../../workspace';
import { loadProjectConfig } from '../../config-file';
import type { FlagConfigFacts } from './model';

const cache = new Map<string, { hash: string; facts: FlagConfigFacts | undefined }>();

export function configFacts(root: string | undefined, store: SourceStore, options: Pick<EngineOptions, 'readProjectConfig'>): FlagConfigFacts | undefined {
  if (!root || options.readProjectConfig === false) return undefined;
  const file = path.join(root, '.vfio-review.json');
  const src = store.read(file);
  if (!src) return undefined;
  const hit = cache.get(file);
  if (hit && hit.hash === src.hash) return hit.facts;
  const loaded = loadProjectConfig(root, store);
  const c = loaded.config;
  const facts: FlagConfigFacts | undefined = c ? {
    file,
    bindings: Object.entries(c.flags?.bindings ?? {}).map(([macro, field]) => ({ macro, field })),
    dependencies: Object.entries(c.flags?.dependencies ?? {}).flatMap(([flag, req]) => (Array.isArray(req) ? req : [req]).map((requires) => ({ flag, requires }))),
    discriminants: (c.unions?.discriminants ?? []).map((d) => ({ union: d.union, member: d.member, flag: d.flag, field: d.field, when: d.when ?? 'set' })),
  } : undefined;
  cache.set(file, { hash: src.hash, facts });
  return facts;
}

/** The options an Analyser was created (or last configured) with; private to it, read here only. */
export function engineOptions(a: Analyser): EngineOptions {
  return a['options'];
}
