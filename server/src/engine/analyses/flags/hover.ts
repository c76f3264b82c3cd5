// Hover text for flags and unions: markdown for a flag macro (its value and bits, the member it
// belongs to and how that was decided, the member's other flags on a small bit map, its
// dependencies, the union members it selects) and for a union member (the flag that says it is
// the active one, with the evidence: comment, configuration or kernel code, as file:line).
//
// How hover.ts calls it (two forms, both return markdown or null when there is nothing to say):
//
//   1. With the tree-sitter node under the cursor, INSIDE `a.withTree(file, (tree) => ...)` (the
//      node must still be alive; for a closed file the tree is deleted when withTree returns):
//
//        const flag = flagHoverAt(a, file, node);   // node: identifier or field_identifier
//
//      An `identifier` naming a flag macro gives the flag hover, in uapi headers and kernel C;
//      a `field_identifier` of a union member gives the union hover (declaration in a uapi
//      header, or `x->member` / `x.member` in kernel C with `x` a local or parameter of a
//      known struct type).
//
//   2. With a name, anywhere (it parses kernel C itself when needed):
//
//        flagHoverAt(a, file, 'VFIO_DEVICE_FLAGS_PCI', 'macro')
//        flagHoverAt(a, file, 'struct vfio_pci_dependent_device.devid', 'member')
//
//      Use this form on `#define` lines: directive lines are blanked in the parse text, so there
//      is no identifier node under the cursor there. `flagWordAt(text, position)` gives the word
//      under the cursor for it.
//
// In a uapi header the facts are the header's own flag model (flagModelOf) with the discriminants
// its comments and `.vfio-review.json` state; in kernel C they are the merged models of the uapi
// headers the file includes plus discriminants inferred from the file's code (kernelFlagIndex).
import path from 'node:path';
import type { Node, Tree } from 'web-tree-sitter';
import type { Analyser } from '../../analyser';
import type { RuleContext } from '../../rules/rule';
import type { Position } from '../../types';
import { commentDiscriminants, configDiscriminants, type Discriminant } from './discriminants';
import { flagModelOf } from './index';
import { fieldOwner, kernelFlagIndex } from './kernel';
import { bitsOf, fieldKey, hex, splitFieldRef, type Evidence, type FlagDependency, type FlagField, type FlagMacro } from './model';
import { configFacts, engineOptions } from './project';

/** The facts a hover reads: the same shape for a uapi header and for kernel C. */
export interface FlagFacts {
  macros: Map<string, FlagMacro>;
  fields: Map<string, FlagField>;
  dependencies: FlagDependency[];
  discriminants: Discriminant[];
}

export type FlagHoverKind = 'macro' | 'member';

export function flagHoverAt(a: Analyser, file: string, node: Node): string | null;
export function flagHoverAt(a: Analyser, file: string, name: string, kind: FlagHoverKind): string | null;
export function flagHoverAt(a: Analyser, file: string, target: Node | string, kind?: FlagHoverKind): string | null {
  try {
    if (typeof target === 'string') {
      if (a.isUapi(file)) return byName(a, file, uapiFacts(a, file), target, kind ?? 'macro');
      return a.withTree(file, (tree) => byName(a, file, kernelFacts(a, file, tree), target, kind ?? 'macro')) ?? null;
    }
    return byNode(a, file, target);
  } catch {
    // A hover never fails the request: the layout hover still shows.
    return null;
  }
}

/** The identifier-like word at a position of a text (for `#define` lines), or undefined. */
export function flagWordAt(text: string, pos: Position): string | undefined {
  const line = text.split('\n')[pos.line] ?? '';
  const re = /[A-Za-z_]\w*/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) if (m.index <= pos.character && pos.character <= m.index + m[0].length) return m[0];
  return undefined;
}

/** The facts of a uapi header: its flag model, discriminants from its comments and the configuration. */
export function uapiFacts(a: Analyser, file: string): FlagFacts {
  const model = flagModelOf(a, file);
  const config = configFacts(a.rootFor(file), a.store, engineOptions(a));
  return {
    macros: model.macros, fields: model.fields, dependencies: model.dependencies,
    discriminants: [...commentDiscriminants(model.text ?? '', file, model), ...configDiscriminants(config, model)],
  };
}

// The index of the last few trees hovered over: a hover after another on the same text reuses
// it (building it reads the included headers' flags and walks the tree, ~10 ms on
// vfio_pci_core.c). Headers may change on disk, so an entry serves for a few seconds only.
const KERNEL_FACTS_MS = 5000;
const recentKernelFacts = new WeakMap<Tree, { hash: string | undefined; at: number; facts: FlagFacts }>();

/** The facts of a kernel C file, through the same index the kernel rules use. */
export function kernelFacts(a: Analyser, file: string, tree: Tree): FlagFacts {
  const src = a.store.read(file);
  const recent = recentKernelFacts.get(tree);
  if (recent && recent.hash === src?.hash && Date.now() - recent.at < KERNEL_FACTS_MS) return recent.facts;
  const index = buildKernelFacts(a, file, tree, src);
  recentKernelFacts.set(tree, { hash: src?.hash, at: Date.now(), facts: index });
  return index;
}

function buildKernelFacts(a: Analyser, file: string, tree: Tree, src: ReturnType<Analyser['store']['read']>): FlagFacts {
  const facts = src ? a.store.factsOf(src) : undefined;
  const ctx: RuleContext = {
    file, uapi: false, arches: a.arches, layouts: new Map(), models: new Map(), parseProblems: [], unitProblems: [], memo: new Map(),
    source: { text: src?.text ?? '', tree, blank: facts?.blank ?? { text: '', annotations: [], statementMacros: [] }, directives: facts?.directives ?? [] },
    // The index reads includePaths and readProjectConfig from the options.
    project: {
      store: a.store, root: a.rootFor(file), options: engineOptions(a),
      // The engine's units of the headers, as the rules' context has them.
      uapiUnit: (header, abi) => (a.isUapi(header) && a.rootFor(header) === a.rootFor(file) ? a.unit(header, abi) : undefined),
    },
  };
  return kernelFlagIndex(ctx);
}

function byNode(a: Analyser, file: string, node: Node): string | null {
  const uapi = a.isUapi(file);
  const facts = () => (uapi ? uapiFacts(a, file) : kernelFacts(a, file, node.tree));
  if (node.type === 'identifier') {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(node.text)) return null;
    return macroHover(a, file, facts(), node.text);
  }
  if (node.type !== 'field_identifier') return null;
  const parent = node.parent;
  if (parent?.type === 'field_expression') {
    if (uapi) return null;
    const at = fieldOwner(parent);
    return at ? memberHover(a, file, facts(), at.owner, at.member) : null;
  }
  if (!uapi) return null;
  // A member declaration in the header: the field declared on this line with this name.
  const f = facts();
  for (const ff of f.fields.values()) {
    const last = ff.member.split('.').pop();
    if (ff.file === file && ff.pos.line === node.startPosition.row && last === node.text) return memberHover(a, file, f, ff.owner, ff.member);
  }
  return null;
}

function byName(a: Analyser, file: string, facts: FlagFacts, name: string, kind: FlagHoverKind): string | null {
  if (kind === 'macro') return macroHover(a, file, facts, name);
  const [owner, member] = splitFieldRef(name);
  if (owner) return memberHover(a, file, facts, owner.startsWith('struct ') || owner.startsWith('union ') ? owner : `struct ${owner}`, member);
  return null;
}

// ---- rendering -------------------------------------------------------------------------

function where(a: Analyser, from: string, file: string, line?: number): string {
  const root = a.rootFor(from);
  const rel = root && file.startsWith(root + path.sep) ? file.slice(root.length + 1) : file;
  return line === undefined ? rel : `${rel}:${line + 1}`;
}

const SOURCES: Record<Evidence['source'], string> = {
  'struct body': 'its place in the struct body, after the member',
  'name prefix': "its name, which continues the member's flag family",
  comment: 'a comment',
  configuration: '`.vfio-review.json`',
  code: 'kernel code',
};

/** `a comment (include/uapi/linux/x.h:29)`; configuration facts carry no line. */
function evidenceText(a: Analyser, from: string, e: Evidence): string {
  if (e.source === 'configuration') return `\`${where(a, from, e.file)}\``;
  return `${SOURCES[e.source]} (\`${where(a, from, e.file, e.line)}\`)`;
}

/** `bit 3`, `bits 6–7`, `bits 0, 4, 9`, `no bit`. */
export function describeBits(bits: bigint): string {
  const set: number[] = [];
  for (let i = 0; i < 64; i++) if ((bits >> BigInt(i)) & 1n) set.push(i);
  if (!set.length) return 'no bit';
  if (set.length === 1) return `bit ${set[0]}`;
  const contiguous = set[set.length - 1] - set[0] === set.length - 1;
  return contiguous ? `bits ${set[0]}–${set[set.length - 1]}` : `bits ${set.join(', ')}`;
}

/**
 * The member's bits, most significant first, in groups of 8: `#` the hovered flag, `o` other
 * flags, `·` free. Masks are left out (they cover other flags' bits).
 */
export function bitMap(width: number, mine: bigint, others: bigint): string[] {
  const groups: string[] = [];
  let g = '';
  for (let i = width - 1; i >= 0; i--) {
    const b = 1n << BigInt(i);
    g += mine & b ? '#' : others & b ? 'o' : '·';
    if (i % 8 === 0) {
      groups.push(g);
      g = '';
    }
  }
  const header = `${String(width - 1).padEnd(width + width / 8 - 2)}0`;
  return [header, groups.join(' ')];
}

function sameField(f: FlagField | undefined, g: FlagField | undefined): boolean {
  return !!f && !!g && f.owner === g.owner && f.member === g.member;
}

function macroHover(a: Analyser, file: string, facts: FlagFacts, name: string): string | null {
  const m = facts.macros.get(name);
  if (!m || (!m.field && !facts.dependencies.some((d) => d.flag === name || d.requires === name) && !facts.discriminants.some((d) => d.flag === name))) return null;
  const out: string[] = [];
  const f = m.field;
  const flagsField = f?.kind === 'flags';
  let head = `**${name}**`;
  if (m.value) {
    const bits = bitsOf(m.value);
    head += m.value.v < 0n ? ` = \`${m.value.v}\`` : ` = \`${hex(m.value.v)}\``;
    if (flagsField && m.value.v >= 0n) head += ` (${m.mask ? 'mask of ' : ''}${describeBits(bits)})`;
  } else head += ' — value not computable here';
  out.push(`${head} — \`#define ${name} ${m.body}\``);
  out.push('');
  out.push(`Defined at \`${where(a, file, m.file, m.line)}\`.`);
  if (f) {
    const ty = f.size !== undefined ? ` (\`${f.typeText}\`, ${f.size * 8}-bit ${f.signed ? 'signed' : 'unsigned'})` : ` (\`${f.typeText}\`)`;
    out.push('');
    out.push(`${flagsField ? 'Flag' : 'Value'} of \`${f.owner}.${f.member}\`${ty}; bound by ${m.binding ? evidenceText(a, file, m.binding) : 'an unknown source'}.`);
    if (!flagsField && m.value && f.size !== undefined) {
      const stored = f.signed ? BigInt.asIntN(f.size * 8, m.value.v) : BigInt.asUintN(f.size * 8, m.value.v);
      if (stored !== m.value.v) out.push('', `Stored in the member it becomes \`${stored < 0n ? stored : hex(stored)}\`.`);
    }
    const siblings = [...facts.macros.values()].filter((o) => o !== m && sameField(o.field, f));
    if (siblings.length) {
      out.push('');
      out.push(`Other ${flagsField ? 'flags' : 'values'} of \`${f.member}\`:`);
      for (const o of siblings) {
        const v = o.value ? (o.value.v < 0n ? `${o.value.v}` : hex(o.value.v)) : '?';
        const bits = flagsField && o.value && o.value.v >= 0n ? ` — ${o.mask ? 'mask of ' : ''}${describeBits(bitsOf(o.value))}` : '';
        out.push(`- \`${o.name}\` = \`${v}\`${bits}`);
      }
    }
    if (flagsField && m.value && m.value.v >= 0n) {
      let others = 0n;
      for (const o of siblings) if (o.value && !o.mask && !o.namedMask && o.value.v >= 0n) others |= bitsOf(o.value);
      const mine = bitsOf(m.value);
      const top = Math.max(mine.toString(2).length, others.toString(2).length);
      const width = f.size !== undefined && f.size * 8 >= top ? f.size * 8 : top <= 32 ? 32 : 64;
      out.push('', '```text', ...bitMap(width, mine, others), '```', `\`#\` ${name}, \`o\` other flags, \`·\` free`);
      if (f.size !== undefined && f.size * 8 < mine.toString(2).length) out.push('', `**Outside the member:** \`${f.member}\` has ${f.size * 8} bits.`);
    }
  }
  // The index repeats a configured dependency once per header that was read: one line each.
  const seen = new Set<string>();
  const deps = facts.dependencies.filter((d) => {
    const k = `${d.flag}\0${d.requires}\0${d.evidence.file}\0${d.evidence.line}`;
    return !seen.has(k) && !!seen.add(k);
  });
  const requires = deps.filter((d) => d.flag === name);
  const requiredBy = deps.filter((d) => d.requires === name);
  if (requires.length || requiredBy.length) out.push('');
  for (const d of requires) out.push(`- requires \`${d.requires}\`, stated by ${evidenceText(a, file, d.evidence)}`);
  for (const d of requiredBy) out.push(`- required by \`${d.flag}\`, stated by ${evidenceText(a, file, d.evidence)}`);
  const selects = facts.discriminants.filter((d) => d.flag === name);
  if (selects.length) out.push('');
  for (const d of selects) out.push(`- selects union member \`${d.owner}.${d.member}\` when ${d.when}, stated by ${d.evidence.map((e) => evidenceText(a, file, e)).join(', ')}`);
  return out.join('\n');
}

function memberHover(a: Analyser, file: string, facts: FlagFacts, owner: string, member: string): string | null {
  const f = facts.fields.get(fieldKey(owner, member));
  if (!f?.unionSiblings) return null;
  const out: string[] = [];
  out.push(`**${owner}.${member}** — union member (\`${f.typeText}\`), shares its bytes with ${f.unionSiblings.map((s) => `\`${s}\``).join(', ') || 'no other member'}`);
  const ds = facts.discriminants.filter((d) => d.owner === owner && d.member === member);
  out.push('');
  if (!ds.length) {
    out.push('No discriminant known: no comment, configuration or kernel code here says which flag selects this member (declare one in `.vfio-review.json`, `unions.discriminants`).');
    return out.join('\n');
  }
  for (const d of ds) {
    const fm = facts.macros.get(d.flag)?.field;
    out.push(`Active when \`${d.flag}\`${fm ? ` (in \`${fm.owner}.${fm.member}\`)` : ''} is **${d.when}**, stated by:`);
    for (const e of d.evidence) out.push(`- ${evidenceText(a, file, e)}`);
  }
  return out.join('\n');
}
