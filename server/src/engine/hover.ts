// Hover: on a struct/union/typedef name or a member (declaration or use such as `p->member` or
// `sizeof(struct x)`), its layout on every configured ABI, and a warning when the ABIs disagree.
import type { Node, Tree } from 'web-tree-sitter';
import { flagHoverAt, flagWordAt, kernelFacts } from './analyses/flags/hover';
import { lockAnalysisOf, locksHeldAt, where } from './analyses/locks';
import type { Analyser, Unit } from './analyser';
import { toTypeLayout } from './layout/compute';
import type { AggregateDecl, TypeExpr } from './model/decls';
import { parseTypeText } from './model/scope';
import type { AbiName, HoverResult, MemberLayout, Position, Range, TypeLayout } from './types';

type Target =
  | { kind: 'type'; tag: 'struct' | 'union' | 'enum'; name: string }
  | { kind: 'typedef'; name: string }
  | { kind: 'member'; owner: { tag: 'struct' | 'union'; name: string } | { typedef: string }; path: string };

const rangeOf = (n: Node): Range => ({
  start: { line: n.startPosition.row, character: n.startPosition.column },
  end: { line: n.endPosition.row, character: n.endPosition.column },
});

export function hoverAt(a: Analyser, file: string, pos: Position): HoverResult | null {
  const found = a.withTree(file, (tree, text) => {
    let node = tree.rootNode.descendantForPosition({ row: pos.line, column: pos.character });
    // Just past the end of a name (where a cursor sits after typing it) still means that name.
    if ((!node || !/identifier$/.test(node.type)) && pos.character > 0) {
      node = tree.rootNode.descendantForPosition({ row: pos.line, column: pos.character - 1 });
    }
    if (!node || !/identifier$/.test(node.type)) {
      // `#define` lines are blanked for parsing: a flag macro there is found by its word.
      const word = flagWordAt(text, pos);
      const flag = word ? flagHoverAt(a, file, word, 'macro') : null;
      if (!flag || !word) return null;
      const start = (text.split('\n')[pos.line] ?? '').indexOf(word);
      return { extra: [flag], range: { start: { line: pos.line, character: start }, end: { line: pos.line, character: start + word.length } } };
    }
    const target = classify(node);
    // Flag facts (value, field, bit map) and lock facts (the callee's contract, what is held here).
    const extra = [flagHoverAt(a, file, node), lockHover(a, file, node, tree, text)].filter((x): x is string => !!x);
    return target || extra.length ? { target, extra, range: rangeOf(node) } : null;
  });
  if (!found) return null;
  const parts = [found.target ? render(a, file, found.target) : null, ...found.extra].filter((x): x is string => !!x);
  return parts.length ? { contents: parts.join('\n\n---\n\n'), range: found.range } : null;
}

/**
 * What hovers on `file` will need, worked out ahead (the editor calls this when it is idle): the
 * files it includes, where its types are defined among them, its flag facts. The first member hover
 * of a kernel C file otherwise scans a few hundred headers while the user waits.
 */
export function* prepareHoversOn(a: Analyser, file: string): Generator<void, void> {
  a.includeClosure(file);
  yield;
  if (!a.isUapi(file)) {
    a.withTree(file, (tree) => kernelFacts(a, file, tree));
    yield;
  }
  // The uapi types the file names, laid out on every ABI (one unit per header and ABI, a step each).
  const text = a.store.read(file)?.text ?? '';
  // Each type once: a driver names the same few structs hundreds of times.
  const types = new Set<string>();
  for (const m of text.matchAll(/\b(struct|union)\s+([A-Za-z_]\w*)/g)) types.add(`${m[1]} ${m[2]}`);
  const homes = new Set<string>();
  for (const type of types) {
    const [tag, name] = type.split(' ') as ['struct' | 'union', string];
    const home = homeOf(a, file, { tag, name });
    if (home && 'file' in home) homes.add(home.file);
  }
  for (const home of homes) {
    for (const abi of a.arches) {
      a.unit(home, abi);
      yield;
    }
  }
}

/** On a call: the callee's lock requirements and where they come from; in a body: the locks held there. */
function lockHover(a: Analyser, file: string, node: Node, tree: Tree, text: string): string | null {
  if (a.isUapi(file) || !ancestor(node, 'function_definition')) return null;
  try {
    const source = a.store.factsOf({ path: file, text, hash: a.store.read(file)?.hash ?? '' });
    const { program, result, root } = lockAnalysisOf({ store: a.store, root: a.rootFor(file), file, text, tree, blank: source.blank, lockIndex: a.settings.lockIndex, cacheDir: a.settings.cacheDir });
    const lines: string[] = [];
    if (node.parent?.type === 'call_expression' && node.parent.childForFieldName('function')?.id === node.id) {
      for (const fn of program.byName.get(node.text) ?? []) {
        for (const req of result.summaries.get(fn)?.requires.values() ?? []) {
          const via = req.chain.length ? ` (via ${req.chain.map((c) => c.fn).join(' -> ')})` : '';
          lines.push(`requires \`${req.path.display}\`: ${req.origin.text} in ${req.origin.fn} at ${where(req.origin.at, root)}${via}`);
        }
      }
    }
    const held = locksHeldAt(result, file, { line: node.startPosition.row, character: node.startPosition.column });
    if (held.length) lines.push(`held here: ${held.map((h) => `\`${h.path.display}\` (${h.prim}, ${h.local ? 'taken' : 'asserted'} at line ${h.at.line + 1})`).join(', ')}`);
    return lines.length ? `**locks** — ${node.text}\n\n${lines.map((l) => `- ${l}`).join('\n')}` : null;
  } catch {
    return null; // a hover never fails the request
  }
}

/** Works out what the identifier under the cursor names. */
function classify(node: Node): Target | null {
  const parent = node.parent;
  if (!parent) return null;
  if (node.type === 'type_identifier' && /^(struct|union|enum)_specifier$/.test(parent.type)) {
    return { kind: 'type', tag: parent.type.replace('_specifier', '') as 'struct' | 'union' | 'enum', name: node.text };
  }
  if (node.type === 'type_identifier') return { kind: 'typedef', name: node.text };
  if (node.type === 'identifier' && parent.type !== 'call_expression') {
    // A variable (`sizeof(hdr)`, `info.flags`'s `info`): the aggregate type it was declared with.
    const t = findDeclaration(node, node.text);
    const base = t ? stripPointers(t) : null;
    if (base?.k === 'tag' && base.name) return { kind: 'type', tag: base.tag, name: base.name };
    if (base?.k === 'name') return { kind: 'typedef', name: base.name };
    return null;
  }
  if (node.type === 'field_identifier') {
    const decl = ancestor(node, 'field_declaration');
    if (decl && parent.type !== 'field_expression') {
      const chain = memberChain(node, decl);
      return chain ? { kind: 'member', owner: chain.owner, path: chain.path } : null;
    }
    if (parent.type === 'field_expression') return memberUse(parent);
  }
  return null;
}

/**
 * How far up the tree hovers look. Each `.parent` costs a walk down from the root in
 * web-tree-sitter, so an unbounded walk is quadratic in the nesting depth (17 s for one hover
 * inside 10,000 nested `if`s); real code is a few dozen levels deep (a block is two levels: the statement and its braces).
 */
const MAX_ANCESTORS = 100;

function ancestor(n: Node, type: string): Node | null {
  let steps = 0;
  for (let p = n.parent; p && steps < MAX_ANCESTORS; p = p.parent, steps++) if (p.type === type) return p;
  return null;
}

/** The outermost named aggregate holding a member declaration, and the member's flattened path. */
function memberChain(name: Node, decl: Node): { owner: { tag: 'struct' | 'union'; name: string } | { typedef: string }; path: string } | null {
  const parts = [name.text];
  let field: Node | null = decl;
  for (;;) {
    const spec: Node | null | undefined = field?.parent?.parent; // field_declaration_list -> specifier
    if (!spec || !/^(struct|union)_specifier$/.test(spec.type)) return null;
    const specName = spec.childForFieldName('name');
    const outerField: Node | null = spec.parent?.type === 'field_declaration' ? spec.parent : null;
    if (outerField) {
      // A nested aggregate: named members add a path component, anonymous ones do not.
      const d = outerField.childForFieldName('declarator');
      // Array bounds off, from the last line's first `[`; the lookbehind lets only a line's first `[` run `.*$`.
      if (d) parts.unshift(d.text.replace(/\[(?<!\[.*?\[).*$/, '').replace(/^\*+/, ''));
      field = outerField;
      continue;
    }
    if (specName) return { owner: { tag: spec.type.replace('_specifier', '') as 'struct' | 'union', name: specName.text }, path: parts.join('.') };
    const td = spec.parent?.type === 'type_definition' ? spec.parent.childForFieldName('declarator') : null;
    return td ? { owner: { typedef: td.text }, path: parts.join('.') } : null;
  }
}

/** `p->member` / `s.member`: the type of `p` from a parameter or local declaration in scope. */
function memberUse(expr: Node): Target | null {
  const field = expr.childForFieldName('field');
  const object = expr.childForFieldName('argument');
  if (!field || !object) return null;
  const type = typeOfExpression(object);
  if (!type || type.k !== 'tag' || type.tag === 'enum' || !type.name) return null;
  return { kind: 'member', owner: { tag: type.tag, name: type.name }, path: field.text };
}

function stripPointers(t: TypeExpr): TypeExpr {
  while (t.k === 'ptr' || t.k === 'array') t = t.k === 'ptr' ? t.to : t.of;
  return t;
}

function typeOfExpression(object: Node): TypeExpr | null {
  if (object.type === 'identifier') {
    const decl = findDeclaration(object, object.text);
    return decl ? stripPointers(decl) : null;
  }
  if (object.type === 'parenthesized_expression') {
    const inner = object.namedChildren[0];
    return inner ? typeOfExpression(inner) : null;
  }
  return null;
}

/** Looks for `T *name` among the enclosing function's parameters and declarations before use. */
function findDeclaration(use: Node, name: string): TypeExpr | null {
  let steps = 0;
  for (let scope: Node | null = use.parent; scope && steps < MAX_ANCESTORS; scope = scope.parent, steps++) {
    const candidates: Node[] = [];
    if (scope.type === 'compound_statement') candidates.push(...scope.namedChildren.filter((c): c is Node => c?.type === 'declaration' && c.startIndex < use.startIndex));
    if (scope.type === 'function_definition') {
      const params = scope.childForFieldName('declarator')?.childForFieldName('parameters');
      candidates.push(...(params?.namedChildren.filter((c): c is Node => c?.type === 'parameter_declaration') ?? []));
    }
    for (const c of candidates) {
      const typeNode = c.childForFieldName('type');
      for (const d of c.childrenForFieldName('declarator')) {
        if (!d) continue;
        const ident = d.descendantsOfType('identifier').find((i) => i?.text === name);
        if (!ident) continue;
        const parsed = typeNode ? parseTypeText(typeNode.text) : undefined;
        if (parsed) return parsed.type;
      }
    }
  }
  return null;
}

// ---- rendering -------------------------------------------------------------------------

type Owner = { tag: 'struct' | 'union'; name: string } | { typedef: string };

/** Where to lay a type out: a uapi header is its own unit; kernel C looks up the defining header. */
function homeOf(a: Analyser, file: string, owner: Owner): { file: string } | { kernelInternal: string } | undefined {
  if (a.isUapi(file)) return { file };
  const def = 'typedef' in owner ? a.findDefinition(file, 'typedef', owner.typedef) : a.findDefinition(file, owner.tag, owner.name);
  if (!def) return undefined;
  return a.isUapi(def) ? { file: def } : { kernelInternal: def };
}

function layoutsFor(a: Analyser, file: string, owner: Owner): Map<AbiName, TypeLayout> | string {
  const home = homeOf(a, file, owner);
  if (!home) return new Map();
  if ('kernelInternal' in home) {
    const name = 'typedef' in owner ? owner.typedef : `${owner.tag} ${owner.name}`;
    const root = a.rootFor(file);
    const where = root && home.kernelInternal.startsWith(root) ? home.kernelInternal.slice(root.length + 1) : home.kernelInternal;
    return `**${name}** — defined in \`${where}\`\n\nA kernel-internal type: its layout depends on the kernel configuration (CONFIG_* options, lockdep, debug fields), so vfio-review does not compute it. Layouts are computed for uapi types.`;
  }
  const out = new Map<AbiName, TypeLayout>();
  for (const abi of a.arches) {
    const unit = a.unit(home.file, abi);
    const hit = findAggregate(unit, owner);
    if (hit) out.set(abi, toTypeLayout(hit.name, unit.engine.layout(hit.agg), hit.agg.file));
  }
  return out;
}

function findAggregate(u: Unit, owner: Owner): { agg: AggregateDecl; name: string } | undefined {
  if ('typedef' in owner) {
    const r = u.scope.typedef(owner.typedef);
    if (r && r.type.k === 'tag' && r.type.decl && r.type.decl.kind !== 'enum') return { agg: r.type.decl as AggregateDecl, name: owner.typedef };
    if (r && r.type.k === 'tag' && r.type.name && r.type.tag !== 'enum') return findAggregate(u, { tag: r.type.tag, name: r.type.name });
    return undefined;
  }
  const d = u.scope.tag(owner.tag, owner.name);
  return d && d.kind !== 'enum' && d.complete ? { agg: d as AggregateDecl, name: `${owner.tag} ${owner.name}` } : undefined;
}

function render(a: Analyser, file: string, t: Target): string | null {
  if (t.kind === 'type' && t.tag === 'enum') return renderScalar(a, file, `enum ${t.name}`, { k: 'tag', tag: 'enum', name: t.name });
  if (t.kind === 'type' && t.tag !== 'enum') {
    const layouts = layoutsFor(a, file, { tag: t.tag, name: t.name });
    return typeof layouts === 'string' ? layouts : renderType(a, file, layouts);
  }
  if (t.kind === 'typedef') {
    const layouts = layoutsFor(a, file, { typedef: t.name });
    if (typeof layouts === 'string') return layouts;
    if (layouts.size) return renderType(a, file, layouts);
    return a.isUapi(file) ? renderScalar(a, file, t.name, { k: 'name', name: t.name }) : null;
  }
  if (t.kind !== 'member') return null;
  const layouts = layoutsFor(a, file, t.owner);
  if (typeof layouts === 'string') return layouts;
  if (!layouts.size) return null;
  return renderMember(layouts, t.path);
}

function fmt(v: number | null | undefined): string {
  return v === null || v === undefined ? '?' : String(v);
}

function groups<T>(layouts: Map<AbiName, T>, key: (v: T) => string): [string, AbiName[]][] {
  const out: [string, AbiName[]][] = [];
  for (const [abi, v] of layouts) {
    const k = key(v);
    const g = out.find(([gk]) => gk === k);
    if (g) g[1].push(abi);
    else out.push([k, [abi]]);
  }
  return out;
}

function renderType(a: Analyser, file: string, layouts: Map<AbiName, TypeLayout>): string | null {
  const first = [...layouts.values()][0];
  if (!first) return null;
  const lines = [`**${first.name}**`, ''];
  const byLayout = groups(layouts, (l) => `${fmt(l.size)}/${fmt(l.align)}`);
  lines.push('| ABI | size | align | holes |', '|---|---|---|---|');
  for (const [, abis] of byLayout) {
    const l = layouts.get(abis[0])!;
    const holeBytes = l.holes.reduce((s, h) => s + h.size, 0);
    lines.push(`| ${abis.join(', ')} | ${fmt(l.size)} | ${fmt(l.align)} | ${l.holes.length ? `${holeBytes} bytes in ${l.holes.length}` : 'none'} |`);
  }
  const differing = first.members.filter((m) => groups(layouts, (l) => fmt(l.members.find((x) => x.path === m.path)?.offset)).length > 1);
  const bySize = groups(layouts, (l) => fmt(l.size));
  if (bySize.length > 1 || differing.length) {
    lines.push('', `⚠ **layout differs between ABIs**${differing.length ? `: ${differing.map((m) => `\`${m.path}\``).join(', ')} move` : ''}`);
  } else if (byLayout.length > 1) {
    lines.push('', `alignment differs between ABIs (size and offsets agree): ${groups(layouts, (l) => fmt(l.align)).map(([al, abis]) => `${al} on ${abis.join(', ')}`).join('; ')}`);
  } else lines.push('', `same layout on ${[...layouts.keys()].join(', ')}`);
  if (first.unknown.length) lines.push('', `layout incomplete: ${first.unknown.join('; ')}`);
  lines.push('', '```c', ...pahole(first), '```');
  lines.push(...baseComparison(a, file, layouts));
  return lines.join('\n');
}

/** With a base version set: the old and new layout of this type side by side, changes marked. */
function baseComparison(a: Analyser, file: string, layouts: Map<AbiName, TypeLayout>): string[] {
  const base = a.baseOf(file);
  if (!base) return [];
  const rows: string[] = [];
  let changed = false;
  for (const [abi, now] of layouts) {
    const old = a.baseLayout(file, abi, now.name);
    if (!old) {
      rows.push(`| ${abi} | (new type) | | |`);
      changed = true;
      continue;
    }
    const paths = [...new Set([...old.members.map((m) => m.path), ...now.members.map((m) => m.path)])];
    for (const p of paths) {
      const o = old.members.find((m) => m.path === p);
      const n = now.members.find((m) => m.path === p);
      const cell = (m?: MemberLayout) => (m ? `${fmt(m.offset)} / ${fmt(m.size)}` : '—');
      if (o && n && o.offset === n.offset && o.size === n.size) continue; // a respelling alone is not a layout change
      changed = true;
      rows.push(`| ${abi} | \`${p}\` | ${cell(o)} | ${cell(n)}${o && n && o.type !== n.type ? ` (${o.type} → ${n.type})` : ''} ${!o ? '➕' : !n ? '➖' : '⚠'} |`);
    }
    if (old.size !== now.size) rows.push(`| ${abi} | size | ${fmt(old.size)} | ${fmt(now.size)} ⚠ |`);
  }
  if (!changed) return ['', `unchanged since \`${base.label}\` on ${[...layouts.keys()].join(', ')}`];
  return ['', `**compared with \`${base.label}\`** (offset / size)`, '', '| ABI | member | old | new |', '|---|---|---|---|', ...rows];
}

/** A pahole-like listing of one ABI's layout (the first configured one). */
function pahole(l: TypeLayout): string[] {
  const out = [`/* ${l.members.length ? '' : 'no members '}offset size */`];
  for (const m of l.members) {
    const indent = '  '.repeat(m.depth + 1);
    const bits = m.bitSize !== undefined ? `:${m.bitSize} (bit ${m.bitOffset})` : '';
    out.push(`${indent}${m.type} ${m.path.split('.').pop()}${bits};  /* ${fmt(m.offset)} ${fmt(m.size)}${m.unknown ? ` ${m.unknown}` : ''} */`);
    for (const h of l.holes.filter((x) => !x.tail && x.after === m.path)) out.push(`${indent}/* XXX ${h.size} byte hole */`);
  }
  const tail = l.holes.find((h) => h.tail);
  if (tail) out.push(`  /* XXX ${tail.size} bytes tail padding */`);
  return out;
}

function renderMember(layouts: Map<AbiName, TypeLayout>, path: string): string | null {
  const first = [...layouts.values()][0];
  const member = first.members.find((m) => m.path === path);
  if (!member) return null;
  const lines = [`**${first.name}**::\`${path}\` — \`${member.type}\``, '', '| ABI | offset | size | align |', '|---|---|---|---|'];
  const byPlace = groups(layouts, (l) => {
    const m = l.members.find((x) => x.path === path);
    return m ? `${fmt(m.offset)}|${fmt(m.size)}|${fmt(m.align)}|${m.bitSize ?? ''}|${m.bitOffset ?? ''}` : '?';
  });
  for (const [key, abis] of byPlace) {
    const [off, size, align, bitSize, bitOffset] = key.split('|');
    lines.push(`| ${abis.join(', ')} | ${off}${bitSize ? ` (bit ${bitOffset}, ${bitSize} bits)` : ''} | ${size} | ${align} |`);
  }
  const byOffset = groups(layouts, (l) => fmt(l.members.find((x) => x.path === path)?.offset));
  if (byOffset.length > 1) lines.push('', `⚠ **offset differs between ABIs** (${byOffset.map(([off, abis]) => `${off} on ${abis.join(', ')}`).join('; ')})`);
  const around = holesAround(first, member);
  if (around.length) lines.push('', around.join('\n\n'));
  if (member.unknown) lines.push('', `layout unknown: ${member.unknown}`);
  return lines.join('\n');
}

function holesAround(l: TypeLayout, m: MemberLayout): string[] {
  const out: string[] = [];
  const idx = l.members.indexOf(m);
  const prev = l.members.slice(0, idx).reverse().find((x) => x.depth === m.depth);
  const before = l.holes.find((h) => !h.tail && prev && h.after === prev.path);
  const after = l.holes.find((h) => h.after === m.path);
  if (before) out.push(`${before.size}-byte hole before it (offset ${before.offset})`);
  if (after) out.push(`${after.size}-byte ${after.tail ? 'tail padding' : 'hole'} after it (offset ${after.offset})`);
  return out;
}

function renderScalar(a: Analyser, file: string, name: string, t: TypeExpr): string | null {
  const per = new Map<AbiName, string>();
  for (const abi of a.arches) {
    const info = a.unit(file, abi).engine.sizeOf(t);
    if (info.size === null && per.size === 0 && abi === a.arches[0] && info.unknown?.startsWith('unknown type')) return null;
    per.set(abi, info.size === null ? `unknown (${info.unknown})` : `size ${info.size}, align ${info.align}`);
  }
  const g = groups(per, (v) => v);
  const lines = [`**${name}**`, '', ...g.map(([v, abis]) => `- ${abis.join(', ')}: ${v}`)];
  if (g.length > 1) lines.push('', '⚠ **size or alignment differs between ABIs**');
  return lines.join('\n');
}
