// Union discriminants: which flag (in which member) says a union member is the active one. From
// configuration, from the header's comments ("devid is valid when X is set"), or from kernel code
// that writes one member under `if (flags & X)` and the other in the else branch. Evidence kept.
import type { Node, Tree } from 'web-tree-sitter';
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

export function commentDiscriminants(text: string, file: string, model: FlagModel): Discriminant[] {
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

/** Flags tested in a condition: `x->flags & FLAG` (FLAG known), with the tested expression's node. */
export function testedFlags(cond: Node, isFlag: (name: string) => boolean): { flag: string; node: Node }[] {
  const out: { flag: string; node: Node }[] = [];
  const visit = (n: Node) => {
    if (n.type === 'binary_expression' && n.childForFieldName('operator')?.type === '&') {
      const l = n.childForFieldName('left');
      const r = n.childForFieldName('right');
      for (const [a, b] of [[l, r], [r, l]] as const) {
        if (a?.type === 'identifier' && isFlag(a.text) && b && /field_expression|identifier/.test(b.type)) out.push({ flag: a.text, node: n });
      }
      return;
    }
    // `!(flags & X)` inverts: leave it to the caller's polarity check; a `!` makes it unusable here.
    if (n.type === 'unary_expression' || n.type === 'call_expression') return;
    for (const c of n.namedChildren) if (c) visit(c);
  };
  visit(cond);
  return out;
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

/** `if (x->flags & FLAG) { ... u->a = ...; } else { ... u->b = ...; }` in kernel code. */
export function codeDiscriminants(tree: Tree, file: string, isFlag: (n: string) => boolean, unionMember: (m: string) => { owner: string; siblings: string[] }[] | undefined): Discriminant[] {
  const out: Discriminant[] = [];
  for (const ifs of tree.rootNode.descendantsOfType('if_statement')) {
    if (!ifs) continue;
    const cond = ifs.childForFieldName('condition');
    const tests = cond ? testedFlags(cond, isFlag) : [];
    if (tests.length !== 1 || cond!.text.includes('!') || /\|\|/.test(cond!.text)) continue;
    const alt = ifs.childForFieldName('alternative');
    const thenW = writtenMembers(ifs.childForFieldName('consequence'));
    const elseW = writtenMembers(alt);
    const ev = (n: Node): Evidence => ({ file, line: n.startPosition.row, source: 'code' });
    for (const w of thenW) {
      for (const u of unionMember(w.member) ?? []) {
        // Only when the else branch writes a sibling: otherwise the member may be written anyway.
        const other = elseW.find((e) => u.siblings.includes(e.member));
        if (other) {
          addDiscriminant(out, { owner: u.owner, member: w.member, flag: tests[0].flag, when: 'set', evidence: [ev(w.node)] });
          addDiscriminant(out, { owner: u.owner, member: other.member, flag: tests[0].flag, when: 'clear', evidence: [ev(other.node)] });
        }
      }
    }
  }
  return out;
}
