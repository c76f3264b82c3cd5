// Entry points of the flag analysis for rules: the flag model of the uapi header being checked
// (from the rule context's own unit), cached per layout engine so the rules share one build.
import type { Analyser } from '../../analyser';
import type { RuleContext } from '../../rules/rule';
import { buildFlagModel, type FlagConfigFacts, type FlagModel } from './model';
import { configFacts, engineOptions } from './project';

const cache = new WeakMap<object, FlagModel>();

/** The flag model of a uapi header under rule: built on the first ABI's unit. */
export function uapiFlagModel(ctx: RuleContext): FlagModel | undefined {
  const first = ctx.models.get(ctx.arches[0]);
  if (!first) return undefined;
  const config = configFacts(ctx.project.root, ctx.project.store, ctx.project.options);
  const key = first.engine;
  const hit = cache.get(key);
  if (hit && (hit as FlagModel & { text?: string }).text === ctx.source.text && (hit as FlagModel & { config?: FlagConfigFacts }).config === config) return hit;
  const model = buildFlagModel({
    file: ctx.file, text: ctx.source.text, directives: ctx.source.directives,
    aggregates: first.model.aggregates, named: first.named, engine: first.engine, config,
  });
  Object.assign(model, { text: ctx.source.text, config });
  cache.set(key, model);
  return model;
}

/** `1 << 31` (or a larger shift) of a plain int literal: the result does not fit in int. */
export function signedShiftIn(body: string): { text: string; shift: number; index: number } | undefined {
  const re = /(?<![\w.])(1|0x1)\s*<<\s*\(?\s*(\d+)\s*\)?/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body))) {
    const n = Number(m[2]);
    if (n >= 31 && n < 64) return { text: `${m[1]} << ${n}`, shift: n, index: m.index };
  }
  return undefined;
}

/** The flag model of a uapi header through the service (tests, hover, tools). */
export function flagModelOf(a: Analyser, file: string): FlagModel {
  const abi = a.arches[0];
  const unit = a.unit(file, abi);
  const src = a.store.read(file);
  return buildFlagModel({
    file, text: src?.text ?? '', directives: src ? a.store.factsOf(src).directives : [],
    aggregates: unit.main.aggregates, named: unit.named, engine: unit.engine,
    config: configFacts(a.rootFor(file), a.store, engineOptions(a)),
  });
}
