// Lock identity. A lock is an access path (`vdev->vdev.dev_set->lock`) written from a root: a
// parameter (`$0`), a global (`@vfio`), a local of the function, or nothing nameable. Paths are
// normalised from the argument text, resolved through local aliases, and rewritten through a
// callee's parameters at call sites. When two paths cannot be compared, the lock's class (the
// struct that holds it and the field: `struct vfio_device_set::lock`) is the fallback.

export type Root =
  | { kind: 'param'; index: number; name: string }
  | { kind: 'global'; name: string }
  | { kind: 'local'; name: string }
  | { kind: 'unknown' };

export interface LockPath {
  root: Root;
  /** What follows the root: `->vdev.dev_set->lock`; opaque paths keep their whole text here. */
  rest: string;
  /** `struct vfio_device_set::lock`, when the types along the path are known. */
  cls?: string;
  /** The last field name (`lock`), for the weakest match. */
  field: string;
  /** As the user wrote it, for messages. */
  display: string;
  /** An opaque path computed from a nameable root (`container_of(p, T, m)->x`): whose it is. */
  derivedFrom?: Root;
}

/** Comparable key of a path: equal keys name the same lock in the same function. */
export function pathKey(p: LockPath): string | undefined {
  switch (p.root.kind) {
    case 'param': return `$${p.root.index}${p.rest}`;
    case 'global': return `@${p.root.name}${p.rest}`;
    case 'local': return `%${p.root.name}${p.rest}`;
    default: return undefined;
  }
}

/** A path with nothing to remove (`vdev->pdev.dev`): most of what normaliseExpr is given. */
const PLAIN_PATH = /^[A-Za-z_]\w*(?:(?:->|\.)[A-Za-z_]\w*)*$/;

/** Removes comments, blanks, casts and redundant parentheses; `(&a)->b` becomes `a.b`. */
export function normaliseExpr(text: string): string {
  // Every step below leaves such a path as it is; the extraction asks for one per field access.
  if (PLAIN_PATH.test(text)) return text;
  let t = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '').replace(/\s+/g, ' ').trim();
  // Casts to a pointer type: `(struct x *)p`.
  t = t.replace(/\(\s*(?:const\s+)?(?:struct\s+|union\s+)?[A-Za-z_]\w*\s*\*+\s*\)\s*/g, '');
  // Blanks are single spaces by now, so ` ?` is enough (a `\s*` would rescan a long run from each blank).
  t = t.replace(/ ?(->|\.) ?/g, '$1').replace(/ ?([()\[\],]) ?/g, '$1');
  for (let i = 0; i < 4; i++) {
    t = stripOuterParens(t);
    // (&x)->y  ==  x.y ;  (*x).y  ==  x->y
    t = t.replace(/^\(&([^()]+)\)->/, '$1.').replace(/^\(\*([^()]+)\)\./, '$1->');
  }
  return t;
}

function stripOuterParens(t: string): string {
  while (t.startsWith('(') && t.endsWith(')')) {
    let depth = 0;
    let closesAtEnd = true;
    for (let i = 0; i < t.length; i++) {
      if (t[i] === '(') depth++;
      else if (t[i] === ')' && --depth === 0 && i !== t.length - 1) {
        closesAtEnd = false;
        break;
      }
    }
    if (!closesAtEnd) break;
    t = t.slice(1, -1).trim();
  }
  return t;
}

/** The lock argument of a primitive names the lock through its address: `&x->lock` is `x->lock`. */
export function lockExprOf(arg: string): string {
  const t = normaliseExpr(arg);
  return t.startsWith('&') ? normaliseExpr(t.slice(1)) : t;
}

const SIMPLE = /^([A-Za-z_]\w*)((?:(?:->|\.)[A-Za-z_]\w*|\[[^\]]*\])*)$/;
const CONTAINER_OF = /^container_of(?:_const)?\(([^,]+),([A-Za-z_]\w*),([A-Za-z_][\w.]*)\)((?:(?:->|\.)[A-Za-z_]\w*)*)$/;

export interface Scope {
  params: { name: string; type?: string }[];
  /** Locals assigned once from a path-like expression: name -> that expression. */
  aliases: Map<string, string>;
  /** Declared struct (or typedef) name of each local. */
  localTypes: Map<string, string | undefined>;
  /** File-scope variables of the translation unit and their struct types. */
  globals: Map<string, string | undefined>;
  /** struct name -> field -> struct name of the field's type (undefined when not a struct). */
  structs: Map<string, Map<string, string | undefined>>;
}

/** Resolves a lock expression (no `&`) in a function's scope. */
export function resolvePath(expr: string, scope: Scope, depth = 0): LockPath {
  const display = expr;
  // The last identifier; `(?<!\w)\d*` starts the try only where a word starts, so a long word is scanned once.
  const field = /(?<!\w)\d*([A-Za-z_]\w*)\s*$/.exec(expr)?.[1] ?? expr;
  // `&x->m` used as a base: `(&x->m)->f` was normalised away; `&x` alone as a root means x.
  const e = expr.startsWith('&') ? expr.slice(1) : expr;
  const co = CONTAINER_OF.exec(e);
  if (co) {
    // container_of(p, T, m)->m.rest is p->rest; otherwise the root is p's, the path opaque.
    const [, inner, type, member, rest] = co;
    const innerPath = resolvePath(lockExprOf(inner), scope, depth + 1);
    const prefix = `->${member}.`;
    if (rest.startsWith(prefix)) {
      const r = resolvePath(`${innerPath.display}->${rest.slice(prefix.length)}`, scope, depth + 1);
      return { ...r, display };
    }
    const cls = classOf(type, rest, scope);
    const derivedFrom = innerPath.root.kind !== 'unknown' ? innerPath.root : innerPath.derivedFrom;
    return { root: { kind: 'unknown' }, rest: e, cls, field, display, derivedFrom };
  }
  const m = SIMPLE.exec(e);
  if (!m) return { root: { kind: 'unknown' }, rest: e, field, display };
  const [, base, rest] = m;
  const alias = scope.aliases.get(base);
  if (alias !== undefined && depth < 8) {
    const a = normaliseExpr(alias);
    const baseExpr = a.startsWith('&') ? a.slice(1) : a;
    // `x = &y->z;` then `x->lock` is `y->z.lock`; `x = y->z;` then `x->lock` is `y->z->lock`.
    let joined: string;
    if (a.startsWith('&') && rest.startsWith('->')) joined = `${baseExpr}.${rest.slice(2)}`;
    else if (a.startsWith('&') && rest === '') joined = `&${baseExpr}`;
    else joined = `${baseExpr}${rest}`;
    const r = resolvePath(joined, scope, depth + 1);
    if (r.root.kind !== 'unknown' || !(r.cls ?? '')) {
      return { ...r, display, cls: r.cls ?? classOf(scope.localTypes.get(base), rest, scope) };
    }
  }
  const pi = scope.params.findIndex((p) => p.name === base);
  if (pi >= 0) return { root: { kind: 'param', index: pi, name: base }, rest, cls: classOf(scope.params[pi].type, rest, scope), field, display };
  if (scope.localTypes.has(base)) return { root: { kind: 'local', name: base }, rest, cls: classOf(scope.localTypes.get(base), rest, scope), field, display };
  return { root: { kind: 'global', name: base }, rest, cls: classOf(scope.globals.get(base), rest, scope), field, display };
}

/**
 * The struct type of a call's receiver (`mdrv` in `mdrv->probe(...)`, `vdev->ops` in
 * `vdev->ops->open_device(vdev)`): the declared type of the parameter, local or file-scope
 * variable, then the types of the fields on the way. Unlike classOf, the receiver's own struct
 * need not be known (`struct mdev_driver` is declared outside the index). undefined when any step
 * is not known.
 */
export function receiverTypeOf(receiver: string, scope: Scope): string | undefined {
  const m = SIMPLE.exec(receiver);
  if (!m) return undefined;
  const [, base, rest] = m;
  const param = scope.params.find((p) => p.name === base);
  let type = param ? param.type : scope.localTypes.has(base) ? scope.localTypes.get(base) : scope.globals.get(base);
  // Subscripts keep the element's type: `tbl[i].fn` reads the field of an element.
  for (const f of rest.matchAll(/(?:->|\.)([A-Za-z_]\w*)/g)) {
    if (!type) return undefined;
    type = scope.structs.get(type)?.get(f[1]);
  }
  return type;
}

/** `struct T::field` for the last field of `rest`, walking field types from `rootType`. */
export function classOf(rootType: string | undefined, rest: string, scope: Pick<Scope, 'structs'>): string | undefined {
  if (!rootType) return undefined;
  const fields = [...rest.matchAll(/(?:->|\.)([A-Za-z_]\w*)/g)].map((m) => m[1]);
  if (!fields.length) return undefined;
  let type: string | undefined = rootType;
  for (const f of fields.slice(0, -1)) {
    type = scope.structs.get(type)?.get(f);
    if (!type) return undefined;
  }
  if (!scope.structs.get(type)?.has(fields[fields.length - 1])) return undefined;
  return `struct ${type}::${fields[fields.length - 1]}`;
}

/**
 * A callee's path rewritten at a call site: `$0->lock` with argument `x->dev_set` is
 * `x->dev_set->lock` (then resolved in the caller); `@g` stays global. undefined when the root
 * cannot be carried over (a callee local, an argument that is not an expression we follow).
 */
export function substitute(p: LockPath, args: string[]): string | undefined {
  if (p.root.kind === 'global') return `${p.root.name}${p.rest}`;
  if (p.root.kind !== 'param') return undefined;
  const arg = args[p.root.index];
  if (arg === undefined) return undefined;
  const a = normaliseExpr(arg);
  if (a.startsWith('&')) {
    // `&x` passed for a pointer: `$0->f` is `x.f`; anything else is not followed.
    return p.rest.startsWith('->') ? `${a.slice(1)}.${p.rest.slice(2)}` : undefined;
  }
  if (!SIMPLE.test(a) && !CONTAINER_OF.test(a)) return undefined;
  return `${a}${p.rest}`;
}

export type MatchKind = 'path' | 'class' | 'field';

/** How `want` is held in `held`, best match first; undefined when it is not. */
export function matchHeld(want: LockPath, held: Iterable<LockPath>): { how: MatchKind; lock: LockPath } | undefined {
  const key = pathKey(want);
  let best: { how: MatchKind; lock: LockPath } | undefined;
  for (const h of held) {
    if (key !== undefined && pathKey(h) === key) return { how: 'path', lock: h };
    if (want.cls && h.cls === want.cls) best ??= { how: 'class', lock: h };
    // Types unknown on either side: the field name is all there is.
    else if ((!want.cls || !h.cls) && h.field === want.field && (!best || best.how === 'field')) best ??= { how: 'field', lock: h };
  }
  return best;
}
