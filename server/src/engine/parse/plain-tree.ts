// A tree-sitter tree copied once into plain objects, for code that visits every node of a file
// (the lock extraction and its CFGs). Through web-tree-sitter's Node API each `.type`,
// `.namedChildren`, `.childForFieldName()`, `.parent` or `.text` is a call into wasm and a new
// Node object; a whole index visited that way spent most of its time crossing into wasm and
// collecting those objects. One TreeCursor walk reads each node once (type, field, start and end);
// positions and text then come from the tree's own text.
import type { Language, Point, Tree } from 'web-tree-sitter';
import { publicCursor, rawCursor, type CursorLike } from './wasm-cursor';

/**
 * What the lock extraction and the CFG builder read of a node, N being the node type itself.
 * web-tree-sitter's Node has it too, so the same code runs over either (the tests compare them).
 */
export interface SyntaxNodeOf<N> {
  readonly id: number;
  readonly type: string;
  readonly text: string;
  readonly startIndex: number;
  readonly endIndex: number;
  readonly startPosition: Point;
  readonly endPosition: Point;
  readonly parent: N | null;
  readonly namedChildren: (N | null)[];
  readonly lastChild: N | null;
  readonly hasError: boolean;
  childForFieldName(name: string): N | null;
  childrenForFieldName(name: string): (N | null)[];
  descendantsOfType(types: string | string[]): (N | null)[];
}

export interface SyntaxNode extends SyntaxNodeOf<SyntaxNode> {}

/** The text of a tree and where its lines start, shared by the nodes of one copy. */
class Source {
  private readonly lineStarts: number[] = [];

  /** `text` starts at `base` (the root's start index), on `baseRow`/`baseColumn`. */
  constructor(readonly text: string, readonly base: number, private readonly baseRow: number, private readonly baseColumn: number) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.lineStarts.push(i + 1);
  }

  slice(start: number, end: number): string {
    return this.text.slice(start - this.base, end - this.base);
  }

  /** tree-sitter's point of an index: rows counted by '\n', columns in UTF-16 units like the indices. */
  point(index: number): Point {
    const offset = index - this.base;
    // The number of line starts at or before offset.
    let lo = 0;
    let hi = this.lineStarts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lineStarts[mid] <= offset) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return { row: this.baseRow, column: this.baseColumn + offset };
    return { row: this.baseRow + lo, column: offset - this.lineStarts[lo - 1] };
  }
}

/** The children of every leaf: most nodes are leaves, and an array each was a tenth of the copy. */
const NO_CHILDREN: PlainNode[] = Object.freeze([]) as unknown as PlainNode[];

export class PlainNode implements SyntaxNodeOf<PlainNode> {
  parent: PlainNode | null = null;
  /** In document order (punctuation left out, see plainTree); never changed once copied. */
  children: PlainNode[] = NO_CHILDREN;
  /** Field name in the parent, or null. */
  field: string | null = null;
  hasError = false;
  private named?: PlainNode[];

  constructor(
    readonly id: number,
    readonly type: string,
    readonly isNamed: boolean,
    readonly startIndex: number,
    readonly endIndex: number,
    private readonly source: Source,
  ) {}

  get text(): string {
    return this.source.slice(this.startIndex, this.endIndex);
  }

  get startPosition(): Point {
    return this.source.point(this.startIndex);
  }

  get endPosition(): Point {
    return this.source.point(this.endIndex);
  }

  get namedChildren(): PlainNode[] {
    // The children themselves when all are named (most nodes: punctuation is not copied).
    return (this.named ??= this.children.every((c) => c.isNamed) ? this.children : this.children.filter((c) => c.isNamed));
  }

  get lastChild(): PlainNode | null {
    return this.children[this.children.length - 1] ?? null;
  }

  childForFieldName(name: string): PlainNode | null {
    for (const c of this.children) if (c.field === name) return c;
    return null;
  }

  childrenForFieldName(name: string): PlainNode[] {
    return this.children.filter((c) => c.field === name);
  }

  /** This node and its descendants of the given types, in document order (as web-tree-sitter's). */
  descendantsOfType(types: string | string[]): PlainNode[] {
    const wanted = typeof types === 'string' ? [types] : types;
    const out: PlainNode[] = [];
    const stack: PlainNode[] = [this];
    while (stack.length) {
      const n = stack.pop()!;
      if (wanted.includes(n.type)) out.push(n);
      for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]);
    }
    return out;
  }
}

/**
 * The whole tree as plain nodes; the tree itself can be deleted afterwards. Punctuation (an
 * unnamed token outside any field: `;`, `(`, `,`) is left out but for `}`, a block's last child;
 * unnamed tokens in a field (`operator`) are kept.
 */
/** Named tokens of the C grammar: never any children, so the cursor is not asked for them. */
const TOKENS = new Set(['identifier', 'field_identifier', 'type_identifier', 'statement_identifier', 'primitive_type', 'number_literal', 'comment', 'escape_sequence', 'string_content', 'system_lib_string', 'true', 'false', 'null']);

/** Which node types of a language are named, by type id (asked once per language, not during a walk). */
const namedTypesOf = new WeakMap<Language, boolean[]>();

function namedTypes(language: Language): boolean[] {
  let named = namedTypesOf.get(language);
  if (!named) {
    named = language.types.map((_t, id) => language.nodeTypeIsNamed(id));
    // ERROR nodes have tree-sitter's builtin symbols (65535, and 65534 for its repeats).
    for (const builtin of [0xfffe, 0xffff]) named[builtin] = language.nodeTypeIsNamed(builtin);
    namedTypesOf.set(language, named);
  }
  return named;
}

/**
 * `viaWasm` false walks with web-tree-sitter's own TreeCursor (the tests compare both ways); by
 * default the cursor calls wasm directly (parse/wasm-cursor.ts) when it can.
 */
export function plainTree(tree: Tree, options: { viaWasm?: boolean } = {}): PlainNode {
  const root = tree.rootNode;
  const source = new Source(root.text, root.startIndex, root.startPosition.row, root.startPosition.column);
  // Most files parse without an error: only then are MISSING leaves looked for.
  const anyError = root.hasError;
  const language = tree.language;
  const types = language.types;
  const fields = language.fields;
  const closeBrace = types.indexOf('}');
  const namedByType = namedTypes(language);
  const cursor: CursorLike = (options.viaWasm !== false && rawCursor(tree)) || publicCursor(tree);
  let nextId = 1;
  /** The node under the cursor, or null for punctuation (a leaf, left out). */
  const nodeHere = (parent: PlainNode | null): PlainNode | null => {
    const typeId = cursor.nodeTypeId;
    const fieldId = cursor.currentFieldId;
    const named = namedByType[typeId] ?? false;
    if (!named && fieldId === 0 && typeId !== closeBrace) {
      if (anyError && parent && cursor.nodeIsMissing) markError(parent);
      return null;
    }
    const n = new PlainNode(nextId++, types[typeId] || 'ERROR', named, cursor.startIndex, cursor.endIndex, source);
    n.field = fields[fieldId] ?? null;
    n.parent = parent;
    if (parent) {
      if (parent.children === NO_CHILDREN) parent.children = [n];
      else parent.children.push(n);
    }
    return n;
  };
  try {
    const top = nodeHere(null)!;
    // Depth first with the cursor. `current` is the node under the cursor, or null on punctuation
    // (then `parent` is its parent).
    let parent: PlainNode = top;
    let current: PlainNode | null = top;
    for (;;) {
      if (current && current.isNamed && !TOKENS.has(current.type) && cursor.gotoFirstChild()) {
        parent = current;
        current = nodeHere(parent);
        continue;
      }
      // A leaf. MISSING nodes (inserted by error recovery) are empty leaves; tree-sitter does not
      // count every ERROR leaf as an error (a stray character may cost nothing): it is asked.
      if (current && current.type === 'ERROR' ? cursor.currentNodeHasError : current && anyError && current.startIndex === current.endIndex && cursor.nodeIsMissing) markError(current);
      for (;;) {
        if (current === top) return top;
        if (cursor.gotoNextSibling()) {
          current = nodeHere(parent);
          break;
        }
        cursor.gotoParent();
        current = parent;
        parent = current.parent!;
        if (current.type === 'ERROR') markError(current);
      }
    }
  } finally {
    cursor.delete();
  }
}

function markError(n: PlainNode | null): void {
  for (; n && !n.hasError; n = n.parent) n.hasError = true;
}
