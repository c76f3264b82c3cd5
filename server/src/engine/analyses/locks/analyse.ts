// Held-lock dataflow per function and lock contracts across functions. Each function gets a
// summary: the locks it requires its callers to hold (from lockdep_assert_held*, __must_hold,
// and, transitively, from what its callees require and it does not take), the locks it returns
// holding or releases for its caller, and the calls it makes through function-pointer parameters
// (so a callback's requirement is checked where the iterator is called). Summaries are computed
// to a fixed point; the last round also records what the rules report.
import { forwardDataflow } from '../../cfg/build';
import type { FileIR, FunctionIR, LockEvent, Loc } from './extract';
import { matchHeld, normaliseExpr, pathKey, receiverTypeOf, resolvePath, substitute, type LockPath, type Scope } from './paths';
import { SYNC_ITERATORS } from './primitives';

export interface Requirement {
  /** In the function's own terms: rooted at a parameter or a global, or class-only (root unknown). */
  path: LockPath;
  /** The assertion or annotation at the end of the chain. */
  origin: { at: Loc; text: string; fn: string };
  /** Calls from this function down to the origin's function: callee name and call site. */
  chain: { fn: string; at: Loc }[];
}

export interface Summary {
  requires: Map<string, Requirement>;
  acquires: LockPath[];
  releases: LockPath[];
  /** Calls through function-pointer parameters, with the locks held there (in this function's terms). */
  paramCalls: { index: number; args: string[]; held: LockPath[]; at: Loc }[];
  /** Calls through a field of a parameter (`walk->fn(pdev, walk->data)`: index 1, field `fn`). */
  fieldParamCalls: { index: number; field: string; args: string[]; held: LockPath[]; at: Loc }[];
}

export interface HeldLock {
  path: LockPath;
  at: Loc;
  prim: string;
  scoped: boolean;
  /** Acquired in this function (not asserted, not required by an annotation). */
  local: boolean;
}

interface State {
  held: Map<string, HeldLock>;
  /** Locks this function released (after holding them) and has not taken again: must-set. */
  unlocked: Map<string, Loc>;
  /** Locks released without being held here: the caller's (a release contract). */
  foreign: Map<string, LockPath>;
}

export interface Violation {
  fn: FunctionIR;
  at: Loc;
  /** The lock as the caller names it. */
  lock: LockPath;
  req: Requirement;
  /** The hops from the caller: the callee at `at` first. */
  chain: { fn: string; at: Loc }[];
}

export interface LockFinding {
  kind: 'double-acquire' | 'release-not-held' | 'held-at-return';
  fn: FunctionIR;
  at: Loc;
  lock: LockPath;
  /** Where it was taken (double-acquire, held-at-return) or released (release-not-held). */
  other?: Loc;
}

/** The locks held just before a call (`call` is the callee's name) or a return. */
export interface HeldPoint {
  at: Loc;
  held: HeldLock[];
  call?: string;
  /** The call event's id (FunctionIR.cfg), for analyses that need its callee and arguments. */
  callId?: number;
}

/** A field access with the locks held there (lock-unprotected-access). */
export interface AccessPoint {
  event: Extract<LockEvent, { k: 'access' }>;
  /** `struct vfio_device_set::device_list`, when the base's type is known. */
  cls?: string;
  held: HeldLock[];
}

export interface Program {
  functions: FunctionIR[];
  files: Map<string, FileIR>;
  byName: Map<string, FunctionIR[]>;
  fieldFunctions: Map<string, Set<string>>;
  /** FileIR.fieldFunctionsByType over every file. */
  fieldFunctionsByType: Map<string, Set<string>>;
  structs: Map<string, Map<string, string | undefined>>;
}

export interface AnalysisResult {
  summaries: Map<FunctionIR, Summary>;
  violations: Violation[];
  findings: LockFinding[];
  /** Call sites of lock-requiring functions that were checked against the held locks. */
  checkedCallSites: number;
  /** Held locks before each call / event, per function (for hovers): event location -> held. */
  heldAt: Map<FunctionIR, HeldPoint[]>;
  /** Field accesses of known struct type, per function, with the locks held there. */
  accesses: Map<FunctionIR, AccessPoint[]>;
  /**
   * How the fixed point was reached: rounds, functions analysed, earlier analyses reused, warm
   * start; `againstIndex` when only an outsider file's functions were analysed (analyseOutsider),
   * `wholeProgramBecause` when such a file had to be analysed with the whole program, and why.
   */
  stats?: { rounds: number; analysed: number; reused: number; warm: boolean; againstIndex?: boolean; wholeProgramBecause?: string };
}

export function buildProgram(files: FileIR[]): Program {
  const byName = new Map<string, FunctionIR[]>();
  const fieldFunctions = new Map<string, Set<string>>();
  const fieldFunctionsByType = new Map<string, Set<string>>();
  const structs = new Map<string, Map<string, string | undefined>>();
  const functions: FunctionIR[] = [];
  const merge = (into: Map<string, Set<string>>, from: Map<string, Set<string>>) => {
    for (const [key, set] of from) {
      const all = into.get(key) ?? new Set<string>();
      for (const s of set) all.add(s);
      into.set(key, all);
    }
  };
  for (const f of files) {
    for (const fn of f.functions) {
      functions.push(fn);
      const list = byName.get(fn.name) ?? [];
      list.push(fn);
      byName.set(fn.name, list);
    }
    merge(fieldFunctions, f.fieldFunctions);
    merge(fieldFunctionsByType, f.fieldFunctionsByType);
    for (const [s, fields] of f.structs) {
      const all = structs.get(s) ?? new Map<string, string | undefined>();
      for (const [k, v] of fields) if (!all.has(k) || v) all.set(k, v);
      structs.set(s, all);
    }
  }
  return { functions, files: new Map(files.map((f) => [f.file, f])), byName, fieldFunctions, fieldFunctionsByType, structs };
}

/**
 * The definition a direct call from `from` reaches: its own file's first, then a non-static one,
 * then a static one of a header (a `static inline` helper is in every file that includes it).
 */
export function resolveCallee(p: Program, from: FunctionIR, name: string): FunctionIR | undefined {
  return resolveIn(p, from.file, name);
}

/** resolveCallee for a name written in `file` outside a function (an ops table's initializer). */
export function resolveIn(p: Program, file: string, name: string): FunctionIR | undefined {
  const list = p.byName.get(name);
  if (!list) return undefined;
  // Loops, not find(): every reuse check of every round asks again.
  for (const f of list) if (f.file === file) return f;
  for (const f of list) if (!f.isStatic) return f;
  for (const f of list) if (isHeader(f.file)) return f;
  return undefined;
}

const isHeader = (file: string) => file.endsWith('.h') || file.endsWith('.H');

function scopeOf(p: Program, fn: FunctionIR): Scope {
  return { params: fn.params, aliases: fn.aliases, localTypes: fn.localTypes, globals: p.files.get(fn.file)?.globals ?? new Map(), structs: p.structs };
}

const heldKey = (l: LockPath): string => pathKey(l) ?? `?${l.rest}`;
const ownerKind = (l: LockPath) => (l.root.kind !== 'unknown' ? l.root.kind : l.derivedFrom?.kind ?? 'unknown');

function requirementKey(l: LockPath): string | undefined {
  if (l.root.kind === 'param' || l.root.kind === 'global') return pathKey(l);
  return l.cls ? `class:${l.cls}` : undefined;
}

function emptySummary(): Summary {
  return { requires: new Map(), acquires: [], releases: [], paramCalls: [], fieldParamCalls: [] };
}

function summaryKey(s: Summary): string {
  return [
    [...s.requires.keys()].sort().join(','),
    s.acquires.map(heldKey).sort().join(','),
    s.releases.map(heldKey).sort().join(','),
    s.paramCalls.map((c) => `${c.index}:${c.held.map(heldKey).sort().join('+')}`).join(','),
    s.fieldParamCalls.map((c) => `${c.index}.${c.field}:${c.held.map(heldKey).sort().join('+')}`).join(','),
  ].join('|');
}

/** What analysing one function gives: its summary, what the rules report, the calls it makes. */
interface Analysed {
  summary: Summary;
  violations: Violation[];
  findings: LockFinding[];
  heldAt: HeldPoint[];
  accesses: AccessPoint[];
  checked: Set<string>;
  /** Its direct calls in order, with the lock classes held there (the callees' call sites). */
  calls: { callee: FunctionIR; classes: Set<string> }[];
}

/**
 * Everything analysing a function reads besides the function itself and the program's struct
 * types: how names resolve, the summaries of other functions, its own previous requirements and
 * what its callers hold. Recorded, these reads decide whether an earlier analysis still holds.
 */
interface Reads {
  callee(name: string): FunctionIR | undefined;
  /** `field`, or `type::field` for a call whose receiver's struct type is known (implsKey). */
  fieldImpls(key: string): FunctionIR[];
  summary(f: FunctionIR): Summary;
  ownRequires(): Requirement[];
  /** The summary the function had before this analysis (ownRequires is its requirements). */
  ownSummary(): Summary;
  callersHold(cls: string): boolean;
}

/**
 * The functions a call through an ops-table field can reach. `field`: every function assigned to
 * that field in any initializer of the program. `type::field` (the receiver's struct type known):
 * those assigned to it in initializers of that type, or where the initializer's type is not
 * known; a `.probe = f` of a `struct pci_driver` is no callee of `mdrv->probe(...)` with
 * `struct mdev_driver *mdrv`. Same order as the untyped list.
 */
function fieldImplsOf(p: Program, key: string): FunctionIR[] {
  const sep = key.indexOf('::');
  const field = sep < 0 ? key : key.slice(sep + 2);
  let names = [...(p.fieldFunctions.get(field) ?? [])];
  if (sep >= 0) {
    const typed = p.fieldFunctionsByType.get(key);
    const untyped = p.fieldFunctionsByType.get(`::${field}`);
    names = names.filter((n) => typed?.has(n) || untyped?.has(n));
  }
  return names.map((n) => p.byName.get(n)?.[0]).filter((f): f is FunctionIR => !!f);
}

/** The key of fieldImpls for a call through a field: typed when the receiver's struct type is known. */
function implsKey(callee: { field: string; receiver: string }, scope: Scope): string {
  const type = receiverTypeOf(callee.receiver, scope);
  return type ? `${type}::${callee.field}` : callee.field;
}

function plainReads(p: Program, fn: FunctionIR, summaries: Map<FunctionIR, Summary>, callSites: CallSites): Reads {
  return {
    callee: (name) => resolveCallee(p, fn, name),
    fieldImpls: (key) => fieldImplsOf(p, key),
    summary: (f) => summaries.get(f)!,
    ownRequires: () => [...summaries.get(fn)!.requires.values()],
    ownSummary: () => summaries.get(fn)!,
    callersHold: (cls) => {
      const sites = callSites.get(fn);
      return !!sites?.length && sites.every((s) => s.classes.has(cls));
    },
  };
}

/**
 * The round-based fixed point as first written: every round analyses every function again, until
 * no summary key and no call-site count changes (at most `maxRounds` rounds). A function sees the
 * summaries of the functions before it from this round, of the others from the last one, and its
 * callers' call sites from the last round. Kept as the reference analyseProgram must equal.
 */
export function analyseProgramByRounds(p: Program, maxRounds = 30): AnalysisResult {
  const summaries = new Map<FunctionIR, Summary>(p.functions.map((f) => [f, emptySummary()]));
  let callSites: CallSites = new Map();
  let result: Omit<AnalysisResult, 'summaries'> = { violations: [], findings: [], checkedCallSites: 0, heldAt: new Map(), accesses: new Map() };
  let analysed = 0;
  let rounds = 0;
  for (let round = 0; round < maxRounds; round++) {
    rounds++;
    let changed = false;
    const violations: Violation[] = [];
    const findings: LockFinding[] = [];
    const heldAt = new Map<FunctionIR, HeldPoint[]>();
    const accesses = new Map<FunctionIR, AccessPoint[]>();
    const checked = new Set<string>();
    const nextCallSites: CallSites = new Map();
    for (const fn of p.functions) {
      const r = analyseFunction(p, fn, plainReads(p, fn, summaries, callSites));
      analysed++;
      addCallSites(nextCallSites, fn, r.calls);
      violations.push(...r.violations);
      findings.push(...r.findings);
      heldAt.set(fn, r.heldAt);
      if (r.accesses.length) accesses.set(fn, r.accesses);
      for (const c of r.checked) checked.add(c);
      if (summaryKey(r.summary) !== summaryKey(summaries.get(fn)!)) changed = true;
      summaries.set(fn, r.summary);
    }
    result = { violations, findings, checkedCallSites: checked.size, heldAt, accesses };
    if (!changed && callSitesCount(callSites) === callSitesCount(nextCallSites)) break;
    callSites = nextCallSites;
  }
  return { summaries, ...result, stats: { rounds, analysed, reused: 0, warm: false } };
}

function addCallSites(callSites: CallSites, caller: FunctionIR, calls: Analysed['calls']) {
  for (const { callee, classes } of calls) {
    const list = callSites.get(callee) ?? [];
    list.push({ caller, classes });
    callSites.set(callee, list);
  }
}

// --- Incremental analysis -------------------------------------------------------------------

/** One read of an analysis and its answer then. */
type Read =
  | { k: 'callee'; name: string; out: FunctionIR | undefined }
  /** `key`: a field, or `type::field` (fieldImplsOf). */
  | { k: 'impls'; key: string; out: FunctionIR[] }
  | { k: 'summary'; of: FunctionIR; content: string }
  | { k: 'own'; content: string }
  | { k: 'callers'; cls: string; out: boolean }
  | { k: 'struct'; name: string; content: string };

/** An analysis of a function with the reads it made: it stands wherever those reads answer the same. */
interface Memo extends Analysed {
  reads: Read[];
}

/** The analyses of a finished run, for the next run over a program with some files changed. */
interface WarmState {
  structs: string;
  memos: Map<FunctionIR, Memo[]>;
  /** How the run went round by round, for analyseOutsider. */
  rounds: RoundTrace[];
  /** The call sites the last round read and those it made (whether one more round would change anything). */
  lastRead: CallSites;
  lastMade: CallSites;
}

/** One round of a run: the summaries after it, whether a summary key changed, the call sites it made (callSitesCount). */
interface RoundTrace {
  summaries: Map<FunctionIR, Summary>;
  changed: boolean;
  sites: number;
}

/** A program's struct types that tell which names an analysis looks up (resolvePath through its scope). */
class LookupLog extends Map<string, Map<string, string | undefined>> {
  onLookup: ((name: string) => void) | undefined;
  override get(name: string) {
    this.onLookup?.(name);
    return super.get(name);
  }
  override has(name: string) {
    this.onLookup?.(name);
    return super.has(name);
  }
}

/** `of`, computed once per object while the object lives. */
function perObject<K extends object, V>(of: (k: K) => V): (k: K) => V {
  const known = new WeakMap<K, V>();
  return (k) => {
    let v = known.get(k);
    if (v === undefined) known.set(k, (v = of(k)));
    return v;
  };
}

const fieldsContent = perObject((fields: Map<string, string | undefined>) => contentOf(fields));
const structContent = (fields: Map<string, string | undefined> | undefined): string => (fields ? fieldsContent(fields) : '<none>');

const warmStates = new WeakMap<AnalysisResult, WarmState>();

/**
 * What a later run starting warm from `result` reads (its analyses with their reads, round by
 * round), as opaque plain data: cache/lock-program.ts keeps it on disk with the result and the
 * program, serialised together so that the FunctionIR objects they share stay shared.
 */
export function warmStateOf(result: AnalysisResult): object | undefined {
  return warmStates.get(result);
}

/** Gives a result read back from disk the warm state it was written with (warmStateOf). */
export function adoptWarmState(result: AnalysisResult, state: object): void {
  warmStates.set(result, state as WarmState);
}

/** JSON with Maps, Sets and undefined kept apart, for comparing plain data by content. */
const contentOf = (x: unknown): string =>
  JSON.stringify(x, (_k, v) => (v instanceof Map ? { '<map>': [...v] } : v instanceof Set ? { '<set>': [...v] } : v === undefined ? '<undefined>' : v));

const summaryContent = perObject((s: Summary) => contentOf(s));
const cachedSummaryKey = perObject(summaryKey);
/** Only the paths of a function's own requirements are read by its next analysis. */
const ownContent = perObject((s: Summary) => contentOf([...s.requires.values()].map((r) => r.path)));

/** The same reads, recorded once each (a read answers the same throughout one analysis). */
function recordingReads(plain: Reads, log: Read[]): Reads {
  const callees = new Map<string, FunctionIR | undefined>();
  const impls = new Map<string, FunctionIR[]>();
  const read = new Set<FunctionIR>();
  const callers = new Map<string, boolean>();
  let own: Requirement[] | undefined;
  return {
    callee(name) {
      if (!callees.has(name)) {
        const out = plain.callee(name);
        callees.set(name, out);
        log.push({ k: 'callee', name, out });
      }
      return callees.get(name);
    },
    fieldImpls(key) {
      let out = impls.get(key);
      if (!out) {
        impls.set(key, (out = plain.fieldImpls(key)));
        log.push({ k: 'impls', key, out });
      }
      return out;
    },
    summary(f) {
      const s = plain.summary(f);
      if (!read.has(f)) {
        read.add(f);
        log.push({ k: 'summary', of: f, content: summaryContent(s) });
      }
      return s;
    },
    ownSummary: plain.ownSummary,
    ownRequires() {
      if (!own) {
        own = plain.ownRequires();
        log.push({ k: 'own', content: ownContent(plain.ownSummary()) });
      }
      return own;
    },
    callersHold(cls) {
      let out = callers.get(cls);
      if (out === undefined) {
        callers.set(cls, (out = plain.callersHold(cls)));
        log.push({ k: 'callers', cls, out });
      }
      return out;
    },
  };
}

/** Whether every read of `memo` answers the same now (then analysing again would give `memo`). */
function stillHolds(memo: Memo, now: Reads, summaries: Map<FunctionIR, Summary>, structs: Program['structs']): boolean {
  for (const r of memo.reads) {
    switch (r.k) {
      case 'callee':
        if (now.callee(r.name) !== r.out) return false;
        break;
      case 'impls': {
        const out = now.fieldImpls(r.key);
        if (out.length !== r.out.length || out.some((f, i) => f !== r.out[i])) return false;
        break;
      }
      case 'summary': {
        const s = summaries.get(r.of);
        if (!s || summaryContent(s) !== r.content) return false;
        break;
      }
      case 'own':
        if (ownContent(now.ownSummary()) !== r.content) return false;
        break;
      case 'callers':
        if (now.callersHold(r.cls) !== r.out) return false;
        break;
      case 'struct':
        if (structContent(structs.get(r.name)) !== r.content) return false;
        break;
    }
  }
  return true;
}

export interface AnalyseOptions {
  maxRounds?: number;
  /** The result of an earlier run (over the same or another version of the index) to start from. */
  warm?: AnalysisResult;
  /**
   * Start warm even when the struct types differ from the earlier run's: each analysis kept the
   * struct types it looked up and stands only where those are the same (a file outside the
   * index that declares struct types, analysed with the whole program).
   */
  acrossStructChanges?: boolean;
}

/**
 * The rounds of analyseProgramByRounds, with each function analysed again only when something
 * it read changed: every analysis keeps the answers of its reads (names resolved, summaries read,
 * its own previous requirements, its callers' held classes), and a function whose reads all
 * answer the same as in one of its earlier analyses takes that analysis's result instead. The
 * analysis being a pure function of the function and those reads, the rounds, the summaries and
 * every finding are those of analyseProgramByRounds. With `warm`, the analyses of the earlier run
 * count too: the functions of unchanged files (same FunctionIR objects) whose reads answer the
 * same are not analysed again. A change of the program's struct types starts cold, unless
 * `acrossStructChanges`: then the struct types each analysis looked up are among its reads.
 */
export function analyseProgram(p: Program, options: AnalyseOptions = {}): AnalysisResult {
  const maxRounds = options.maxRounds ?? 30;
  const structs = contentOf(p.structs);
  const before = options.warm ? warmStates.get(options.warm) : undefined;
  const earlier = before && (before.structs === structs || options.acrossStructChanges) ? before.memos : undefined;
  // The analyses read the struct types through a log of the names they look up, kept with
  // each analysis as a read of its own.
  const structLog = new LookupLog(p.structs);
  const view: Program = { ...p, structs: structLog };
  const trace: RoundTrace[] = [];
  let lastRead: CallSites = new Map();
  let lastMade: CallSites = new Map();
  const memos = new Map<FunctionIR, Memo[]>();
  const summaries = new Map<FunctionIR, Summary>(p.functions.map((f) => [f, emptySummary()]));
  let callSites: CallSites = new Map();
  let lastRound: Analysed[] = [];
  let analysed = 0;
  let reused = 0;
  let rounds = 0;
  /** This run's analyses of `fn` (most recent first), then the earlier run's. */
  const reuse = (fn: FunctionIR, now: Reads): Memo | undefined => {
    const mine = memos.get(fn);
    if (mine) for (let i = mine.length - 1; i >= 0; i--) if (stillHolds(mine[i], now, summaries, p.structs)) return mine[i];
    // The earlier run's are only read: another program may start from the same result.
    for (const m of earlier?.get(fn) ?? []) {
      if (mine?.includes(m) || !stillHolds(m, now, summaries, p.structs)) continue;
      memos.set(fn, [...(mine ?? []), m]);
      return m;
    }
    return undefined;
  };
  for (let round = 0; round < maxRounds; round++) {
    rounds++;
    let changed = false;
    const nextCallSites: CallSites = new Map();
    // Only the last round's findings are kept: they are gathered once, after the loop.
    lastRound = [];
    for (const fn of p.functions) {
      const now = plainReads(view, fn, summaries, callSites);
      let r: Analysed | undefined = reuse(fn, now);
      if (r) reused++;
      else {
        const m = analyseRecorded(view, structLog, fn, now);
        analysed++;
        const list = memos.get(fn) ?? [];
        list.push(m);
        memos.set(fn, list);
        r = m;
      }
      lastRound.push(r);
      addCallSites(nextCallSites, fn, r.calls);
      if (cachedSummaryKey(r.summary) !== cachedSummaryKey(summaries.get(fn)!)) changed = true;
      summaries.set(fn, r.summary);
    }
    const sites = callSitesCount(nextCallSites);
    trace.push({ summaries: new Map(summaries), changed, sites });
    lastRead = callSites;
    lastMade = nextCallSites;
    if (!changed && callSitesCount(callSites) === sites) break;
    callSites = nextCallSites;
  }
  const out: AnalysisResult = { summaries, ...reported(p.functions, lastRound), stats: { rounds, analysed, reused, warm: !!earlier } };
  warmStates.set(out, { structs, memos, rounds: trace, lastRead, lastMade });
  return out;
}

// --- A file outside the index, against the index's result ----------------------------------

/** What the index's run read that another file added to the program could answer differently. */
interface IndexReads {
  /** Names the index's functions called (or took as callbacks) that resolved to no function. */
  unresolved: Set<string>;
  /** Ops-table fields the index called through, with the functions it found assigned to each. */
  impls: Map<string, FunctionIR[]>;
  /** Index functions whose analysis asked whether their callers hold a lock class. */
  readCallers: Set<FunctionIR>;
  /** Struct types the index's analyses looked up. */
  structs: Set<string>;
  /** Whether one more round would analyse every index function exactly as the last one did. */
  stable: boolean;
}

const indexReadsCache = new WeakMap<WarmState, IndexReads>();

function indexReadsOf(state: WarmState, p: Program): IndexReads {
  let known = indexReadsCache.get(state);
  if (known) return known;
  const unresolved = new Set<string>();
  const impls = new Map<string, FunctionIR[]>();
  const readCallers = new Set<FunctionIR>();
  const structs = new Set<string>();
  for (const [fn, list] of state.memos) {
    for (const memo of list) {
      for (const r of memo.reads) {
        if (r.k === 'callee' && !r.out) unresolved.add(r.name);
        else if (r.k === 'impls') impls.set(r.key, r.out);
        else if (r.k === 'callers') readCallers.add(fn);
        else if (r.k === 'struct') structs.add(r.name);
      }
    }
  }
  // The last round read the summaries of the round before and the call sites it made; when
  // those equal what the last round produced, every later round reads (and gives) the same.
  const last = state.rounds[state.rounds.length - 1];
  const before = state.rounds[state.rounds.length - 2]?.summaries;
  const empty = summaryContent(emptySummary());
  const stable = !!last && p.functions.every((fn) => {
    const now = last.summaries.get(fn)!;
    const then = before?.get(fn);
    return now === then || summaryContent(now) === (then ? summaryContent(then) : empty);
  }) && sameCallSites(state.lastRead, state.lastMade);
  known = { unresolved, impls, readCallers, structs, stable };
  indexReadsCache.set(state, known);
  return known;
}

function sameCallSites(a: CallSites, b: CallSites): boolean {
  if (a.size !== b.size) return false;
  for (const [callee, list] of a) {
    const other = b.get(callee);
    if (!other || other.length !== list.length) return false;
    for (let i = 0; i < list.length; i++) {
      const x = list[i];
      const y = other[i];
      if (x.caller !== y.caller || x.classes.size !== y.classes.size || [...x.classes].some((c) => !y.classes.has(c))) return false;
    }
  }
  return true;
}

function sameFields(a: Map<string, string | undefined> | undefined, b: Map<string, string | undefined> | undefined): boolean {
  if (!a || !b) return a === b;
  return a.size === b.size && [...a].every(([k, v]) => b.has(k) && b.get(k) === v);
}

/**
 * `combined` is the index's program with one more file (`buildProgram([...index files, file])`):
 * the result analyseProgram(combined) gives, computed by analysing only the added file's
 * functions, against the index's run (`index.result` from analyseProgram(index.program)) taken
 * as it went, round by round. Exact when nothing of the index reads the added file: no name
 * the index left unresolved is a non-static function of the file, no ops-table field the index
 * calls through gains a function, no struct type the index looked up changes, no function of
 * the file calls an index function that asks about its callers; and the rounds end when the
 * program's rounds would (at or after the index's last round, which must then repeat itself).
 * When any of that fails, `{ fallback }` says what: the caller analyses the combined program instead.
 */
export function analyseOutsider(index: { program: Program; result: AnalysisResult }, combined: Program, options: { maxRounds?: number } = {}): AnalysisResult | { fallback: string } {
  const maxRounds = options.maxRounds ?? 30;
  const state = warmStates.get(index.result);
  if (!state || !state.rounds.length) return { fallback: 'the index was not analysed by analyseProgram' };
  const inIndex = index.program.functions;
  if (combined.functions.length < inIndex.length || inIndex.some((f, i) => combined.functions[i] !== f)) return { fallback: 'the program does not start with the index' };
  const own = combined.functions.slice(inIndex.length);
  const known = indexReadsOf(state, index.program);
  // What resolveCallee can reach from another file: non-static functions and headers' static ones.
  for (const fn of own) if ((!fn.isStatic || isHeader(fn.file)) && known.unresolved.has(fn.name)) return { fallback: `the index calls ${fn.name}` };
  for (const [key, found] of known.impls) {
    const now = fieldImplsOf(combined, key);
    if (now.length !== found.length || now.some((f, i) => f !== found[i])) return { fallback: `the index calls through ${key.includes('::') ? `struct ${key}` : `.${key}`}` };
  }
  for (const [file, ir] of combined.files) {
    const mine = index.program.files.get(file);
    if (mine === ir) continue;
    if (mine) return { fallback: `${file} is in the index` };
    for (const name of ir.structs.keys()) {
      if (known.structs.has(name) && !sameFields(index.program.structs.get(name), combined.structs.get(name))) return { fallback: `struct ${name} changes` };
    }
  }

  // The rounds of analyseProgram(combined) for the added functions: in round k they read the
  // index's summaries after its round k (the index's functions come first), their own as the
  // rounds leave them, and the call sites the added functions made in round k - 1 (the index
  // calls none of them). The program's rounds end when neither part changed a summary key and
  // the call sites counted over both parts stayed the same.
  const rounds = state.rounds;
  const last = rounds.length - 1;
  const summaries = new Map<FunctionIR, Summary>(own.map((f) => [f, emptySummary()]));
  const memos = new Map<FunctionIR, Memo[]>();
  let callSites: CallSites = new Map();
  let lastRound: Analysed[] = [];
  let analysed = 0;
  let reused = 0;
  let ran = 0;
  for (let round = 0; round < maxRounds; round++) {
    // Past the index's last round the index repeats it, if its last round repeated the one before.
    if (round > last && !known.stable) return { fallback: 'the rounds go on past the index, whose last round changed contents' };
    ran++;
    const indexRound = rounds[Math.min(round, last)];
    for (const [f, s] of indexRound.summaries) summaries.set(f, s);
    let changed = round <= last && indexRound.changed;
    const nextCallSites: CallSites = new Map();
    lastRound = [];
    for (const fn of own) {
      const now = plainReads(combined, fn, summaries, callSites);
      const mine = memos.get(fn);
      let r: Analysed | undefined;
      // The struct types are the same throughout this run: the analyses here keep no struct reads.
      if (mine) for (let i = mine.length - 1; i >= 0 && !r; i--) if (stillHolds(mine[i], now, summaries, combined.structs)) r = mine[i];
      if (r) reused++;
      else {
        const log: Read[] = [];
        const m: Memo = { ...analyseFunction(combined, fn, recordingReads(now, log)), reads: log };
        analysed++;
        memos.set(fn, [...(mine ?? []), m]);
        r = m;
      }
      // A call site of an index function that asks about its callers: the index's answer may change.
      const asks = r.calls.find((c) => known.readCallers.has(c.callee));
      if (asks) return { fallback: `${fn.name} calls ${asks.callee.name}, which asks about its callers` };
      lastRound.push(r);
      addCallSites(nextCallSites, fn, r.calls);
      if (cachedSummaryKey(r.summary) !== cachedSummaryKey(summaries.get(fn)!)) changed = true;
      summaries.set(fn, r.summary);
    }
    const indexBefore = round === 0 ? 0 : rounds[Math.min(round - 1, last)].sites;
    const sites = callSitesCount(nextCallSites);
    if (!changed && indexBefore + callSitesCount(callSites) === indexRound.sites + sites) {
      // The program would stop while the index alone goes on: its findings are not the index's last.
      if (round < last) return { fallback: 'the rounds end before the index\'s last' };
      break;
    }
    callSites = nextCallSites;
  }
  const all = new Map(index.result.summaries);
  lastRound.forEach((r, i) => all.set(own[i], r.summary));
  return { summaries: all, ...reported(own, lastRound, index.result), stats: { rounds: ran, analysed, reused, warm: false, againstIndex: true } };
}

/**
 * What the last round's analyses report (`analyses[i]` is of `fns[i]`), after what `before`
 * reported (the index's result, for a file outside it). The call sites `before` checked are in
 * its own files, these in the added one: their counts add up.
 */
function reported(fns: FunctionIR[], analyses: Analysed[], before?: AnalysisResult): Omit<AnalysisResult, 'summaries' | 'stats'> {
  const violations = [...(before?.violations ?? [])];
  const findings = [...(before?.findings ?? [])];
  const heldAt = new Map(before?.heldAt);
  const accesses = new Map(before?.accesses);
  const checked = new Set<string>();
  analyses.forEach((r, i) => {
    const fn = fns[i];
    violations.push(...r.violations);
    findings.push(...r.findings);
    heldAt.set(fn, r.heldAt);
    if (r.accesses.length) accesses.set(fn, r.accesses);
    for (const c of r.checked) checked.add(c);
  });
  return { violations, findings, checkedCallSites: (before?.checkedCallSites ?? 0) + checked.size, heldAt, accesses };
}

/** An analysis with its reads: those of `reads`, then the struct types it looked up. */
function analyseRecorded(view: Program, structLog: LookupLog, fn: FunctionIR, now: Reads): Memo {
  const log: Read[] = [];
  const looked = new Set<string>();
  structLog.onLookup = (name) => looked.add(name);
  try {
    const m: Memo = { ...analyseFunction(view, fn, recordingReads(now, log)), reads: log };
    for (const name of looked) log.push({ k: 'struct', name, content: structContent(structLog.get(name)) });
    return m;
  } finally {
    structLog.onLookup = undefined;
  }
}

/** Direct calls of each function: the lock classes held there (and required by the caller). */
type CallSites = Map<FunctionIR, { caller: FunctionIR; classes: Set<string> }[]>;

/** What the rounds compare of the call sites from one round to the next: sites and classes counted. */
function callSitesCount(c: CallSites): number {
  let n = 0;
  for (const list of c.values()) for (const s of list) n += s.classes.size + 1;
  return n;
}

function analyseFunction(p: Program, fn: FunctionIR, reads: Reads): Analysed {
  const scope = scopeOf(p, fn);
  const summary = emptySummary();
  let previousRequires: Requirement[] | undefined;
  /** What this function required in the previous round. */
  const previous = () => (previousRequires ??= reads.ownRequires());
  /** Every known direct caller holds a lock of this class when it calls this function. */
  const callersHoldClass = (cls: string | undefined): boolean => !!cls && reads.callersHold(cls);
  const calls: Analysed['calls'] = [];
  const violations: Violation[] = [];
  const findings: LockFinding[] = [];
  const heldAtList: HeldPoint[] = [];
  const accessList: AccessPoint[] = [];
  const checked = new Set<string>();
  // Each event's lock is resolved again on every visit of its node: kept per text for this
  // analysis (a pure function of the text and the scope; paths are never changed once made).
  const resolved = new Map<string, LockPath>();
  const resolve = (text: string): LockPath => {
    let path = resolved.get(text);
    if (!path) {
      path = resolvePath(text, scope);
      resolved.set(text, path);
    }
    return path;
  };
  let recording = false;

  const initial: State = { held: new Map(), unlocked: new Map(), foreign: new Map() };
  for (const r of fn.annotations.requires) {
    const path = resolve(r);
    initial.held.set(heldKey(path), { path, at: fn.at, prim: '__must_hold', scoped: false, local: false });
    const key = requirementKey(path);
    if (key) summary.requires.set(key, { path, origin: { at: fn.at, text: `__must_hold(${r})`, fn: fn.name }, chain: [] });
  }

  const addRequirement = (path: LockPath, req: Omit<Requirement, 'path'>) => {
    const key = requirementKey(path);
    if (key && !summary.requires.has(key)) summary.requires.set(key, { path, ...req });
  };

  /** A callee's requirement at a call site in this function, with the locks held there. */
  const checkRequirement = (req: Requirement, args: string[], held: Map<string, HeldLock>, hops: { fn: string; at: Loc }[], at: Loc) => {
    const text = substitute(req.path, args);
    let lock: LockPath;
    if (text !== undefined) {
      const r = resolve(text);
      lock = { ...r, cls: req.path.cls ?? r.cls };
    } else {
      if (!req.path.cls) return;
      lock = { root: { kind: 'unknown' }, rest: req.path.rest, cls: req.path.cls, field: req.path.field, display: req.path.display };
    }
    if (recording) checked.add(`${at.file}:${at.line}:${at.character}`);
    if (matchHeld(lock, [...held.values()].map((h) => h.path))) return;
    const chain = [...hops, ...req.chain];
    const owner = ownerKind(lock);
    // A lock reached from locals (or not nameable) is covered by what the function itself
    // requires through its parameters: its callers are checked for that. Only parameter and
    // global requirements count here, so the summaries cannot feed themselves.
    if (owner === 'local' || owner === 'unknown') {
      const own = [...summary.requires.values(), ...previous()]
        .filter((r) => r.path.root.kind === 'param' || r.path.root.kind === 'global').map((r) => r.path);
      if (matchHeld(lock, own)) return;
    }
    // A lock reached from the function's own locals is its own to take, unless every caller
    // already holds one of its class (a helper working on objects of a locked parent).
    if (owner === 'local' && !callersHoldClass(lock.cls)) {
      if (recording) violations.push({ fn, at, lock, req, chain });
    } else if (owner === 'local') addRequirement({ ...lock, root: { kind: 'unknown' } }, { origin: req.origin, chain });
    else addRequirement(lock.root.kind === 'unknown' ? { ...lock, root: { kind: 'unknown' } } : lock, { origin: req.origin, chain });
  };

  const removeMatching = (state: State, path: LockPath): HeldLock | undefined => {
    const key = heldKey(path);
    const exact = state.held.get(key);
    if (exact) {
      state.held.delete(key);
      return exact;
    }
    const m = matchHeld(path, [...state.held.values()].map((h) => h.path));
    if (m && m.how !== 'field') {
      const k = heldKey(m.lock);
      const h = state.held.get(k);
      state.held.delete(k);
      return h;
    }
    return undefined;
  };

  // States are shared between nodes and edges (forwardDataflow hands one state to every
  // successor): a state is never changed once made. transfer copies its input on the first
  // change only: most events (calls without lock effects, accesses, returns) change nothing.
  const transfer = (inState: State, events: LockEvent[]): State => {
    let s = inState;
    let copied = false;
    const own = (): State => {
      if (!copied) {
        s = { held: new Map(s.held), unlocked: new Map(s.unlocked), foreign: new Map(s.foreign) };
        copied = true;
      }
      return s;
    };
    for (const e of events) {
      switch (e.k) {
        case 'acquire': {
          const path = resolve(e.lock);
          const key = heldKey(path);
          const prev = s.held.get(key);
          if (recording && prev && pathKey(path) !== undefined && !e.prim.includes('nested') && !prev.prim.includes('nested')) {
            findings.push({ kind: 'double-acquire', fn, at: e.at, lock: path, other: prev.at });
          }
          own();
          // Taking back a lock the caller held (dropped around a callback) restores the caller's hold.
          s.held.set(key, { path, at: e.at, prim: e.prim, scoped: !!e.scoped, local: !s.foreign.has(key) });
          // Dropped and taken back: on this path the caller's lock is held again when we return.
          s.foreign.delete(key);
          s.unlocked.delete(key);
          break;
        }
        case 'release': {
          const path = resolve(e.lock);
          const key = heldKey(path);
          own();
          const removed = removeMatching(s, path);
          if (!removed) {
            const before = s.unlocked.get(key);
            if (recording && before && pathKey(path) !== undefined) findings.push({ kind: 'release-not-held', fn, at: e.at, lock: path, other: before });
            if (!before && (path.root.kind === 'param' || path.root.kind === 'global')) s.foreign.set(key, path);
          }
          s.unlocked.set(key, e.at);
          break;
        }
        case 'drop': {
          const path = resolve(e.lock);
          const key = heldKey(path);
          if (s.held.has(key)) own().held.delete(key);
          break;
        }
        case 'assert': {
          const path = resolve(e.lock);
          if (!matchHeld(path, [...s.held.values()].map((h) => h.path))) {
            if (!e.conditional) addRequirement(path, { origin: { at: e.at, text: `${e.prim}(&${e.lock})`, fn: fn.name }, chain: [] });
            own().held.set(heldKey(path), { path, at: e.at, prim: e.prim, scoped: false, local: false });
          }
          break;
        }
        case 'call': {
          if (recording) heldAtList.push({ at: e.at, held: [...s.held.values()], call: e.name, callId: e.id });
          applyCall(s, e, own);
          break;
        }
        case 'return':
          if (recording) heldAtList.push({ at: e.at, held: [...s.held.values()] });
          break;
        case 'access': {
          if (!recording) break;
          const cls = resolve(e.expr).cls;
          if (cls) accessList.push({ event: e, cls, held: [...s.held.values()] });
          break;
        }
      }
    }
    return s;
  };

  /** `own` gives the state to change (see transfer); `s` is read until then. */
  const applyCall = (s: State, e: Extract<LockEvent, { k: 'call' }>, own: () => State) => {
    if (e.callee.kind === 'param') {
      if (recording) summary.paramCalls.push({ index: e.callee.index, args: e.args, held: [...s.held.values()].map((h) => h.path), at: e.at });
      return;
    }
    if (e.callee.kind === 'field') {
      // Through a field of a parameter: the function stored there by the caller (see syncIterator).
      const through = resolve(e.name);
      if (recording && through.root.kind === 'param' && /^(->|\.)[A-Za-z_]\w*$/.test(through.rest)) {
        summary.fieldParamCalls.push({ index: through.root.index, field: through.rest.replace(/^(->|\.)/, ''), args: e.args, held: [...s.held.values()].map((h) => h.path), at: e.at });
      }
      // Through an ops table: what every function assigned to that field requires.
      if (!recording) return;
      const impls = reads.fieldImpls(implsKey(e.callee, scope));
      if (!impls.length) return;
      const first = reads.summary(impls[0]);
      for (const [key, req] of first.requires) {
        if (impls.every((f) => reads.summary(f).requires.has(key))) checkRequirement(req, e.args, s.held, [{ fn: `${e.name} (${impls[0].name})`, at: e.at }], e.at);
      }
      return;
    }
    if (e.callee.kind !== 'direct') return;
    const callee = reads.callee(e.callee.name);
    const sync = callee ? undefined : SYNC_ITERATORS.get(e.callee.name);
    if (sync && recording) syncIterator(s, e, sync);
    if (!callee || callee === fn) return;
    const cs = reads.summary(callee);
    if (recording) {
      const classes = new Set<string>();
      for (const h of s.held.values()) if (h.path.cls) classes.add(h.path.cls);
      for (const r of [...summary.requires.values(), ...previous()]) if (r.path.cls) classes.add(r.path.cls);
      calls.push({ callee, classes });
    }
    if (recording) for (const req of cs.requires.values()) checkRequirement(req, e.args, s.held, [{ fn: callee.name, at: e.at }], e.at);
    // Callbacks handed to the callee, analysed as called where the callee calls its parameter.
    if (recording) {
      for (const pc of cs.paramCalls) {
        const cbName = e.args[pc.index]?.trim().replace(/^&/, '');
        const cb = cbName && /^[A-Za-z_]\w*$/.test(cbName) ? reads.callee(cbName) : undefined;
        if (!cb || cb === fn) continue;
        const calleeScope = scopeOf(p, callee);
        for (const req of reads.summary(cb).requires.values()) {
          const text = substitute(req.path, pc.args);
          let inCallee: LockPath;
          if (text !== undefined) {
            const r = resolvePath(text, calleeScope);
            inCallee = { ...r, cls: req.path.cls ?? r.cls };
          } else if (req.path.cls) {
            inCallee = { ...req.path, root: { kind: 'unknown' } };
          } else continue;
          if (matchHeld(inCallee, pc.held)) continue;
          const owner = ownerKind(inCallee);
          if (owner === 'local') continue; // the iterator's own business, not its caller's
          checkRequirement({ path: inCallee, origin: req.origin, chain: [{ fn: cb.name, at: pc.at }, ...req.chain] }, e.args, s.held, [{ fn: callee.name, at: e.at }], e.at);
        }
      }
    }
    for (const a of cs.acquires) {
      const text = substitute(a, e.args);
      if (text === undefined) continue;
      const path = resolve(text);
      own().held.set(heldKey(path), { path, at: e.at, prim: callee.name, scoped: false, local: true });
    }
    for (const r of cs.releases) {
      const text = substitute(r, e.args);
      if (text === undefined) continue;
      const path = resolve(text);
      const st = own();
      if (!removeMatching(st, path) && (path.root.kind === 'param' || path.root.kind === 'global')) st.foreign.set(heldKey(path), path);
    }
  };

  /**
   * `pci_walk_bus(bus, cb, data)`: an external function calls `cb(?, data)` before it returns.
   * The callback's requirements are checked here; when the callback calls a function stored in a
   * field of `data` (`walk->fn(pdev, walk->data)` with `walk = { .fn = fn, .data = data }`), that
   * is a call of what was stored: a parameter of this function (recorded as a call through it,
   * for our callers to check their callbacks) or a function of the index (checked here).
   */
  const syncIterator = (s: State, e: Extract<LockEvent, { k: 'call' }>, sync: { callback: number; data: number; callbackData: number }) => {
    const cbName = e.args[sync.callback]?.trim().replace(/^&\s*/, '');
    const cb = cbName && /^[A-Za-z_]\w*$/.test(cbName) ? reads.callee(cbName) : undefined;
    if (!cb || cb === fn) return;
    const dataArg = e.args[sync.data] ?? '?';
    const cbArgs = cb.params.map((_, i) => (i === sync.callbackData ? dataArg : '?'));
    const hop = { fn: e.callee.kind === 'direct' ? e.callee.name : e.name, at: e.at };
    const cs = reads.summary(cb);
    for (const req of cs.requires.values()) {
      checkRequirement({ path: req.path, origin: req.origin, chain: [{ fn: cb.name, at: e.at }, ...req.chain] }, cbArgs, s.held, [hop], e.at);
    }
    // The data is a local struct of this function: follow the functions stored in its fields.
    const local = /^&?([A-Za-z_]\w*)$/.exec(normaliseExpr(dataArg))?.[1];
    if (!local || !fn.localTypes.has(local)) return;
    const cbScope = scopeOf(p, cb);
    /** An argument of the callback's call, in this function's terms ('?' when it is not ours). */
    const translate = (text: string): string => {
      const r = resolvePath(normaliseExpr(text), cbScope);
      const t = r.root.kind === 'param' ? substitute(r, cbArgs) : undefined;
      if (!t || t.includes('?')) return '?';
      const m = /^([A-Za-z_]\w*)(?:\.|->)([A-Za-z_]\w*)(.*)$/.exec(t);
      const stored = m && m[1] === local ? fn.fieldStores.get(`${local}.${m[2]}`) : undefined;
      return stored ? `${stored}${m![3]}` : t;
    };
    for (const fc of cs.fieldParamCalls) {
      if (fc.index !== sync.callbackData) continue;
      const stored = fn.fieldStores.get(`${local}.${fc.field}`);
      if (!stored || !/^[A-Za-z_]\w*$/.test(stored)) continue;
      const args = fc.args.map(translate);
      const held = [...[...s.held.values()].map((h) => h.path), ...fc.held.filter((h) => h.cls)];
      const pi = fn.params.findIndex((q) => q.name === stored && q.isFunctionPointer);
      if (pi >= 0) {
        summary.paramCalls.push({ index: pi, args, held, at: e.at });
        continue;
      }
      const target = fn.localTypes.has(stored) ? undefined : reads.callee(stored);
      if (!target || target === fn) continue;
      for (const req of reads.summary(target).requires.values()) {
        checkRequirement({ path: req.path, origin: req.origin, chain: [{ fn: cb.name, at: e.at }, { fn: target.name, at: fc.at }, ...req.chain] }, args, s.held, [hop], e.at);
      }
    }
  };

  const meet = (a: State, b: State): State => {
    const held = new Map<string, HeldLock>();
    for (const [k, v] of a.held) if (b.held.has(k)) held.set(k, v);
    const unlocked = new Map<string, Loc>();
    for (const [k, v] of a.unlocked) if (b.unlocked.has(k)) unlocked.set(k, v);
    // A foreign release on any path is the function's effect on its caller.
    const foreign = new Map(a.foreign);
    for (const [k, v] of b.foreign) foreign.set(k, v);
    return { held, unlocked, foreign };
  };
  const sameKeys = (a: Map<string, unknown>, b: Map<string, unknown>): boolean => {
    if (a.size !== b.size) return false;
    for (const k of a.keys()) if (!b.has(k)) return false;
    return true;
  };
  const equals = (a: State, b: State) => sameKeys(a.held, b.held) && sameKeys(a.unlocked, b.unlocked) && a.foreign.size === b.foreign.size;

  const flow = forwardDataflow(fn.cfg, initial, transfer, meet, equals);
  // Replay once with the converged states to record requirements, violations and findings.
  recording = true;
  const returns: HeldPoint[] = [];
  fn.cfg.nodes.forEach((node, i) => {
    const before = flow.before[i];
    if (!before) return;
    const after = transfer(before, node.events);
    node.succ.forEach((edge) => {
      if (edge.events.length) transfer(after, edge.events);
    });
    const ret = node.events.find((e) => e.k === 'return');
    if (ret) returns.push({ at: ret.at, held: [...after.held.values()] });
  });
  const exitState = flow.before[fn.cfg.exit];
  if (exitState) {
    for (const h of exitState.held.values()) {
      if (h.local && !h.scoped && (h.path.root.kind === 'param' || h.path.root.kind === 'global')) summary.acquires.push(h.path);
    }
    summary.releases.push(...exitState.foreign.values());
    // A lock held at some returns and not at others: an unlock missing on a path.
    const annotated = new Set(fn.annotations.acquires.map((a) => heldKey(resolve(a))));
    const reported = new Set<string>();
    for (const r of returns) {
      for (const h of r.held) {
        const key = heldKey(h.path);
        if (!h.local || h.scoped || exitState.held.has(key) || annotated.has(key) || reported.has(key)) continue;
        if (pathKey(h.path) === undefined) continue;
        reported.add(key);
        findings.push({ kind: 'held-at-return', fn, at: r.at, lock: h.path, other: h.at });
      }
    }
  }
  for (const a of fn.annotations.acquires) {
    const path = resolve(a);
    if (!summary.acquires.some((x) => heldKey(x) === heldKey(path))) summary.acquires.push(path);
  }
  for (const r of fn.annotations.releases) {
    const path = resolve(r);
    if (!summary.releases.some((x) => heldKey(x) === heldKey(path))) summary.releases.push(path);
  }
  return { summary, violations, findings, heldAt: heldAtList, accesses: accessList, checked, calls };
}
