// A TreeCursor that calls web-tree-sitter's wasm exports directly. Each method of web-tree-sitter's
// own TreeCursor writes the cursor into the wasm transfer buffer with four `setValue`s before its
// call (and a move reads it back with four `getValue`s): copying the lock index's trees spent three
// quarters of its time there. The wasm functions read the cursor from the transfer buffer and a
// move writes it back, so a walk that makes no other call in between can leave it there: written
// once at the start, read back once at the end.
//
// The wasm exports are reached through the emscripten module, which is the options object given to
// the first `Parser.init` (emscripten's `Module = moduleArg`). web-tree-sitter does not export it,
// so `Parser.init` is wrapped to keep that object. When it is not there (another version of
// web-tree-sitter, an init before this module loaded), or the first tree walked both ways does
// not give the same steps, `rawCursor` answers undefined and the caller uses web-tree-sitter's
// TreeCursor: same answers, only slower (a test compares both on every fixture).
import { Parser, type Tree, type TreeCursor } from 'web-tree-sitter';

/** The wasm exports a walk uses, each taking the tree's handle and the cursor in the transfer buffer. */
interface CursorExports {
  HEAP32: Int32Array;
  _ts_init(): number;
  _ts_tree_cursor_current_node_type_id_wasm(tree: number): number;
  _ts_tree_cursor_current_field_id_wasm(tree: number): number;
  _ts_tree_cursor_current_node_is_missing_wasm(tree: number): number;
  _ts_tree_cursor_start_index_wasm(tree: number): number;
  _ts_tree_cursor_end_index_wasm(tree: number): number;
  _ts_tree_cursor_goto_first_child_wasm(tree: number): number;
  _ts_tree_cursor_goto_next_sibling_wasm(tree: number): number;
  _ts_tree_cursor_goto_parent_wasm(tree: number): number;
}

const EXPORTS: (keyof CursorExports)[] = [
  '_ts_init', '_ts_tree_cursor_current_node_type_id_wasm', '_ts_tree_cursor_current_field_id_wasm', '_ts_tree_cursor_current_node_is_missing_wasm',
  '_ts_tree_cursor_start_index_wasm', '_ts_tree_cursor_end_index_wasm', '_ts_tree_cursor_goto_first_child_wasm', '_ts_tree_cursor_goto_next_sibling_wasm',
  '_ts_tree_cursor_goto_parent_wasm',
];

let wasm: CursorExports | undefined;
let transferWord = 0;

function isCursorExports(m: unknown): m is CursorExports {
  const o = m as Record<string, unknown> | null;
  return !!o && o.HEAP32 instanceof Int32Array && EXPORTS.every((name) => typeof o[name] === 'function');
}

{
  const parser = Parser as unknown as { init(options?: object): Promise<void>; vfioReviewWrapped?: boolean };
  if (!parser.vfioReviewWrapped) {
    const init = parser.init;
    parser.init = async function (this: unknown, options: object = {}) {
      await init.call(this, options);
      // Only the first init's options become the module: a later one's object is not it.
      if (!wasm && isCursorExports(options)) {
        wasm = options;
        transferWord = wasm._ts_init() >> 2;
      }
    };
    parser.vfioReviewWrapped = true;
  }
}

/** The members of web-tree-sitter's TreeCursor that the plain-tree copy reads. */
export type CursorLike = Pick<TreeCursor, 'nodeTypeId' | 'currentFieldId' | 'startIndex' | 'endIndex' | 'nodeIsMissing' | 'gotoFirstChild' | 'gotoNextSibling' | 'gotoParent'> & {
  /** Whether the node under the cursor has an error inside (asked only of ERROR leaves). */
  readonly currentNodeHasError: boolean;
  delete(): void;
};

/** web-tree-sitter's own cursor, as a CursorLike. */
export function publicCursor(tree: Tree): CursorLike {
  const cursor = tree.walk();
  return Object.defineProperty(cursor, 'currentNodeHasError', { get: () => cursor.currentNode.hasError }) as unknown as CursorLike;
}

/**
 * A cursor on the root of `tree` that calls wasm directly, or undefined when the module was not
 * found. Nothing else may call into web-tree-sitter until it is deleted: every other call uses the
 * transfer buffer the cursor lives in.
 */
export function rawCursor(tree: Tree): CursorLike | undefined {
  if (!wasm) return undefined;
  if (!verified) {
    verified = true;
    if (!sameFirstSteps(tree, wasm)) wasm = undefined;
    if (!wasm) return undefined;
  }
  return new RawCursor(wasm, tree);
}

let verified = false;

/**
 * Whether the raw cursor and web-tree-sitter's take the same first steps of a depth-first walk
 * of `tree` (type, field and range at each): asked once per process, so that a web-tree-sitter
 * whose transfer buffer works otherwise is never read wrongly, only walked the slow way.
 */
function sameFirstSteps(tree: Tree, m: CursorExports): boolean {
  const steps = (cursor: CursorLike): string[] => {
    const out: string[] = [];
    try {
      for (let i = 0; i < 200; i++) {
        out.push(`${cursor.nodeTypeId} ${cursor.currentFieldId} ${cursor.startIndex} ${cursor.endIndex} ${cursor.nodeIsMissing}`);
        if (cursor.gotoFirstChild() || cursor.gotoNextSibling()) continue;
        let up = false;
        while (cursor.gotoParent()) if ((up = cursor.gotoNextSibling())) break;
        if (!up) break;
      }
    } finally {
      cursor.delete();
    }
    return out;
  };
  try {
    return steps(new RawCursor(m, tree)).join('\n') === steps(publicCursor(tree)).join('\n');
  } catch {
    return false;
  }
}

class RawCursor implements CursorLike {
  private readonly handle: number;
  private readonly cursor: TreeCursor;

  constructor(private readonly m: CursorExports, tree: Tree) {
    this.handle = (tree as unknown as { 0: number })[0];
    this.cursor = tree.walk();
    this.store();
  }

  /** web-tree-sitter's cursor state (four words) into the transfer buffer. */
  private store(): void {
    const c = this.cursor as unknown as number[];
    const heap = this.m.HEAP32;
    for (let i = 0; i < 4; i++) heap[transferWord + i] = c[i];
  }

  /** The transfer buffer's state back into web-tree-sitter's cursor. */
  private load(): void {
    const c = this.cursor as unknown as number[];
    const heap = this.m.HEAP32;
    for (let i = 0; i < 4; i++) c[i] = heap[transferWord + i];
  }

  get nodeTypeId(): number {
    return this.m._ts_tree_cursor_current_node_type_id_wasm(this.handle);
  }
  get currentFieldId(): number {
    return this.m._ts_tree_cursor_current_field_id_wasm(this.handle);
  }
  get startIndex(): number {
    return this.m._ts_tree_cursor_start_index_wasm(this.handle);
  }
  get endIndex(): number {
    return this.m._ts_tree_cursor_end_index_wasm(this.handle);
  }
  get nodeIsMissing(): boolean {
    return this.m._ts_tree_cursor_current_node_is_missing_wasm(this.handle) === 1;
  }
  get currentNodeHasError(): boolean {
    // Through web-tree-sitter (the node is marshalled through the same buffer), then put back.
    this.load();
    const hasError = this.cursor.currentNode.hasError;
    this.store();
    return hasError;
  }
  gotoFirstChild(): boolean {
    return this.m._ts_tree_cursor_goto_first_child_wasm(this.handle) === 1;
  }
  gotoNextSibling(): boolean {
    return this.m._ts_tree_cursor_goto_next_sibling_wasm(this.handle) === 1;
  }
  gotoParent(): boolean {
    return this.m._ts_tree_cursor_goto_parent_wasm(this.handle) === 1;
  }
  delete(): void {
    this.load();
    this.cursor.delete();
  }
}

/** Whether `rawCursor` can be used (for the tests: a fallback taken everywhere would test nothing). */
export function wasmCursorAvailable(): boolean {
  return !!wasm;
}
