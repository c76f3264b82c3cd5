// Field accesses against the locks held there, over the whole index (lock-unprotected-access).
// A field (`struct vfio_device_set::device_list`) whose accesses all hold one lock of the same
// struct (`struct vfio_device_set::lock`) except one read is reported at that read, with the
// count as evidence. An access counts as protected when the lock is held at it (taken, asserted,
// __must_hold), when its function requires the lock of its callers, or when every known way into
// its function holds it (direct calls, ops-table calls, callbacks handed to an iterator). The one
// reported must be reached without the lock on a path from an entry point (a function only
// called from outside the index, through an ops table such as file_operations) made of calls
// where the lock is not held: a demonstration, not an absence of knowledge.
import { resolveCallee, resolveIn, type AccessPoint, type AnalysisResult, type HeldLock, type Program } from './analyse';
import type { FunctionIR, LockEvent, Loc } from './extract';
import { resolvePath, type LockPath } from './paths';
import { ACCESS_ALLOCATORS, UNPROTECTED_MIN } from './primitives';

type CallEvent = Extract<LockEvent, { k: 'call' }>;

/** One way into a function that the index shows. */
export interface Entry {
  kind: 'direct' | 'field' | 'callback';
  caller: FunctionIR;
  at: Loc;
  /** Locks the caller holds at the call. */
  held: HeldLock[];
  /** For a callback: the locks the iterator holds where it calls its parameter. */
  inner?: LockPath[];
  /** For a call through an ops table: the field's class (`struct vfio_device_ops::ioctl`). */
  field?: string;
  /** The called function's name at the call (the iterator's, for a callback). */
  via: string;
}

/** A function assigned to a field of a designated initializer that the index never calls. */
export interface ExternalEntry {
  type: string;
  field: string;
  table: string;
  at: Loc;
}

export interface EntryGraph {
  entries: Map<FunctionIR, Entry[]>;
  /** Ways in that cannot be judged: untyped ops calls, callbacks handed to functions outside the index. */
  unknown: Set<FunctionIR>;
  external: Map<FunctionIR, ExternalEntry>;
}

export interface UnprotectedAccess {
  fn: FunctionIR;
  access: AccessPoint;
  /** `struct vfio_device_set::lock` */
  lockClass: string;
  /** The lock as this access would name it: `dev_set->lock`. */
  lockDisplay: string;
  protectedCount: number;
  total: number;
  /** A few protected accesses: where, in which function, and why they count as protected. */
  evidence: { fn: FunctionIR; at: Loc; how: string }[];
  /** From the entry point to the function of the access. */
  path: { root: FunctionIR; external: ExternalEntry; hops: Entry[] };
}

/** Per analysis result: the findings of the whole program (''), or of one file only. */
const cache = new WeakMap<AnalysisResult, Map<string, UnprotectedAccess[]>>();

const structOf = (cls: string) => /^struct (\S+)::/.exec(cls)?.[1];
const fieldOf = (cls: string) => /::(\w+)$/.exec(cls)?.[1] ?? '';

export function entryGraph(p: Program, result: AnalysisResult): EntryGraph {
  const entries = new Map<FunctionIR, Entry[]>();
  const unknown = new Set<FunctionIR>();
  const external = new Map<FunctionIR, ExternalEntry>();
  const add = (f: FunctionIR, e: Entry) => {
    const list = entries.get(f) ?? [];
    list.push(e);
    entries.set(f, list);
  };
  /** Calls through a field: class (when typed) and field name, with the caller and held locks. */
  const fieldCalls: { cls?: string; field: string; caller: FunctionIR; at: Loc; held: HeldLock[]; via: string }[] = [];
  for (const fn of p.functions) {
    const calls = new Map<number, CallEvent>();
    for (const node of fn.cfg.nodes) for (const e of node.events) if (e.k === 'call') calls.set(e.id, e);
    for (const point of result.heldAt.get(fn) ?? []) {
      const e = point.callId !== undefined ? calls.get(point.callId) : undefined;
      if (!e) continue;
      let target: FunctionIR | undefined;
      if (e.callee.kind === 'direct') {
        target = resolveCallee(p, fn, e.callee.name);
        if (target) add(target, { kind: 'direct', caller: fn, at: e.at, held: point.held, via: target.name });
      } else if (e.callee.kind === 'field') {
        const scope = { params: fn.params, aliases: fn.aliases, localTypes: fn.localTypes, globals: p.files.get(fn.file)?.globals ?? new Map(), structs: p.structs };
        fieldCalls.push({ cls: resolvePath(e.name, scope).cls, field: e.callee.field, caller: fn, at: e.at, held: point.held, via: e.name });
      }
      // Functions handed over as arguments: callbacks.
      e.args.forEach((arg, i) => {
        const name = arg.trim().replace(/^&\s*/, '');
        if (!/^[A-Za-z_]\w*$/.test(name) || fn.localTypes.has(name) || fn.params.some((q) => q.name === name)) return;
        const cb = resolveCallee(p, fn, name);
        if (!cb || cb === target) return;
        const calls = target ? (result.summaries.get(target)?.paramCalls ?? []).filter((pc) => pc.index === i) : [];
        if (!calls.length) {
          unknown.add(cb);
          return;
        }
        for (const pc of calls) add(cb, { kind: 'callback', caller: fn, at: e.at, held: point.held, inner: pc.held, via: target!.name });
      });
    }
  }
  for (const ir of p.files.values()) {
    for (const init of ir.initializers) {
      for (const [field, value] of init.fields) {
        const name = value.trim().replace(/^&\s*/, '');
        if (!/^[A-Za-z_]\w*$/.test(name)) continue;
        const f = resolveIn(p, ir.file, name);
        if (!f) continue;
        const cls = `struct ${init.type}::${field}`;
        const typed = fieldCalls.filter((c) => c.cls === cls);
        const untyped = fieldCalls.filter((c) => !c.cls && c.field === field);
        for (const c of typed) add(f, { kind: 'field', caller: c.caller, at: c.at, held: c.held, field: cls, via: c.via });
        if (untyped.length) unknown.add(f);
        if (!typed.length && !untyped.length && !external.has(f)) external.set(f, { type: init.type, field, table: init.name, at: init.fieldAt.get(field) ?? init.at });
      }
    }
  }
  return { entries, unknown, external };
}

const isAllocator = (name: string) => ACCESS_ALLOCATORS.some((r) => r.test(name));

/** Locals of `fn` built by an allocator or a constructor of the index: objects not yet shared. */
function freshLocals(p: Program, fn: FunctionIR, depth = 0): string[] {
  return [...fn.builtBy].filter(([, calls]) => calls.every((c) => isAllocator(c) || returnsFresh(p, fn, c, depth + 1))).map(([v]) => v);
}

const constructorMemo = new WeakMap<Program, Map<FunctionIR, boolean>>();

/** `name`, called from `from`, returns only objects it allocated itself (or NULL / an error). */
function returnsFresh(p: Program, from: FunctionIR, name: string, depth: number): boolean {
  const f = resolveCallee(p, from, name);
  if (!f || depth > 4) return false;
  const memo = constructorMemo.get(p) ?? new Map<FunctionIR, boolean>();
  constructorMemo.set(p, memo);
  const known = memo.get(f);
  if (known !== undefined) return known;
  memo.set(f, false);
  const fresh = new Set(freshLocals(p, f, depth));
  const v = f.returns.length > 0 && f.returns.some((r) => fresh.has(r)) &&
    f.returns.every((r) => fresh.has(r) || /^(NULL|0|ERR_PTR\(.*\)|-[A-Z]+)$/.test(r));
  memo.set(f, v);
  return v;
}

/** `fn` frees an object of `struct` (a local or parameter of that type given to kfree…): teardown. */
function freesA(fn: FunctionIR, struct: string | undefined): boolean {
  return !!struct && fn.freed.some((v) => (fn.localTypes.get(v) ?? fn.params.find((q) => q.name === v)?.type) === struct);
}

/**
 * The lock-unprotected-access findings of the whole program (cached per analysis result), or
 * only those in `onlyFile`: the same findings, of the field classes that file accesses. A file
 * outside the index has a program (and result) of its own: judging every class of the index,
 * and building the index's entry graph, for each such file cost 5 s of a 40 s tree-wide check.
 */
export function unprotectedAccesses(p: Program, result: AnalysisResult, onlyFile?: string): UnprotectedAccess[] {
  let perResult = cache.get(result);
  if (!perResult) cache.set(result, (perResult = new Map()));
  const key = onlyFile ?? '';
  let out = perResult.get(key);
  if (!out) {
    const whole = perResult.get('');
    out = whole && onlyFile !== undefined ? whole.filter((u) => u.fn.file === onlyFile) : compute(p, result, onlyFile);
    perResult.set(key, out);
  }
  return out;
}

function compute(p: Program, result: AnalysisResult, onlyFile?: string): UnprotectedAccess[] {
  // A finding is at an access of its class: only the classes `onlyFile` accesses can give one there.
  let wanted: Set<string> | undefined;
  if (onlyFile !== undefined) {
    wanted = new Set();
    for (const [fn, list] of result.accesses) if (fn.file === onlyFile) for (const a of list) if (a.cls) wanted.add(a.cls);
    if (!wanted.size) return [];
  }
  // Built when a class has a lock to judge (often none for one file).
  let graph: EntryGraph | undefined;
  const graphOf = () => (graph ??= entryGraph(p, result));
  const skippedFields = new Set<string>();
  for (const ir of p.files.values()) for (const f of ir.skippedFields) skippedFields.add(f);

  // Accesses per field class, initialisation of objects not yet shared left out.
  const byClass = new Map<string, { fn: FunctionIR; a: AccessPoint }[]>();
  for (const [fn, list] of result.accesses) {
    // Objects being created or torn down are not shared; sanity checks are not logic. (Made for
    // every function, in this order, whatever is wanted: returnsFresh's memo depends on the order.)
    const fresh = new Set([...freshLocals(p, fn), ...fn.freed]);
    const seen = new Set<string>();
    for (const a of list) {
      if (!a.cls || a.event.kind === 'init' || a.event.kind === 'check') continue;
      if (wanted && !wanted.has(a.cls)) continue;
      const root = /^[A-Za-z_]\w*/.exec(a.event.base)?.[0];
      if (root && fresh.has(root)) continue;
      const key = `${a.event.at.line}:${a.event.at.character}:${a.event.at.endLine}:${a.event.at.endCharacter}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const l = byClass.get(a.cls) ?? [];
      l.push({ fn, a });
      byClass.set(a.cls, l);
    }
  }

  const requiresClass = (fn: FunctionIR, lock: string) =>
    [...(result.summaries.get(fn)?.requires.values() ?? [])].some((r) => r.path.cls === lock);
  const holdsSure = (held: Iterable<{ cls?: string } | undefined>, lock: string) => [...held].some((h) => h?.cls === lock);
  /** For a demonstration of absence: a lock of unknown type with the same field name may be it. */
  const holdsMaybe = (held: LockPath[], lock: string) => held.some((h) => h.cls === lock || (!h.cls && h.field === fieldOf(lock)));

  const alwaysMemo = new Map<string, boolean>();
  /** Every way into `fn` that the index shows holds `lock`, and there is no other way in. */
  const always = (fn: FunctionIR, lock: string, depth = 0): boolean => {
    const key = `${lock}\0${fn.file}\0${fn.name}`;
    const memo = alwaysMemo.get(key);
    if (memo !== undefined) return memo;
    alwaysMemo.set(key, false); // a cycle proves nothing
    let v = false;
    if (requiresClass(fn, lock)) v = true;
    else if (depth < 16 && !graphOf().unknown.has(fn) && !graphOf().external.has(fn)) {
      const list = graphOf().entries.get(fn) ?? [];
      v = list.length > 0 && list.every((e) =>
        holdsSure(e.held.map((h) => h.path), lock) || holdsSure(e.inner ?? [], lock) || always(e.caller, lock, depth + 1));
    }
    alwaysMemo.set(key, v);
    return v;
  };

  /** The shortest path from an entry point to `fn` on which `lock` is never held, or undefined. */
  const unlockedPath = (fn: FunctionIR, lock: string): UnprotectedAccess['path'] | undefined => {
    const struct = structOf(lock);
    const blocked = (f: FunctionIR) => requiresClass(f, lock) || freesA(f, struct);
    if (blocked(fn)) return undefined;
    // Breadth first, backwards from the access: each item is a function and its hops down to fn.
    const seen = new Set<FunctionIR>([fn]);
    let level: { f: FunctionIR; hops: Entry[] }[] = [{ f: fn, hops: [] }];
    for (let depth = 0; level.length && depth <= 16; depth++) {
      for (const { f, hops } of level) {
        const ext = graphOf().external.get(f);
        if (ext) return { root: f, external: ext, hops };
      }
      const next: typeof level = [];
      for (const { f, hops } of level) {
        for (const e of graphOf().entries.get(f) ?? []) {
          if (seen.has(e.caller) || blocked(e.caller)) continue;
          if (holdsMaybe(e.held.map((h) => h.path), lock) || holdsMaybe(e.inner ?? [], lock)) continue;
          seen.add(e.caller);
          next.push({ f: e.caller, hops: [e, ...hops] });
        }
      }
      level = next;
    }
    return undefined;
  };

  const out: UnprotectedAccess[] = [];
  for (const [cls, accesses] of byClass) {
    const struct = structOf(cls);
    if (!struct || skippedFields.has(fieldOf(cls))) continue;
    if (accesses.length < UNPROTECTED_MIN + 1) continue;
    // Candidate locks: of the same struct, held at some access.
    const candidates = new Set<string>();
    for (const { a } of accesses) for (const h of a.held) if (h.path.cls && h.path.cls !== cls && structOf(h.path.cls) === struct) candidates.add(h.path.cls);
    for (const lock of candidates) {
      const how = (fn: FunctionIR, a: AccessPoint): string | undefined => {
        const h = a.held.find((x) => x.path.cls === lock);
        if (h) return h.local ? `\`${h.path.display}\` taken at line ${h.at.line + 1}` : `${h.prim}(${h.path.display})`;
        if (requiresClass(fn, lock)) return `${fn.name} requires it of its callers`;
        if (always(fn, lock)) return `every call of ${fn.name} holds it`;
        return undefined;
      };
      const judged = accesses.map((x) => ({ ...x, how: how(x.fn, x.a) }));
      const unprotected = judged.filter((x) => !x.how);
      const protectedCount = judged.length - unprotected.length;
      if (unprotected.length !== 1 || protectedCount < UNPROTECTED_MIN) continue;
      const [u] = unprotected;
      if (u.a.event.kind !== 'read' && u.a.event.kind !== 'iterate') continue;
      if (onlyFile !== undefined && u.fn.file !== onlyFile) continue;
      const path = unlockedPath(u.fn, lock);
      if (!path) continue;
      // Evidence: the lock held at the access itself first, then other functions' accesses first.
      const rank = (x: (typeof judged)[number]) => (x.a.held.some((h) => h.path.cls === lock) ? 0 : 2) + Number(x.fn === u.fn);
      const others = judged.filter((x) => x.how).sort((x, y) => rank(x) - rank(y));
      const evidence: UnprotectedAccess['evidence'] = [];
      for (const x of others) {
        if (evidence.length >= 2) break;
        if (evidence.some((e) => e.fn === x.fn)) continue;
        evidence.push({ fn: x.fn, at: x.a.event.at, how: x.how! });
      }
      const base = u.a.event.base;
      const lockDisplay = `${base}${u.a.event.expr.slice(base.length).startsWith('.') ? '.' : '->'}${fieldOf(lock)}`;
      out.push({ fn: u.fn, access: u.a, lockClass: lock, lockDisplay, protectedCount, total: judged.length, evidence, path });
    }
  }
  return out;
}
