// Union discriminants: which flag (in which member) says a union member is the active one. From
// configuration, from the header's comments ("devid is valid when X is set"), or from kernel code
// that writes one member under `if (flags & X)` and the other in the else branch. Evidence kept.
import type { Node } from 'web-tree-sitter';
import { commentSentences, fieldKey, splitFieldRef, type Evidence, type FlagConfigFacts, type FlagModel } from './model';

export interface Discriminant {
  /** The type holding the union: `struct vfio_pci_dependent_device`. */
  owner: string;
  member: string;
  flag: string;
  /** Active when the flag is set, or when it is clear (the other member of a two-member union). */
  when: 'set' | 'clear';
  evidence: Evidence[];
}

const SELECT_RE = /\b([a-z_][a-z0-9_]*)\s+(?:is|are)\s+(?:only\s+)?(?:valid|reported|used|present|meaningful|filled)\s+(?:only\s+)?(?:when|if)\s+(?:the\s+)?(?:flag\s+)?([A-Z][A-Z0-9_]+)\s+is\s+set\b/;
const REPORTED_RE = /\b([a-z_][a-z0-9_]*)\s+is\s+reported\b/;
const INDICATE_RE = /\b(?:flag\s+)?([A-Z][A-Z0-9_]+)\s+is\s+set\s+to\s+indicate\b/i;

/** Union members of a model by name: name → [owner, siblings]. */
function unionMembers(model: FlagModel): Map<string, { owner: string; siblings: string[] }[]> {
  const out = new Map<string, { owner: string; siblings: string[] }[]>();
  for (const f of model.fields.values()) {
    if (!f.unionSiblings) continue;
    out.set(f.member, [...(out.get(f.member) ?? []), { owner: f.owner, siblings: f.unionSiblings }]);
  }
  return out;
}

export function addDiscriminant(list: Discriminant[], d: Discriminant): void {
  const same = list.find((x) => x.owner === d.owner && x.member === d.member && x.flag === d.flag && x.when === d.when);
  if (same) same.evidence.push(...d.evidence);
  else list.push(d);
}

/** Adds a discriminant from another source, keeping one copy of each piece of evidence. */
export function mergeDiscriminant(list: Discriminant[], d: Discriminant): void {
  const same = list.find((x) => x.owner === d.owner && x.member === d.member && x.flag === d.flag && x.when === d.when);
  if (!same) {
    list.push({ ...d, evidence: [...d.evidence] });
    return;
  }
  for (const e of d.evidence) {
    if (!same.evidence.some((x) => x.file === e.file && x.line === e.line && x.source === e.source)) same.evidence.push(e);
  }
}

/** The member selected, and in a two-member union the other one, with the opposite polarity. */
function select(list: Discriminant[], owner: string, member: string, siblings: string[], flag: string, when: 'set' | 'clear', ev: Evidence): void {
  addDiscriminant(list, { owner, member, flag, when, evidence: [ev] });
  if (siblings.length === 1) addDiscriminant(list, { owner, member: siblings[0], flag, when: when === 'set' ? 'clear' : 'set', evidence: [ev] });
}

/** Comment discriminants depend only on the header's model: read once per model, not per check. */
const fromComments = new WeakMap<FlagModel, { text: string; file: string; list: Discriminant[] }>();

export function commentDiscriminants(text: string, file: string, model: FlagModel): Discriminant[] {
  const hit = fromComments.get(model);
  if (hit && hit.text === text && hit.file === file) return hit.list;
  const list = readCommentDiscriminants(text, file, model);
  fromComments.set(model, { text, file, list });
  return list;
}

/** The comment discriminants of `model` found earlier (kept with the model in the cache folder): not read again. */
export function knownCommentDiscriminants(text: string, file: string, model: FlagModel, list: Discriminant[]): void {
  fromComments.set(model, { text, file, list });
}

function readCommentDiscriminants(text: string, file: string, model: FlagModel): Discriminant[] {
  const out: Discriminant[] = [];
  const members = unionMembers(model);
  const sentences = commentSentences(text);
  sentences.forEach((s, i) => {
    const flagKnown = (n: string) => !!model.macros.get(n)?.field;
    const a = SELECT_RE.exec(s.text);
    if (a && members.has(a[1]) && flagKnown(a[2])) {
      for (const u of members.get(a[1])!) select(out, u.owner, a[1], u.siblings, a[2], 'set', { file, line: s.line, source: 'comment' });
      return;
    }
    // "devid is reported. Flag X is set to indicate this data type."
    const r = REPORTED_RE.exec(s.text);
    const next = sentences[i + 1];
    const ind = next && next.comment === s.comment ? INDICATE_RE.exec(next.text) : null;
    if (r && ind && members.has(r[1]) && flagKnown(ind[1])) {
      for (const u of members.get(r[1])!) select(out, u.owner, r[1], u.siblings, ind[1], 'set', { file, line: s.line, source: 'comment' });
    }
  });
  return out;
}

export function configDiscriminants(config: FlagConfigFacts | undefined, model: FlagModel): Discriminant[] {
  const out: Discriminant[] = [];
  for (const d of config?.discriminants ?? []) {
    const f = model.fields.get(fieldKey(d.union, d.member));
    if (!f) continue;
    const [, member] = splitFieldRef(d.field);
    if (!member) continue;
    select(out, d.union, d.member, f.unionSiblings ?? [], d.flag, d.when, { file: config!.file, line: 0, source: 'configuration' });
  }
  return out;
}

export type FlagState = 'set' | 'clear';

const opposite = (s: FlagState): FlagState => (s === 'set' ? 'clear' : 'set');
const isZero = (n: Node | null) => !!n && n.type === 'number_literal' && /^0+[uUlL]*$|^0[xX]0+[uUlL]*$/.test(n.text);
/** Wrappers that pass their argument's truth through: `likely(x)`, `unlikely(x)`, `!!x` is handled as two `!`. */
const PASS_THROUGH = new Set(['likely', 'unlikely']);

/**
 * The flags whose state a condition implies when it evaluates to `value`: `x & F` (either order),
 * `!c`, `(x & F) == 0` / `!= 0` / `== F` / `!= F`, `a && b` (true: both), `a || b` (false:
 * neither), parentheses, casts, likely()/unlikely(). A flag implied both set and clear (an
 * unreachable branch) is left out. Anything else implies nothing.
 */
export function impliedFlags(cond: Node, value: boolean, isFlag: (name: string) => boolean): Map<string, FlagState> {
  const out = new Map<string, FlagState>();
  const conflicts = new Set<string>();
  const add = (flag: string, state: FlagState) => {
    const prev = out.get(flag);
    if (prev && prev !== state) conflicts.add(flag);
    else out.set(flag, state);
  };
  /** `x & F` / `F & x`: the flag, or undefined. */
  const flagTest = (n: Node | null): string | undefined => {
    while (n?.type === 'parenthesized_expression') n = n.namedChildren.find((c) => c && c.type !== 'comment') ?? null;
    if (n?.type !== 'binary_expression' || n.childForFieldName('operator')?.type !== '&') return undefined;
    const l = n.childForFieldName('left');
    const r = n.childForFieldName('right');
    for (const [a, b] of [[l, r], [r, l]] as const) {
      if (a?.type === 'identifier' && isFlag(a.text) && b && b.type !== 'number_literal' && !(b.type === 'identifier' && isFlag(b.text))) return a.text;
    }
    return undefined;
  };
  const walk = (n: Node | null, v: boolean, depth: number): void => {
    if (!n || depth > 32) return;
    switch (n.type) {
      case 'parenthesized_expression':
        walk(n.namedChildren.find((c) => c && c.type !== 'comment') ?? null, v, depth + 1);
        return;
      case 'cast_expression':
        walk(n.childForFieldName('value'), v, depth + 1);
        return;
      case 'unary_expression':
        if (n.childForFieldName('operator')?.type === '!') walk(n.childForFieldName('argument'), !v, depth + 1);
        return;
      case 'call_expression': {
        const args = n.childForFieldName('arguments')?.namedChildren.filter((c) => c && c.type !== 'comment') ?? [];
        if (PASS_THROUGH.has(n.childForFieldName('function')?.text ?? '') && args.length === 1) walk(args[0], v, depth + 1);
        return;
      }
      case 'binary_expression': {
        const op = n.childForFieldName('operator')?.type;
        const l = n.childForFieldName('left');
        const r = n.childForFieldName('right');
        if (op === '&&') {
          if (v) { walk(l, true, depth + 1); walk(r, true, depth + 1); }
          return;
        }
        if (op === '||') {
          if (!v) { walk(l, false, depth + 1); walk(r, false, depth + 1); }
          return;
        }
        if (op === '&') {
          const f = flagTest(n);
          if (f) add(f, v ? 'set' : 'clear');
          return;
        }
        if (op === '==' || op === '!=') {
          const eq = op === '==';
          for (const [a, b] of [[l, r], [r, l]] as const) {
            // (x & F) == 0, (x & F) != 0
            if (isZero(b)) { walk(a, eq ? !v : v, depth + 1); return; }
            // (x & F) == F, (x & F) != F
            const f = flagTest(a);
            if (f && b?.type === 'identifier' && b.text === f) { add(f, (eq ? v : !v) ? 'set' : 'clear'); return; }
          }
        }
        return;
      }
      default:
        return;
    }
  };
  walk(cond, value, 0);
  for (const c of conflicts) out.delete(c);
  return out;
}

/** A condition that is one flag's test and nothing else: both outcomes say the flag's state. */
export function singleFlagTest(cond: Node, isFlag: (name: string) => boolean): { flag: string; whenTrue: FlagState } | undefined {
  const t = impliedFlags(cond, true, isFlag);
  const f = impliedFlags(cond, false, isFlag);
  if (t.size !== 1 || f.size !== 1) return undefined;
  const [[flag, state]] = [...t];
  return f.get(flag) === opposite(state) ? { flag, whenTrue: state } : undefined;
}

/** Members written (`p->m = ...`) anywhere inside `n`: [member, node]. */
export function writtenMembers(n: Node | null): { member: string; node: Node }[] {
  const out: { member: string; node: Node }[] = [];
  if (!n) return out;
  for (const a of n.descendantsOfType('assignment_expression')) {
    const l = a?.childForFieldName('left');
    if (l?.type === 'field_expression') {
      const f = l.childForFieldName('field');
      if (f) out.push({ member: f.text, node: l });
    }
  }
  return out;
}

/**
 * `if (x->flags & FLAG) { ... u->a = ...; } else { ... u->b = ...; }` in kernel code (also
 * `!(x->flags & FLAG)`, `(x->flags & FLAG) == 0`: the branches swap). `statements`: the `if` statements
 * to look at, in document order (the index passes those whose condition names a flag).
 */
export function codeDiscriminants(statements: Node[], file: string, isFlag: (n: string) => boolean, unionMember: (m: string) => { owner: string; siblings: string[] }[] | undefined): Discriminant[] {
  const out: Discriminant[] = [];
  for (const ifs of statements) {
    const cond = ifs.childForFieldName('condition');
    const test = cond ? singleFlagTest(cond, isFlag) : undefined;
    if (!test) continue;
    const alt = ifs.childForFieldName('alternative');
    const thenW = writtenMembers(ifs.childForFieldName('consequence'));
    const elseW = writtenMembers(alt);
    const ev = (n: Node): Evidence => ({ file, line: n.startPosition.row, source: 'code' });
    for (const w of thenW) {
      for (const u of unionMember(w.member) ?? []) {
        // Only when the else branch writes a sibling: otherwise the member may be written anyway.
        const other = elseW.find((e) => u.siblings.includes(e.member));
        if (other) {
          addDiscriminant(out, { owner: u.owner, member: w.member, flag: test.flag, when: test.whenTrue, evidence: [ev(w.node)] });
          addDiscriminant(out, { owner: u.owner, member: other.member, flag: test.flag, when: opposite(test.whenTrue), evidence: [ev(other.node)] });
        }
      }
    }
  }
  return out;
}
