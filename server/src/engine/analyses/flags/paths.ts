// Path-sensitive flag states for union members: on the control-flow graph of each function (the
// one the lock analysis walks, cfg/build.ts), which discriminant flags are known set or clear at
// each read or write of a union member. A flag becomes known by a branch on a condition that
// tests it (`if (x->flags & F)`, `!(...)`, `(...) == 0`, `&&`, `||`, early returns through the
// CFG), by `x->flags |= F` (set) or `x->flags &= ~F` (clear); it is forgotten by another
// assignment that names it, and at joins where the paths disagree. Flags are tracked by name, not
// by the object that holds them: a flag tested on `fill->flags` says which member `info->devid`
// is, as in vfio_pci_fill_devs.
import type { Node } from 'web-tree-sitter';
import { buildCfg, CfgTooDeep, forwardDataflow } from '../../cfg/build';
import { impliedFlags, type Discriminant, type FlagState } from './discriminants';
import { fieldOwner } from './kernel';

/** Where a flag's state became known (0-based line and column). */
export interface FlagOrigin {
  state: FlagState;
  line: number;
  character: number;
  /** `tested`, `set by |=`, `cleared by &= ~`. */
  how: 'tested' | 'set' | 'cleared';
}

export interface UnionUse {
  owner: string;
  member: string;
  access: 'read' | 'write';
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  /** The discriminant the use contradicts, and what the path says about its flag. */
  discriminant: Discriminant;
  known: FlagOrigin;
}

type State = Map<string, FlagOrigin>;

type Ev =
  | { k: 'flag'; flag: string; origin: FlagOrigin | undefined }
  | { k: 'use'; owner: string; member: string; access: 'read' | 'write'; range: UnionUse['range']; assume: State };

const posOf = (n: Node) => ({ line: n.startPosition.row, character: n.startPosition.column });

/** Identifiers of a chain of `|` (and parentheses): `F | G`, `(F)`; undefined when it is something else. */
function orOperands(n: Node | null): string[] | undefined {
  if (!n) return undefined;
  if (n.type === 'identifier') return [n.text];
  if (n.type === 'number_literal') return [];
  if (n.type === 'parenthesized_expression') return orOperands(n.namedChildren.find((c) => c && c.type !== 'comment') ?? null);
  if (n.type === 'binary_expression' && n.childForFieldName('operator')?.type === '|') {
    const l = orOperands(n.childForFieldName('left'));
    const r = orOperands(n.childForFieldName('right'));
    return l && r ? [...l, ...r] : undefined;
  }
  return undefined;
}

/**
 * Reads and writes of discriminated union members, in every function of the tree, made on a path
 * where a discriminant's flag is known to be in the state that does not select the member.
 * `tokens` (FlagIndex.tokens) finds the functions that name a member and a flag from the names
 * themselves.
 */
export function inactiveUnionUses(discriminants: Discriminant[], tokens: (name: string) => Node[]): UnionUse[] {
  if (!discriminants.length) return [];
  const flags = new Set(discriminants.map((d) => d.flag));
  const members = new Set(discriminants.map((d) => d.member));
  const isFlag = (n: string) => flags.has(n);
  const out: UnionUse[] = [];
  for (const body of bodiesNaming(members, flags, tokens)) {
    try {
      out.push(...analyseFunction(body, discriminants, isFlag));
    } catch (e) {
      // Nested beyond what the CFG builder takes: no finding rather than a guess.
      if (!(e instanceof CfgTooDeep)) throw e;
    }
  }
  return out;
}

/** Bodies of the functions that name a discriminated member and one of its flags, in document order: from the places the names occur up to the functions around them. */
function bodiesNaming(members: Set<string>, flags: Set<string>, tokens: (name: string) => Node[]): Node[] {
  const found = new Map<number, { body: Node; member: boolean; flag: boolean }>();
  const mark = (names: Set<string>, key: 'member' | 'flag') => {
    for (const name of names) {
      for (const n of tokens(name)) {
        if (n.type !== 'identifier' && n.type !== 'field_identifier') continue;
        for (let fn = n.parent; fn; fn = fn.parent) {
          if (fn.type !== 'function_definition') continue;
          const body = fn.childForFieldName('body');
          if (!body || n.startIndex < body.startIndex || n.endIndex > body.endIndex) continue;
          const entry = found.get(fn.id) ?? { body, member: false, flag: false };
          entry[key] = true;
          found.set(fn.id, entry);
        }
      }
    }
  };
  mark(members, 'member');
  mark(flags, 'flag');
  return [...found.values()].filter((e) => e.member && e.flag).map((e) => e.body).sort((a, b) => a.startIndex - b.startIndex);
}

function analyseFunction(body: Node, discriminants: Discriminant[], isFlag: (n: string) => boolean): UnionUse[] {
  const members = new Set(discriminants.map((d) => d.member));
  const fromCondition = (cond: Node, value: boolean): State => {
    const m = new Map<string, FlagOrigin>();
    for (const [flag, state] of impliedFlags(cond, value, isFlag)) m.set(flag, { state, ...posOf(cond), how: 'tested' });
    return m;
  };
  const overlay = (a: State, b: State): State => {
    if (!b.size) return a;
    const m = new Map(a);
    for (const [k, v] of b) m.set(k, v);
    return m;
  };

  const events = (n: Node): Ev[] => {
    const evs: Ev[] = [];
    const visit = (x: Node | null, assume: State, depth: number): void => {
      if (!x || depth > 200) return;
      switch (x.type) {
        case 'binary_expression': {
          const op = x.childForFieldName('operator')?.type;
          const l = x.childForFieldName('left');
          const r = x.childForFieldName('right');
          if (op === '&&' || op === '||') {
            visit(l, assume, depth + 1);
            // The right operand runs only when the left one was true (&&) or false (||).
            visit(r, l ? overlay(assume, fromCondition(l, op === '&&')) : assume, depth + 1);
            return;
          }
          break;
        }
        case 'conditional_expression': {
          const c = x.childForFieldName('condition');
          visit(c, assume, depth + 1);
          visit(x.childForFieldName('consequence'), c ? overlay(assume, fromCondition(c, true)) : assume, depth + 1);
          visit(x.childForFieldName('alternative'), c ? overlay(assume, fromCondition(c, false)) : assume, depth + 1);
          return;
        }
        // `&x->m` and `sizeof(x->m)` neither read nor write the member.
        case 'sizeof_expression':
        case 'alignof_expression':
          return;
        case 'pointer_expression':
          if (x.childForFieldName('operator')?.type === '&') return;
          break;
        case 'assignment_expression': {
          const op = x.childForFieldName('operator')?.type ?? '=';
          const l = x.childForFieldName('left');
          const r = x.childForFieldName('right');
          visit(r, assume, depth + 1);
          visit(l, assume, depth + 1);
          flagEffects(x, op, r);
          return;
        }
        case 'field_expression': {
          const f = x.childForFieldName('field');
          if (f && members.has(f.text)) {
            const at = fieldOwner(x);
            if (at && discriminants.some((d) => d.owner === at.owner && d.member === at.member)) {
              const p = x.parent;
              const written = (p?.type === 'assignment_expression' && p.childForFieldName('left')?.id === x.id) || p?.type === 'update_expression';
              evs.push({ k: 'use', owner: at.owner, member: at.member, access: written ? 'write' : 'read', range: { start: posOf(x), end: { line: x.endPosition.row, character: x.endPosition.column } }, assume });
            }
          }
          break;
        }
        default:
          break;
      }
      for (const c of x.namedChildren) visit(c, assume, depth + 1);
    };
    /** `|= F | G` sets, `&= ~F` / `&= ~(F | G)` clears; another assignment naming a flag forgets it. */
    const flagEffects = (x: Node, op: string, r: Node | null) => {
      if (!r) return;
      const named = r.descendantsOfType('identifier').map((i) => i?.text).filter((t): t is string => !!t && isFlag(t));
      if (r.type === 'identifier' && isFlag(r.text)) named.push(r.text);
      if (!named.length) return;
      const at = posOf(x);
      let effect: { flags: string[]; how: 'set' | 'cleared' } | undefined;
      if (op === '|=') {
        const ops = orOperands(r);
        if (ops) effect = { flags: ops.filter(isFlag), how: 'set' };
      } else if (op === '&=' && r.type === 'unary_expression' && r.childForFieldName('operator')?.type === '~') {
        const ops = orOperands(r.childForFieldName('argument'));
        if (ops) effect = { flags: ops.filter(isFlag), how: 'cleared' };
      }
      for (const flag of new Set(named)) {
        const known = effect?.flags.includes(flag);
        evs.push({ k: 'flag', flag, origin: known ? { state: effect!.how === 'set' ? 'set' : 'clear', ...at, how: effect!.how } : undefined });
      }
    };
    visit(n, new Map(), 0);
    return evs;
  };

  const cfg = buildCfg<Ev, Node>(body, {
    events,
    branch: (cond, value) => [...fromCondition(cond, value)].map(([flag, origin]) => ({ k: 'flag' as const, flag, origin })),
  });
  const apply = (state: State, evs: Ev[], uses?: UnionUse[]): State => {
    let s = state;
    for (const e of evs) {
      if (e.k === 'flag') {
        if (s.get(e.flag) === e.origin) continue;
        s = new Map(s);
        if (e.origin) s.set(e.flag, e.origin);
        else s.delete(e.flag);
        continue;
      }
      if (!uses) continue;
      const here = overlay(s, e.assume);
      for (const d of discriminants) {
        if (d.owner !== e.owner || d.member !== e.member) continue;
        const known = here.get(d.flag);
        if (known && known.state !== d.when) {
          uses.push({ owner: e.owner, member: e.member, access: e.access, range: e.range, discriminant: d, known });
          break;
        }
      }
    }
    return s;
  };
  const meet = (a: State, b: State): State => {
    const m = new Map<string, FlagOrigin>();
    for (const [k, v] of a) if (b.get(k)?.state === v.state) m.set(k, v);
    return m;
  };
  const equals = (a: State, b: State) => a.size === b.size && [...a].every(([k, v]) => b.get(k)?.state === v.state);
  const flow = forwardDataflow<Ev, State>(cfg, new Map(), (s, evs) => apply(s, evs), meet, equals);
  const uses: UnionUse[] = [];
  cfg.nodes.forEach((node, i) => {
    const before = flow.before[i];
    if (before) apply(before, node.events, uses);
  });
  // A use is one event of one node; keep the first report of each place.
  const seen = new Set<string>();
  return uses.filter((u) => {
    const key = `${u.range.start.line}:${u.range.start.character}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
