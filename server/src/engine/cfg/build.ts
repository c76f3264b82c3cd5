// A control-flow graph per function, built from the tree-sitter tree of blanked kernel C. The
// graph is generic over what a node carries: the client turns expressions into its own events
// (plain data, so the graph outlives the tree) and says what happens on branch edges and when a
// scope is left (guard() releases).
import type { SyntaxNode, SyntaxNodeOf } from '../parse/plain-tree';

export interface CfgEdge<E> {
  to: number;
  /** Effects of taking this edge (e.g. a trylock that failed on this branch). */
  events: E[];
}

export interface CfgNode<E> {
  events: E[];
  succ: CfgEdge<E>[];
}

export interface Cfg<E> {
  nodes: CfgNode<E>[];
  entry: number;
  /** Every return (and the end of the body) reaches this node. */
  exit: number;
}

export interface CfgHooks<E, N extends SyntaxNodeOf<N> = SyntaxNode> {
  /** Events of an expression (or a declaration), in evaluation order. */
  events(expr: N): E[];
  /** Extra events on the edge where `cond` evaluated to `value` (besides the condition's own events). */
  branch?(cond: N, value: boolean): E[];
  /** Called for every statement: events to emit when its enclosing block is left (guard()). */
  scopeExit?(stmt: N): E[] | undefined;
  /** A statement that owns a scope (a scoped_guard block): events on entry and on leaving it. */
  scopedStatement?(stmt: N): { enter: E[]; exit: E[] } | undefined;
  /** Events for a return statement (after its value's events). */
  returnEvents?(stmt: N): E[];
}

interface Frame<E> {
  /** Events to run when this scope is left, innermost last. */
  exits: E[];
  kind: 'block' | 'loop' | 'switch' | 'function';
  breakTo?: number;
  continueTo?: number;
}

/** Statements nested deeper than this are not built into a CFG (the builder recurses once per level). */
export const MAX_CFG_DEPTH = 400;

/** Thrown for a body nested deeper than MAX_CFG_DEPTH: callers leave such a function unanalysed. */
export class CfgTooDeep extends Error {
  override name = 'CfgTooDeep';
}

/**
 * Builds the CFG of a function body (a compound_statement), over web-tree-sitter's nodes or the
 * plain copy of parse/plain-tree.ts (N: the hooks get the nodes of the tree they were given).
 */
export function buildCfg<E, N extends SyntaxNodeOf<N> = SyntaxNode>(body: N, hooks: CfgHooks<E, N>): Cfg<E> {
  let depth = 0;
  const nodes: CfgNode<E>[] = [];
  const newNode = (events: E[] = []): number => {
    nodes.push({ events, succ: [] });
    return nodes.length - 1;
  };
  const edge = (from: number, to: number, events: E[] = []) => nodes[from].succ.push({ to, events });
  const entry = newNode();
  const exit = newNode();
  const labels = new Map<string, number>();
  const gotos: { from: number; label: string }[] = [];
  const frames: Frame<E>[] = [{ exits: [], kind: 'function' }];

  /** Exit events of the frames above index `depth`, innermost first. */
  const unwind = (depth: number): E[] => {
    const out: E[] = [];
    for (let i = frames.length - 1; i > depth; i--) out.push(...[...frames[i].exits].reverse());
    return out;
  };

  // Each function returns the node control falls out of, or -1 when it does not fall through.
  const stmt = (n: N, cur: number): number => {
    if (++depth > MAX_CFG_DEPTH) throw new CfgTooDeep(`statements nested more than ${MAX_CFG_DEPTH} deep`);
    try {
      return stmtAt(n, cur);
    } finally {
      depth--;
    }
  };
  const stmtAt = (n: N, cur: number): number => {
    if (cur < 0) {
      // Unreachable code may still hold a label: give it a fresh, unreached node.
      if (!containsLabel(n)) return -1;
      cur = newNode();
    }
    const scoped = hooks.scopedStatement?.(n);
    if (scoped) {
      // if (...) { body } from a scoped_guard: the lock is held inside the block only.
      const cond = n.childForFieldName('condition');
      const condEvents = cond ? hooks.events(cond) : [];
      const start = newNode(condEvents);
      edge(cur, start);
      const inside = newNode(scoped.enter);
      edge(start, inside);
      frames.push({ exits: scoped.exit, kind: 'block' });
      const bodyNode = n.childForFieldName('consequence');
      let end = bodyNode ? stmt(bodyNode, inside) : inside;
      frames.pop();
      const after = newNode();
      if (end >= 0) {
        const leave = newNode(scoped.exit);
        edge(end, leave);
        end = leave;
        edge(end, after);
      }
      // scoped_cond_guard: the block may be skipped when the lock was not taken.
      edge(start, after);
      return after;
    }
    switch (n.type) {
      case 'compound_statement': {
        frames.push({ exits: [], kind: 'block' });
        let c = cur;
        for (const child of n.namedChildren) {
          if (!child) continue;
          c = stmt(child, c);
          const exitEv = hooks.scopeExit?.(child);
          if (exitEv) frames[frames.length - 1].exits.push(...exitEv);
        }
        const frame = frames.pop()!;
        if (c >= 0 && frame.exits.length) {
          const leave = newNode([...frame.exits].reverse());
          edge(c, leave);
          c = leave;
        }
        return c;
      }
      case 'if_statement': {
        const cond = n.childForFieldName('condition');
        const head = newNode(cond ? hooks.events(cond) : []);
        edge(cur, head);
        const thenStart = newNode();
        edge(head, thenStart, cond && hooks.branch ? hooks.branch(cond, true) : []);
        const cons = n.childForFieldName('consequence');
        const thenEnd = cons ? stmt(cons, thenStart) : thenStart;
        const alt = n.childForFieldName('alternative');
        const elseStart = newNode();
        edge(head, elseStart, cond && hooks.branch ? hooks.branch(cond, false) : []);
        const altStmt = alt ? (alt.type === 'else_clause' ? alt.namedChildren.find((c) => c && c.type !== 'comment') ?? null : alt) : null;
        const elseEnd = altStmt ? stmt(altStmt, elseStart) : elseStart;
        return join(thenEnd, elseEnd);
      }
      case 'while_statement':
      case 'for_statement': {
        let c = cur;
        if (n.type === 'for_statement') {
          const init = n.childForFieldName('initializer');
          if (init) {
            const i = newNode(hooks.events(init));
            edge(c, i);
            c = i;
          }
        }
        const cond = n.childForFieldName('condition');
        const head = newNode(cond ? hooks.events(cond) : []);
        edge(c, head);
        const after = newNode();
        const update = n.type === 'for_statement' ? n.childForFieldName('update') : null;
        const cont = update ? newNode(hooks.events(update)) : head;
        if (update) edge(cont, head);
        const bodyStart = newNode();
        edge(head, bodyStart, cond && hooks.branch ? hooks.branch(cond, true) : []);
        // `for (;;)` has no exit through its condition.
        if (cond || n.type === 'while_statement') edge(head, after, cond && hooks.branch ? hooks.branch(cond, false) : []);
        frames.push({ exits: [], kind: 'loop', breakTo: after, continueTo: cont });
        const body = n.childForFieldName('body');
        const end = body ? stmt(body, bodyStart) : bodyStart;
        frames.pop();
        if (end >= 0) edge(end, cont);
        return after;
      }
      case 'do_statement': {
        const bodyStart = newNode();
        edge(cur, bodyStart);
        const cond = n.childForFieldName('condition');
        const head = newNode(cond ? hooks.events(cond) : []);
        const after = newNode();
        frames.push({ exits: [], kind: 'loop', breakTo: after, continueTo: head });
        const body = n.childForFieldName('body');
        const end = body ? stmt(body, bodyStart) : bodyStart;
        frames.pop();
        if (end >= 0) edge(end, head);
        // `do { } while (0)` runs once.
        if (!(cond && /^\(\s*0\s*\)$/.test(cond.text))) edge(head, bodyStart, cond && hooks.branch ? hooks.branch(cond, true) : []);
        edge(head, after, cond && hooks.branch ? hooks.branch(cond, false) : []);
        return after;
      }
      case 'switch_statement': {
        const cond = n.childForFieldName('condition');
        const head = newNode(cond ? hooks.events(cond) : []);
        edge(cur, head);
        const after = newNode();
        frames.push({ exits: [], kind: 'switch', breakTo: after });
        const body = n.childForFieldName('body');
        let c = -1;
        let hasDefault = false;
        for (const child of body?.namedChildren ?? []) {
          if (!child) continue;
          if (child.type === 'case_statement') {
            const caseStart = newNode();
            edge(head, caseStart);
            if (c >= 0) edge(c, caseStart); // fall-through
            c = caseStart;
            if (!child.childForFieldName('value')) hasDefault = true;
            const value = child.childForFieldName('value');
            for (const s of child.namedChildren) {
              if (!s || (value && s.id === value.id)) continue;
              c = stmt(s, c);
            }
          } else c = stmt(child, c);
        }
        frames.pop();
        if (c >= 0) edge(c, after);
        if (!hasDefault) edge(head, after);
        return after;
      }
      case 'break_statement':
      case 'continue_statement': {
        for (let i = frames.length - 1; i >= 0; i--) {
          const f = frames[i];
          const target = n.type === 'break_statement' ? f.breakTo : f.kind === 'loop' ? f.continueTo : undefined;
          if (target !== undefined) {
            const leave = newNode(unwind(i));
            edge(cur, leave);
            edge(leave, target);
            return -1;
          }
        }
        return -1;
      }
      case 'return_statement': {
        const value = n.namedChildren.find((c) => c && c.type !== 'comment');
        const ev = [...(value ? hooks.events(value) : []), ...unwind(0), ...(hooks.returnEvents?.(n) ?? [])];
        const r = newNode(ev);
        edge(cur, r);
        edge(r, exit);
        return -1;
      }
      case 'goto_statement': {
        const label = n.childForFieldName('label')?.text;
        if (label) gotos.push({ from: cur, label });
        return -1;
      }
      case 'labeled_statement': {
        const label = n.childForFieldName('label')?.text ?? '';
        const at = newNode();
        labels.set(label, at);
        edge(cur, at);
        const inner = n.namedChildren.find((c) => c && c.type !== 'statement_identifier' && c.type !== 'comment');
        return inner ? stmt(inner, at) : at;
      }
      case 'attributed_statement': {
        const inner = n.namedChildren.find((c) => c && c.type !== 'attribute_declaration');
        return inner ? stmt(inner, cur) : cur;
      }
      case 'comment':
      case ';':
        return cur;
      default: {
        // Expression statements, declarations and anything else evaluated straight through.
        const ev = hooks.events(n);
        if (!ev.length) return cur;
        const s = newNode(ev);
        edge(cur, s);
        return s;
      }
    }
  };

  const join = (a: number, b: number): number => {
    if (a < 0 && b < 0) return -1;
    const j = newNode();
    if (a >= 0) edge(a, j);
    if (b >= 0) edge(b, j);
    return j;
  };

  const end = stmt(body, entry);
  if (end >= 0) {
    const r = newNode(hooks.returnEvents?.(body) ?? []);
    edge(end, r);
    edge(r, exit);
  }
  for (const g of gotos) {
    const target = labels.get(g.label);
    if (target !== undefined) edge(g.from, target);
  }
  return { nodes, entry, exit };
}

// An explicit stack, not recursion: unreachable code can nest thousands deep (a fuzzed file
// overflowed the call stack here).
function containsLabel<N extends SyntaxNodeOf<N>>(root: N): boolean {
  const stack: N[] = [root];
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    if (n.type === 'labeled_statement' || n.type === 'case_statement') return true;
    for (const c of n.namedChildren) if (c !== null && c.type !== 'expression_statement') stack.push(c);
  }
  return false;
}

/** Successor lists in reverse post-order from the entry: a good order for forward dataflow. */
export function reversePostOrder<E>(cfg: Cfg<E>): number[] {
  const seen = new Set<number>();
  const order: number[] = [];
  const stack: [number, number][] = [[cfg.entry, 0]];
  seen.add(cfg.entry);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const succ = cfg.nodes[top[0]].succ;
    if (top[1] < succ.length) {
      const next = succ[top[1]++].to;
      if (!seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(top[0]);
      stack.pop();
    }
  }
  return order.reverse();
}

/**
 * Forward must-dataflow over the graph: `transfer` applies a node's or an edge's events to a
 * state, `meet` combines states at joins. Unreached nodes have no state.
 */
export function forwardDataflow<E, S>(
  cfg: Cfg<E>,
  initial: S,
  transfer: (state: S, events: E[], where: { node: number; edge?: number }) => S,
  meet: (a: S, b: S) => S,
  equals: (a: S, b: S) => boolean,
): { before: (S | undefined)[]; after: (S | undefined)[] } {
  const count = cfg.nodes.length;
  const before: (S | undefined)[] = new Array(count).fill(undefined);
  const after: (S | undefined)[] = new Array(count).fill(undefined);
  // The work list gives the node of lowest rank (reverse post-order) first: a binary heap of
  // ranks, each node in it at most once.
  const order = reversePostOrder(cfg);
  const rank = new Int32Array(count);
  order.forEach((n, i) => (rank[n] = i));
  const queued = new Uint8Array(count);
  const heap: number[] = [];
  const push = (n: number) => {
    if (queued[n]) return;
    queued[n] = 1;
    let i = heap.length;
    const r = rank[n];
    heap.push(r);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent] <= r) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = r;
  };
  const pop = (): number => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const c = l + 1 < heap.length && heap[l + 1] < heap[l] ? l + 1 : l;
        if (heap[c] >= last) break;
        heap[i] = heap[c];
        i = c;
      }
      heap[i] = last;
    }
    const n = order[top];
    queued[n] = 0;
    return n;
  };
  before[cfg.entry] = initial;
  push(cfg.entry);
  let steps = 0;
  while (heap.length && steps++ < 200000) {
    const n = pop();
    const inState = before[n];
    if (inState === undefined) continue;
    const out = transfer(inState, cfg.nodes[n].events, { node: n });
    after[n] = out;
    const succ = cfg.nodes[n].succ;
    for (let i = 0; i < succ.length; i++) {
      const e = succ[i];
      const s = e.events.length ? transfer(out, e.events, { node: n, edge: i }) : out;
      const prev = before[e.to];
      const merged = prev === undefined ? s : meet(prev, s);
      if (prev === undefined || !equals(prev, merged)) {
        before[e.to] = merged;
        push(e.to);
      }
    }
  }
  return { before, after };
}
