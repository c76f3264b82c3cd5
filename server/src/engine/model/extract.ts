// Builds a FileModel from a tree-sitter tree: aggregates, enums, typedefs with their member
// type expressions and layout attributes, and the regions tree-sitter could not parse.
// The walk runs over web-tree-sitter's nodes or over a plain copy of the tree (parse/plain-tree.ts):
// through the Node API each `.type`, `.children`, `.childForFieldName()` or `.endPosition` is a call
// into wasm and a new Node object, while the copy reads each node once with a cursor. The copy
// visits every node, function bodies included, so it is taken only for texts without any.
import type { Node, Point, Tree } from 'web-tree-sitter';
import type { BlankedAnnotation } from '../parse/blank';
import { parseText } from '../parse/parser';
import { plainTree, type PlainNode, type SyntaxNodeOf } from '../parse/plain-tree';
import type { MacroAttribute, MacroDeclaration } from '../preprocess/macro-uses';
import kernelC from '../../../../grammars/kernel-c.json';
import type { AggregateDecl, EnumDecl, FieldDecl, FileModel, LayoutAttrs, SourcePos, TypeExpr, TypedefDecl } from './decls';

type LayoutMeaning = { packed?: boolean; alignedArg?: number; alignedUnknown?: string; alignedLargest?: boolean };
const layoutAnnotations = kernelC.annotations.layout as Record<string, LayoutMeaning>;

/** A blanked annotation or attribute macro with a layout meaning, at its offsets. */
interface LayoutMark {
  start: number;
  end: number;
  packed?: boolean;
  aligned?: string[];
  alignedUnknown?: string;
}

function marksOf(annotations: BlankedAnnotation[], attributes: MacroAttribute[]): LayoutMark[] {
  const marks: LayoutMark[] = [];
  for (const a of annotations) {
    if (a.name === '__attribute__') {
      const mark: LayoutMark = { start: a.start, end: a.end };
      for (const arg of a.args) {
        const name = arg.replace(/^__(\w+)__/, '$1');
        if (name === 'packed') mark.packed = true;
        const am = /^aligned\s*(?:\((.*)\))?$/.exec(name);
        if (am) (mark.aligned ??= []).push(am[1]?.trim() ?? '');
      }
      marks.push(mark);
      continue;
    }
    const meaning = layoutAnnotations[a.name];
    if (!meaning) continue;
    const aligned = meaning.alignedArg !== undefined ? [a.args[meaning.alignedArg] ?? ''] : meaning.alignedLargest ? [''] : undefined;
    marks.push({ start: a.start, end: a.end, packed: meaning.packed, aligned, alignedUnknown: meaning.alignedUnknown });
  }
  for (const a of attributes) marks.push({ start: a.start, end: a.end, packed: a.packed || undefined, aligned: a.aligned.length ? a.aligned : undefined });
  return marks;
}

/** The wrapper a declaration macro's expansion is parsed in. */
const EXPANSION_TAG = '__vfio_review_expansion__';

/** What the extraction reads of a node: web-tree-sitter's Node and the plain copy's PlainNode have it. */
interface ModelNode<N> extends SyntaxNodeOf<N> {
  /** The plain copy leaves punctuation out: the extraction looks only for named children here. */
  readonly children: (N | null)[];
}

/** What each kind of node answers its own way. */
interface NodeAccess<N> {
  kind: ExtractWay;
  /** A node error recovery inserted (`__u32 :3;` gets a MISSING field name). */
  isMissing(n: N): boolean;
  /** A top-level specifier's end, or the end of the `;` right after it (`struct x {...} __packed;`). */
  declarationEnd(n: N): number;
  /** The innermost node under `from` at `offset`, as tree-sitter's descendantForIndex finds it. */
  descendantAt(from: N, offset: number): N | null;
}

/** How the tree is walked: through web-tree-sitter's nodes, or over a plain copy of it. */
export type ExtractWay = 'nodes' | 'plain';

const nodeAccess: NodeAccess<Node> = {
  kind: 'nodes',
  isMissing: (n) => n.isMissing,
  declarationEnd: (n) => (n.nextSibling?.type === ';' ? n.nextSibling.endIndex : n.endIndex),
  descendantAt: (from, offset) => from.descendantForIndex(offset),
};

/**
 * The copy keeps MISSING leaves that have a field or a name, marked hasError, and no punctuation:
 * the `;` after a specifier is asked of the tree itself (a few calls per top-level type).
 */
function plainAccess(tree: Tree): NodeAccess<PlainNode> {
  return {
    kind: 'plain',
    isMissing: (n) => n.hasError && n.startIndex === n.endIndex && n.children.length === 0 && n.type !== 'ERROR',
    declarationEnd: (n) => {
      let real: Node | null = tree.rootNode.descendantForIndex(n.startIndex, n.endIndex);
      while (real && !(real.startIndex === n.startIndex && real.type === n.type && real.endIndex === n.endIndex)) real = real.parent;
      return real ? nodeAccess.declarationEnd(real) : n.endIndex;
    },
    descendantAt: (from, offset) => {
      // tree-sitter descends into the first child that ends after the offset, if it starts at or before it.
      let n = from;
      for (let next = n.children.find((c) => c.endIndex > offset); next && next.startIndex <= offset; next = n.children.find((c) => c.endIndex > offset)) n = next;
      return n;
    },
  };
}

const pos = (n: { startPosition: Point }): SourcePos => ({ line: n.startPosition.row, character: n.startPosition.column });
const endPos = (n: { endPosition: Point }): SourcePos => ({ line: n.endPosition.row, character: n.endPosition.column });

/** The name a declarator declares, through pointers, arrays and parentheses. */
function declaratorName<N extends ModelNode<N>>(d: N): N | null {
  let cur: N | null = d;
  while (cur && cur.type !== 'field_identifier' && cur.type !== 'identifier' && cur.type !== 'type_identifier') {
    cur = cur.childForFieldName('declarator') ?? cur.namedChildren.find((c) => c?.type.endsWith('declarator') || c?.type.endsWith('identifier')) ?? null;
  }
  return cur;
}

const primitiveWords = new Set(['signed', 'unsigned', 'short', 'long', 'int', 'char', 'double', 'float', 'void', '_Bool', 'bool', '__int128']);

/** Normalises a primitive spelled with keywords to one name per type. */
export function normalisePrimitive(words: string[]): string | undefined {
  if (words.length === 0 || !words.every((w) => primitiveWords.has(w))) return undefined;
  const count = (w: string) => words.filter((x) => x === w).length;
  const unsigned = words.includes('unsigned');
  const signed = words.includes('signed');
  if (words.includes('void')) return 'void';
  if (words.includes('_Bool') || words.includes('bool')) return '_Bool';
  if (words.includes('float')) return 'float';
  if (words.includes('double')) return count('long') ? 'long double' : 'double';
  if (words.includes('__int128')) return unsigned ? 'unsigned __int128' : '__int128';
  if (words.includes('char')) return unsigned ? 'unsigned char' : signed ? 'signed char' : 'char';
  if (words.includes('short')) return unsigned ? 'unsigned short' : 'short';
  const longs = count('long');
  if (longs >= 2) return unsigned ? 'unsigned long long' : 'long long';
  if (longs === 1) return unsigned ? 'unsigned long' : 'long';
  return unsigned ? 'unsigned int' : 'int';
}

/** Nested struct/union bodies read (C11 asks compilers for 63; real headers use a handful). */
const MAX_AGGREGATE_NESTING = 128;

class Extractor<N extends ModelNode<N>> {
  readonly model: FileModel;
  private layoutAnns: LayoutMark[];
  private claimed = new Set<LayoutMark>();
  /** How many aggregate bodies enclose the one being read. */
  private depth = 0;

  constructor(
    private access: NodeAccess<N>,
    private file: string,
    annotations: BlankedAnnotation[],
    attributes: MacroAttribute[] = [],
    private declarations: MacroDeclaration[] = [],
    private text = '',
    private packs: { line: number; value: number }[] = [],
  ) {
    this.model = { file, aggregates: [], enums: [], typedefs: [], problems: [] };
    this.layoutAnns = marksOf(annotations, attributes);
  }

  /** `root` is the tree's root as this extractor's kind of node; problems are read from `tree`. */
  run(root: N, tree: Tree): FileModel {
    for (const child of root.namedChildren) if (child) this.topLevel(child);
    collectProblems(tree.rootNode, this.model);
    return this.model;
  }

  private topLevel(first: N): void {
    // A worklist, not recursion: conditionals nest as deep as the file says (10,000 `#if`s
    // would exhaust the stack).
    const pending: N[] = [first];
    for (let node = pending.pop(); node; node = pending.pop()) this.topLevelOne(node, pending);
  }

  private topLevelOne(node: N, pending: N[]): void {
    switch (node.type) {
      case 'struct_specifier':
      case 'union_specifier':
      case 'enum_specifier':
        // `struct x {...} __packed;`: the blanked annotation sits between the body and the `;`.
        this.tagged(node, node, false, this.access.declarationEnd(node));
        break;
      case 'declaration': {
        const type = node.childForFieldName('type');
        if (type) this.typeExpr(type, node);
        break;
      }
      case 'type_definition':
        this.typedef(node);
        break;
      case 'preproc_if': case 'preproc_ifdef': case 'preproc_else': case 'preproc_elif': case 'preproc_elifdef':
      case 'linkage_specification': case 'declaration_list':
        // Only seen when conditionals were not evaluated (the editor's all-branches tree).
        // Pushed last first, so they are read in source order.
        for (const c of [...node.namedChildren].reverse()) if (c) pending.push(c);
        break;
    }
  }

  /** Layout annotations blanked inside [start, end), minus those inside the excluded ranges. */
  private annotationsIn(start: number, end: number, exclude: [number, number][] = []): LayoutMark[] {
    return this.layoutAnns.filter(
      (a) => !this.claimed.has(a) && a.start >= start && a.end <= end && !exclude.some(([s, e]) => a.start >= s && a.end <= e),
    );
  }

  private applyAnnotations(attrs: LayoutAttrs, marks: LayoutMark[]): void {
    for (const m of marks) {
      this.claimed.add(m);
      if (m.packed) attrs.packed = true;
      if (m.aligned) (attrs.aligned ??= []).push(...m.aligned);
      if (m.alignedUnknown) attrs.alignedUnknown = m.alignedUnknown;
    }
  }

  private positionAt(offset: number): SourcePos {
    let line = 0;
    let lineStart = 0;
    for (let i = this.text.indexOf('\n'); i >= 0 && i < offset; i = this.text.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    return { line, character: offset - lineStart };
  }

  /** Fields a declaration macro expands to, parsed on their own and placed at the macro's use. */
  private expandDeclaration(d: MacroDeclaration, parent: AggregateDecl): void {
    const at = this.positionAt(d.start);
    const tree = parseText(`struct ${EXPANSION_TAG} {\n${d.expansion}\n};\n`);
    try {
      const sub = extractWith(this.access.kind, this.file, tree, []);
      for (const agg of sub.aggregates) {
        reposition(agg, at);
        if (agg.tag === EXPANSION_TAG) parent.fields.push(...agg.fields);
        else this.model.aggregates.push(agg);
      }
      for (const p of sub.problems) this.model.problems.push({ ...p, pos: at, end: at, context: `expansion of ${d.name}` });
    } finally {
      tree.delete();
    }
  }

  /** Reads `__attribute__((packed, aligned(8)))` specifiers among `nodes`. */
  private applyAttributeSpecifiers(attrs: LayoutAttrs, nodes: (N | null)[]): void {
    for (const n of nodes) {
      if (!n || n.type !== 'attribute_specifier') continue;
      const list = n.namedChildren.find((c) => c?.type === 'argument_list');
      for (const arg of list?.namedChildren ?? []) {
        if (!arg) continue;
        if (arg.type === 'identifier') {
          const name = arg.text.replace(/^__(.*)__$/, '$1');
          if (name === 'packed') attrs.packed = true;
          else if (name === 'aligned') (attrs.aligned ??= []).push('');
        } else if (arg.type === 'call_expression') {
          const fn = arg.childForFieldName('function')?.text.replace(/^__(.*)__$/, '$1');
          if (fn === 'aligned') {
            const args = arg.childForFieldName('arguments');
            (attrs.aligned ??= []).push(args ? args.text.slice(1, -1).trim() : '');
          }
        }
      }
    }
  }

  /** An aggregate or enum specifier; `owner` is the declaration it appears in. */
  private tagged(node: N, owner: N, nested = false, endIndex?: number): AggregateDecl | EnumDecl {
    const nameNode = node.childForFieldName('name');
    const body = node.childForFieldName('body');
    const kind = node.type === 'struct_specifier' ? 'struct' : node.type === 'union_specifier' ? 'union' : 'enum';
    const attrs: LayoutAttrs = {};
    const bodyRange: [number, number][] = body ? [[body.startIndex, body.endIndex]] : [];
    const ownerEnd = endIndex ?? (owner === node ? node.endIndex : this.declarationTypeEnd(owner, node));
    // Attributes on the specifier itself and on the declaration up to its first declarator:
    // after the declarator they belong to what is declared (a typedef, a variable).
    this.applyAttributeSpecifiers(attrs, node.children);
    if (owner !== node) this.applyAttributeSpecifiers(attrs, owner.children.filter((c) => c && c.endIndex <= ownerEnd));
    this.applyAnnotations(attrs, this.annotationsIn(node.startIndex, Math.max(ownerEnd, node.endIndex), bodyRange));
    const at = nameNode ?? node;
    if (kind === 'enum') {
      const decl: EnumDecl = {
        kind: 'enum', tag: nameNode?.text, enumerators: [], attrs, complete: !!body, file: this.file, pos: pos(at), end: endPos(node),
      };
      for (const e of body?.namedChildren ?? []) {
        if (e?.type !== 'enumerator') continue;
        const name = e.childForFieldName('name');
        if (name) decl.enumerators.push({ name: name.text, value: e.childForFieldName('value')?.text, pos: pos(name) });
      }
      if (body) this.model.enums.push(decl);
      return decl;
    }
    // `#pragma pack(n)` in force where the body starts caps its members' alignment.
    const pack = [...this.packs].reverse().find((p) => p.line < node.startPosition.row)?.value;
    if (pack) attrs.pack = pack;
    // Past this depth the body is not read (the walk would exhaust the stack): the aggregate
    // stays incomplete, so its size is unknown rather than guessed, and the file says why.
    const tooDeep = !!body && this.depth >= MAX_AGGREGATE_NESTING;
    const decl: AggregateDecl = {
      kind, tag: nameNode?.text, fields: [], attrs, complete: !!body && !tooDeep, file: this.file, pos: pos(at), end: endPos(node), nested,
    };
    if (tooDeep) {
      this.model.problems.push({ pos: pos(at), end: endPos(node), context: `a ${kind} nested more than ${MAX_AGGREGATE_NESTING} levels deep` });
    } else if (body) {
      this.depth++;
      // Declaration macros blanked inside this body (not inside a nested one) go in source order.
      const macros = this.declarations.filter((d) => d.start > body.startIndex && d.end < body.endIndex);
      for (const f of body.namedChildren) {
        if (!f) continue;
        while (macros.length && macros[0].start < f.startIndex) {
          const d = macros.shift()!;
          if (!this.insideNestedBody(body, d.start)) this.expandDeclaration(d, decl);
        }
        this.field(f, decl);
      }
      for (const d of macros) if (!this.insideNestedBody(body, d.start)) this.expandDeclaration(d, decl);
      this.depth--;
      if (decl.tag) this.model.aggregates.push(decl);
    }
    return decl;
  }

  /** Whether an offset inside `body` lies in the body of an aggregate nested in it. */
  private insideNestedBody(body: N, offset: number): boolean {
    const n = this.access.descendantAt(body, offset);
    for (let p: N | null = n; p && p.id !== body.id; p = p.parent) if (p.type === 'field_declaration_list' && p.startIndex < offset) return true;
    return false;
  }

  /**
   * Where annotations after an aggregate body still belong to the aggregate: up to the first
   * declarator of the declaration (`} __packed var;`), or its end.
   */
  private declarationTypeEnd(owner: N, spec: N): number {
    const decl = owner.childForFieldName('declarator');
    if (decl && decl.startIndex >= spec.endIndex) return decl.startIndex;
    return owner.endIndex;
  }

  private field(node: N, parent: AggregateDecl, conditionalDepth = 0): void {
    if (node.type === 'preproc_if' || node.type === 'preproc_ifdef' || node.type === 'preproc_else' || node.type === 'preproc_elif') {
      // Members inside `#if` blocks nested past this depth are not read (the walk would exhaust
      // the stack): the aggregate becomes incomplete, its size unknown rather than guessed.
      if (conditionalDepth >= MAX_AGGREGATE_NESTING) {
        if (parent.complete) this.model.problems.push({ pos: pos(node), end: endPos(node), context: `#if blocks nested more than ${MAX_AGGREGATE_NESTING} levels deep in a ${parent.kind}` });
        parent.complete = false;
        return;
      }
      for (const c of node.namedChildren) if (c) this.field(c, parent, conditionalDepth + 1);
      return;
    }
    if (node.type !== 'field_declaration') return;
    const typeNode = node.childForFieldName('type');
    if (!typeNode) return;
    const base = this.typeExpr(typeNode, node, true);
    const baseText = this.typeText(typeNode);
    const declarators = node.childrenForFieldName('declarator').filter((d): d is N => !!d);
    // Bit-field clauses follow their declarator among the children.
    const children = node.children.filter((c): c is N => !!c);
    const bitsFor = (d: N): string | undefined => {
      const i = children.findIndex((c) => c.id === d.id);
      const next = children[i + 1];
      return next?.type === 'bitfield_clause' ? next.namedChildren[0]?.text : undefined;
    };
    const nestedBodies: [number, number][] = [];
    const typeBody = typeNode.childForFieldName('body');
    if (typeBody) nestedBodies.push([typeBody.startIndex, typeBody.endIndex]);
    const fieldAttrs: LayoutAttrs = {};
    this.applyAttributeSpecifiers(fieldAttrs, node.children);
    for (const d of declarators) {
      const inner = d.namedChildren.filter((c) => c?.type === 'attribute_specifier');
      this.applyAttributeSpecifiers(fieldAttrs, inner);
    }
    this.applyAnnotations(fieldAttrs, this.annotationsIn(node.startIndex, node.endIndex, nestedBodies));
    if (declarators.length === 0) {
      // An anonymous struct/union member, or `__u32 :3;` parsed without a declarator.
      const bare = children.find((c) => c.type === 'bitfield_clause');
      parent.fields.push({ type: base, attrs: fieldAttrs, typeText: baseText, pos: pos(node), end: endPos(node), bits: bare?.namedChildren[0]?.text });
      return;
    }
    for (const d of declarators) {
      const bits = bitsFor(d);
      if (this.access.isMissing(d)) {
        // `__u32 :3;` — tree-sitter inserts a missing name before the bit-field clause.
        parent.fields.push({ type: base, attrs: { ...fieldAttrs }, typeText: baseText, pos: pos(node), end: endPos(node), bits });
        continue;
      }
      const { name, type, suffix } = this.applyDeclarator(d, base);
      const nameNode = declaratorName(d);
      const f: FieldDecl = {
        name, type, attrs: { ...fieldAttrs }, typeText: baseText + suffix,
        pos: nameNode ? pos(nameNode) : pos(d), end: endPos(d), bits,
      };
      parent.fields.push(f);
    }
  }

  /** Applies a declarator to a base type: `*a[3]` is an array of pointers. */
  private applyDeclarator(d: N, type: TypeExpr): { name?: string; type: TypeExpr; suffix: string } {
    let suffix = '';
    let arrays = '';
    let cur: N | null = d;
    let t = type;
    while (cur) {
      switch (cur.type) {
        case 'pointer_declarator':
        case 'abstract_pointer_declarator':
          t = { k: 'ptr', to: t };
          suffix += ' *';
          cur = cur.childForFieldName('declarator');
          break;
        case 'array_declarator':
        case 'abstract_array_declarator': {
          const size = cur.childForFieldName('size');
          t = { k: 'array', of: t, len: size ? size.text : null };
          // Inner array declarators are the outer dimensions: prepend.
          arrays = `[${size ? size.text : ''}]` + arrays;
          cur = cur.childForFieldName('declarator');
          break;
        }
        case 'function_declarator':
        case 'abstract_function_declarator':
          t = { k: 'func' };
          suffix += ' ()';
          cur = cur.childForFieldName('declarator');
          break;
        case 'parenthesized_declarator':
        case 'abstract_parenthesized_declarator':
        case 'attributed_declarator':
          cur = cur.namedChildren.find((c) => c && c.type !== 'attribute_specifier' && c.type !== 'attribute_declaration') ?? null;
          break;
        case 'field_identifier':
        case 'identifier':
        case 'type_identifier':
          return { name: cur.text, type: t, suffix: suffix + arrays };
        default:
          return { type: t, suffix: suffix + arrays };
      }
    }
    return { type: t, suffix: suffix + arrays };
  }

  private typeText(typeNode: N): string {
    if ((typeNode.type === 'struct_specifier' || typeNode.type === 'union_specifier' || typeNode.type === 'enum_specifier')) {
      const kw = typeNode.type.replace('_specifier', '');
      const name = typeNode.childForFieldName('name');
      return name ? `${kw} ${name.text}` : `${kw} {...}`;
    }
    return typeNode.text.replace(/\s+/g, ' ').trim();
  }

  private typeExpr(typeNode: N, owner: N, nested = false): TypeExpr {
    switch (typeNode.type) {
      case 'primitive_type': {
        const prim = normalisePrimitive([typeNode.text]);
        return prim ? { k: 'prim', name: prim } : { k: 'name', name: typeNode.text };
      }
      case 'sized_type_specifier': {
        const words = typeNode.text.split(/\s+/).filter((w) => w && w !== 'const' && w !== 'volatile');
        const prim = normalisePrimitive(words);
        if (prim) return { k: 'prim', name: prim };
        return { k: 'unknown', text: typeNode.text };
      }
      case 'type_identifier': {
        // `_Bool`, `bool` and `__int128` reach tree-sitter as type names.
        const prim = ['_Bool', 'bool', '__int128'].includes(typeNode.text) ? normalisePrimitive([typeNode.text]) : undefined;
        return prim ? { k: 'prim', name: prim } : { k: 'name', name: typeNode.text };
      }
      case 'struct_specifier':
      case 'union_specifier':
      case 'enum_specifier': {
        const decl = this.tagged(typeNode, owner, nested);
        const tag = decl.kind;
        return { k: 'tag', tag, name: decl.tag, decl: typeNode.childForFieldName('body') ? decl : undefined };
      }
      case 'macro_type_specifier':
        return { k: 'unknown', text: typeNode.text };
      default:
        return { k: 'unknown', text: typeNode.text };
    }
  }

  private typedef(node: N): void {
    const typeNode = node.childForFieldName('type');
    if (!typeNode) return;
    const base = this.typeExpr(typeNode, node);
    const baseText = this.typeText(typeNode);
    for (const d of node.childrenForFieldName('declarator')) {
      if (!d) continue;
      const { name, type, suffix } = this.applyDeclarator(d, base);
      if (!name) continue;
      const attrs: LayoutAttrs = {};
      // With a struct body, what stands before the declarator went to the struct; what follows
      // it is the typedef's own. Without a body, every attribute is the typedef's.
      const from = base.k === 'tag' && base.decl ? d.startIndex : node.startIndex;
      this.applyAttributeSpecifiers(attrs, [...node.children, ...d.children].filter((c) => c && c.startIndex >= from));
      this.applyAnnotations(attrs, this.annotationsIn(from, node.endIndex));
      const nameNode = declaratorName(d);
      const td: TypedefDecl = { name, type, attrs, file: this.file, pos: nameNode ? pos(nameNode) : pos(d), typeText: baseText + suffix };
      this.model.typedefs.push(td);
      // A typedef of an anonymous aggregate names it.
      if (base.k === 'tag' && base.decl && !base.decl.tag && base.decl.kind !== 'enum' && type === base) {
        const agg = base.decl as AggregateDecl;
        if (!this.model.aggregates.includes(agg)) this.model.aggregates.push(agg);
      }
    }
  }
}

/**
 * The regions tree-sitter could not parse, read through web-tree-sitter's nodes whatever the walk
 * above: it enters only subtrees with an error, and the copy leaves out MISSING punctuation.
 */
function collectProblems(root: Node, model: FileModel): void {
  // A worklist, not recursion: a broken file can be thousands of levels deep. The next sibling
  // comes from the parent's child list: web-tree-sitter's `nextSibling` recurses in wasm and,
  // on a node a few thousand levels deep, overflows the wasm stack and corrupts the parser's
  // memory for the rest of the process ("memory access out of bounds" on every later parse).
  const pending: { n: Node; context: string; next: Node | null }[] = [{ n: root, context: 'top level', next: null }];
  for (let item = pending.pop(); item; item = pending.pop()) {
    const { n, context, next } = item;
    if (!n.hasError && !n.isMissing) continue;
    let ctx = context;
    if (n.type === 'function_definition') {
      const name = declaratorName(n.childForFieldName('declarator') ?? n);
      ctx = `function ${name?.text ?? '(unnamed)'}`;
    } else if ((n.type === 'struct_specifier' || n.type === 'union_specifier') && n.childForFieldName('name')) {
      ctx = `${n.type.replace('_specifier', '')} ${n.childForFieldName('name')!.text}`;
    }
    if (n.type === 'ERROR') {
      model.problems.push({ pos: pos(n), end: endPos(n), context: ctx });
      continue;
    }
    if (n.isMissing) {
      // `__u32 :3;` is valid C that tree-sitter parses with a missing field name.
      if (n.type === 'field_identifier' && next?.type === 'bitfield_clause') continue;
      model.problems.push({ pos: pos(n), end: endPos(n), context: ctx, missing: n.type });
      continue;
    }
    // Pushed last first, so problems come out in source order.
    const children = n.children;
    for (let i = children.length - 1; i >= 0; i--) {
      const c = children[i];
      if (c) pending.push({ n: c, context: ctx, next: children[i + 1] ?? null });
    }
  }
}

/** Moves an expansion's declarations to the position of the macro use they came from. */
function reposition(agg: AggregateDecl, at: SourcePos): void {
  agg.pos = at;
  agg.end = at;
  for (const f of agg.fields) {
    f.pos = at;
    f.end = at;
    let t = f.type;
    while (t.k === 'array' || t.k === 'ptr') t = t.k === 'array' ? t.of : t.to;
    if (t.k === 'tag' && t.decl && t.decl.kind !== 'enum') reposition(t.decl as AggregateDecl, at);
  }
}

export interface MacroUseInfo {
  attributes: MacroAttribute[];
  declarations: MacroDeclaration[];
  text: string;
  packs?: { line: number; value: number }[];
}

/** A comment's start, or a `{` right after `)` (a function body) or `=` (an initializer). */
const COMMENT_OR_BODY = /\/[*/]|[)=]\s*\{/g;

/**
 * Whether the plain copy is worth making: a text with no function body (`) {`) and no braced
 * initializer (`= {`) outside comments, as uapi headers are. Kernel C and its headers keep the
 * Node walk, which never enters function bodies or initializers. Either way gives the same model.
 * Linear, and native: the regex finds the next comment or body, indexOf the comment's end (a
 * per-character loop cost 1-2 ms per header in a process too short for V8 to optimise it).
 */
export function worthCopying(text: string | undefined): boolean {
  if (text === undefined) return false;
  COMMENT_OR_BODY.lastIndex = 0;
  for (let m = COMMENT_OR_BODY.exec(text); m; m = COMMENT_OR_BODY.exec(text)) {
    if (m[0][0] !== '/') return false;
    const end = m[0] === '/*' ? text.indexOf('*/', m.index + 2) + 2 : text.indexOf('\n', m.index + 2) + 1;
    if (end <= 1) return true;
    COMMENT_OR_BODY.lastIndex = end;
  }
  return true;
}

function extractWith(way: ExtractWay, file: string, tree: Tree, annotations: BlankedAnnotation[], uses?: MacroUseInfo): FileModel {
  if (way === 'plain') {
    return new Extractor(plainAccess(tree), file, annotations, uses?.attributes, uses?.declarations, uses?.text, uses?.packs).run(plainTree(tree), tree);
  }
  return new Extractor(nodeAccess, file, annotations, uses?.attributes, uses?.declarations, uses?.text, uses?.packs).run(tree.rootNode, tree);
}

/** `way` forces one walk (the tests compare both); by default the plain copy when worthCopying. */
export function extractModel(file: string, tree: Tree, annotations: BlankedAnnotation[], uses?: MacroUseInfo, way?: ExtractWay): FileModel {
  return extractWith(way ?? (worthCopying(uses?.text) ? 'plain' : 'nodes'), file, tree, annotations, uses);
}
