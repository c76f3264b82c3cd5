// What the lock analysis needs from one file, as plain data (kept after the tree is deleted, cached
// by content): each function's CFG with lock events and calls, its parameters and locals, struct
// field types, file-scope variables, and the functions assigned to fields in designated
// initializers (ops tables).
import type { Tree } from 'web-tree-sitter';
import { buildCfg, CfgTooDeep, MAX_CFG_DEPTH, type Cfg } from '../../cfg/build';
import type { BlankResult } from '../../parse/blank';
import { plainTree, type SyntaxNode as Node, type SyntaxNodeOf } from '../../parse/plain-tree';
import { lockExprOf, normaliseExpr } from './paths';
import { ACCESS_ALLOCATORS, ACCESS_DIAGNOSTICS, ACCESS_FREERS, ACCESS_INITIALISERS, ACCESS_READERS, ACQUIRES_ANNOTATIONS, BLOCK_GUARD, GUARD_CLASSES, primitiveOf, RELEASES_ANNOTATIONS, REQUIRES_ANNOTATIONS, SCOPED_GUARDS } from './primitives';

export interface Loc {
  file: string;
  line: number;
  character: number;
  endLine: number;
  endCharacter: number;
}

export type Callee =
  | { kind: 'direct'; name: string }
  /** A call through a parameter: `fn(pdev, data)`. */
  | { kind: 'param'; index: number }
  /**
   * A call through a struct field: `vdev->ops->open_device(vdev)`; `receiver` is the expression
   * the field is read from (`vdev->ops`), normalised.
   */
  | { kind: 'field'; field: string; receiver: string }
  | { kind: 'unknown' };

export type LockEvent =
  | { k: 'acquire'; lock: string; prim: string; at: Loc; scoped?: boolean; conditional?: boolean }
  | { k: 'release'; lock: string; prim: string; at: Loc; scoped?: boolean }
  /** A try-acquire that failed on this edge. */
  | { k: 'drop'; lock: string }
  /** `conditional`: under an if, loop or switch: a data-dependent check, not a contract. */
  | { k: 'assert'; lock: string; prim: string; at: Loc; conditional: boolean }
  | { k: 'call'; callee: Callee; name: string; args: string[]; at: Loc; id: number }
  | { k: 'return'; at: Loc }
  /**
   * A field read or written: `base->field` (or `base.field`). `kind`: iterate (the list head of an
   * iterator macro), read (a value used, or the address given to a read-only list helper), write
   * (assigned, incremented), addr (the address given to anything else), init (the address given
   * to an initialiser: INIT_LIST_HEAD, mutex_init), check (inside WARN_ON and the like), member
   * (`x->f.g`: the access is the inner field's).
   */
  | { k: 'access'; expr: string; base: string; field: string; kind: AccessKind; at: Loc };

export type AccessKind = 'iterate' | 'read' | 'write' | 'addr' | 'member' | 'init' | 'check';

export interface FunctionIR {
  name: string;
  file: string;
  isStatic: boolean;
  at: Loc;
  params: { name: string; type?: string; isFunctionPointer: boolean }[];
  localTypes: Map<string, string | undefined>;
  aliases: Map<string, string>;
  /**
   * Locals whose every value is a direct call (or NULL): local -> the functions called. Objects
   * built by allocators (`x = kzalloc(...)`) or constructors are not yet shared.
   */
  builtBy: Map<string, string[]>;
  /** Values of the return statements, normalised. */
  returns: string[];
  /** Locals and parameters given to a freeing call (`kfree(x)`): objects being torn down. */
  freed: string[];
  /**
   * Values stored in fields of locals: `local.field` -> the value's text (normalised), from
   * designated initializers (`struct w walk = { .fn = fn }`) and assignments (`walk.fn = fn`).
   * '' when the field is given different values.
   */
  fieldStores: Map<string, string>;
  /** Lock expressions from __must_hold / __acquires / __releases. */
  annotations: { requires: string[]; acquires: string[]; releases: string[] };
  cfg: Cfg<LockEvent>;
}

export interface FileIR {
  file: string;
  functions: FunctionIR[];
  /** Functions whose bodies did not parse (not analysed, never reported). */
  skipped: string[];
  /** Field names accessed (`->f`, `.f`) in the bodies of skipped functions: their accesses are not counted. */
  skippedFields: Set<string>;
  structs: Map<string, Map<string, string | undefined>>;
  globals: Map<string, string | undefined>;
  /** field -> functions assigned to it in designated initializers (`.open_device = f`). */
  fieldFunctions: Map<string, Set<string>>;
  /**
   * The same by the type of the initializer: `vfio_device_ops::open_device` for a field of the
   * declared variable's own initializer list; `::open_device` where the type is not known (a
   * nested list, an array of tables, a declaration without a struct or type name).
   */
  fieldFunctionsByType: Map<string, Set<string>>;
  /** Designated initializers per struct type: `struct pci_driver` -> [{ fields, at }]. */
  initializers: { type: string; name: string; fields: Map<string, string>; fieldAt: Map<string, Loc>; at: Loc }[];
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key) ?? new Set<string>();
  set.add(value);
  map.set(key, set);
}

const locOf = (file: string, n: Node): Loc => ({
  file, line: n.startPosition.row, character: n.startPosition.column, endLine: n.endPosition.row, endCharacter: n.endPosition.column,
});

// Named children are never null (web-tree-sitter types them so for a node it could not read); a
// plain node gives the same array on every call (not to be changed).
const NO_NODES: readonly Node[] = Object.freeze([]);
const named = (n: Node | null | undefined): readonly Node[] => (n ? (n.namedChildren as Node[]) : NO_NODES);

/** The identifier a declarator declares (through pointers, arrays, parentheses, functions). */
export function declaratorName<N extends SyntaxNodeOf<N>>(d: N | null): string | undefined {
  for (let n: N | null = d, i = 0; n && i < 20; i++) {
    if (n.type === 'identifier' || n.type === 'field_identifier' || n.type === 'type_identifier') return n.text;
    const inner: N | null = n.childForFieldName('declarator') ?? n.namedChildren.find((c): c is N => !!c && (c.type.endsWith('declarator') || c.type === 'identifier' || c.type === 'field_identifier')) ?? null;
    n = inner;
  }
  return undefined;
}

function isFunctionPointerDeclarator(d: Node | null): boolean {
  for (let n: Node | null = d, i = 0; n && i < 20; i++) {
    if (n.type === 'function_declarator') return true;
    n = n.childForFieldName('declarator') ?? named(n).find((c) => c.type.endsWith('declarator')) ?? null;
  }
  return false;
}

/** The struct (or typedef) name of a declaration's type: `struct vfio_device *` -> vfio_device. */
function typeNameOf(typeNode: Node | null): string | undefined {
  if (!typeNode) return undefined;
  if (typeNode.type === 'struct_specifier' || typeNode.type === 'union_specifier') return typeNode.childForFieldName('name')?.text;
  if (typeNode.type === 'type_identifier') return typeNode.text;
  return undefined;
}

function functionDeclarator(d: Node | null): Node | undefined {
  for (let n: Node | null = d, i = 0; n && i < 20; i++) {
    if (n.type === 'function_declarator') return n;
    n = n.childForFieldName('declarator');
  }
  return undefined;
}

const CONDITIONAL = new Set(['if_statement', 'while_statement', 'for_statement', 'do_statement', 'switch_statement', 'conditional_expression', 'case_statement']);

function underCondition(n: Node, body: Node): boolean {
  for (let p = n.parent; p && p.id !== body.id; p = p.parent) if (CONDITIONAL.has(p.type)) return true;
  return false;
}

/**
 * Whether extractTree can find a function or a designated initializer in the tree: a function
 * definition, or a declaration with an initializer list, among the top-level items (where it
 * looks for them). When not, the file's IR has neither, whatever else it holds.
 */
export function mayHoldFunctionsOrInitializers(tree: Tree, openConditionals = true): boolean {
  for (const top of topLevelItems(tree.rootNode, openConditionals)) {
    if (top.type === 'function_definition') return true;
    if (top.type === 'declaration' && top.descendantsOfType('initializer_list').length) return true;
  }
  return false;
}

/** Conditional blocks: the branches of a top-level `#if`/`#ifdef` are top-level code too. */
const PREPROC_BLOCKS = new Set(['preproc_if', 'preproc_ifdef', 'preproc_else', 'preproc_elif', 'preproc_elifdef']);

/**
 * The root's children, with `#if`/`#ifdef` blocks opened when `openConditionals` (every branch,
 * nested blocks too): a header's include guard holds all of it, and a C file's
 * `#ifdef CONFIG_...` holds functions. Closed, a block is one item with no function of its own.
 */
function topLevelItems<N extends SyntaxNodeOf<N>>(root: N, openConditionals: boolean): N[] {
  const out: N[] = [];
  const visit = (n: N, depth: number) => {
    for (const c of n.namedChildren) {
      if (!c) continue;
      if (openConditionals && PREPROC_BLOCKS.has(c.type) && depth < 32) visit(c, depth + 1);
      else out.push(c);
    }
  };
  visit(root, 0);
  return out;
}

/** See extractTree. */
export function extractFile(file: string, tree: Tree, blank: BlankResult, openConditionals = true): FileIR {
  // Every node of the file is visited, most several times: a plain copy, not wasm calls (parse/plain-tree.ts).
  return extractTree(file, plainTree(tree), blank, openConditionals);
}

/**
 * The extraction from a tree's root: the plain copy's (extractFile) or web-tree-sitter's own
 * (the tests compare both: the copy must give the same IR). `openConditionals`: the functions
 * and initializers inside top-level `#if`/`#ifdef` blocks too (topLevelItems); the lock analysis
 * leaves them closed only for headers outside the index (index.ts).
 */
export function extractTree(file: string, root: Node, blank: BlankResult, openConditionals = true): FileIR {
  const ir: FileIR = { file, functions: [], skipped: [], skippedFields: new Set(), structs: new Map(), globals: new Map(), fieldFunctions: new Map(), fieldFunctionsByType: new Map(), initializers: [] };
  const scopedAt = new Map(blank.statementMacros.filter((m) => SCOPED_GUARDS.has(m.name)).map((m) => [m.start, m]));
  let nextCallId = 0;
  const macroAt = new Map(blank.statementMacros.map((m) => [m.start, m.name]));
  // Texts repeat within a file (`container_of(core_vdev, …)`, `-EINVAL`, a nested field access
  // as its own expression and as the outer one's base): each normalised once per file.
  const normalisedTexts = new Map<string, string>();
  const normalise = (text: string): string => {
    let t = normalisedTexts.get(text);
    if (t === undefined) {
      t = normaliseExpr(text);
      normalisedTexts.set(text, t);
    }
    return t;
  };

  const collectStructs = (n: Node) => {
    // Struct definitions anywhere (top level, nested, in declarations): their field types.
    for (const s of n.descendantsOfType(['struct_specifier', 'union_specifier'])) {
      if (!s) continue;
      const name = s.childForFieldName('name')?.text;
      const body = s.childForFieldName('body');
      if (!name || !body) continue;
      const fields = ir.structs.get(name) ?? new Map<string, string | undefined>();
      for (const fd of named(body)) {
        if (fd.type !== 'field_declaration') continue;
        const t = typeNameOf(fd.childForFieldName('type'));
        for (const d of fd.childrenForFieldName('declarator')) {
          const fname = d ? declaratorName(d) : undefined;
          if (fname) fields.set(fname, isFunctionPointerDeclarator(d) ? undefined : t);
        }
      }
      ir.structs.set(name, fields);
    }
  };

  const collectInitializers = (decl: Node) => {
    const typeName = typeNameOf(decl.childForFieldName('type'));
    for (const d of decl.childrenForFieldName('declarator')) {
      if (!d) continue;
      const varName = declaratorName(d);
      if (varName && !isFunctionPointerDeclarator(d)) ir.globals.set(varName, typeName);
      const value = d.type === 'init_declarator' ? d.childForFieldName('value') : null;
      if (!value || value.type !== 'initializer_list') continue;
      const fields = new Map<string, string>();
      const fieldAt = new Map<string, Loc>();
      // Pairs of this list itself (not of a nested one): their field is a field of `typeName`.
      const own = new Set<number>();
      for (const c of named(value)) if (c.type === 'initializer_pair') own.add(c.startIndex);
      for (const pair of value.descendantsOfType('initializer_pair')) {
        if (!pair) continue;
        const designator = pair.childForFieldName('designator') ?? named(pair)[0];
        const v = pair.childForFieldName('value');
        const fieldName = designator?.text.replace(/^\./, '');
        if (!fieldName || !v) continue;
        fields.set(fieldName, v.text);
        fieldAt.set(fieldName, locOf(file, pair));
        if (v.type === 'identifier') {
          addTo(ir.fieldFunctions, fieldName, v.text);
          addTo(ir.fieldFunctionsByType, `${typeName && own.has(pair.startIndex) ? typeName : ''}::${fieldName}`, v.text);
        }
      }
      if (typeName) ir.initializers.push({ type: typeName, name: varName ?? '', fields, fieldAt, at: locOf(file, d) });
    }
  };

  for (const top of topLevelItems(root, openConditionals)) {
    collectStructs(top);
    if (top.type === 'declaration') collectInitializers(top);
    if (top.type !== 'function_definition') continue;
    const fd = functionDeclarator(top.childForFieldName('declarator'));
    // Blanking turns a definition named like an iterator (`x_for_each_y(...) {`) into `while`:
    // the recorded statement macro has the real name.
    const nameNode = fd?.childForFieldName('declarator');
    const name = nameNode ? (macroAt.get(nameNode.startIndex) ?? declaratorName(nameNode)) : undefined;
    const body = top.childForFieldName('body');
    if (!fd || !name || !body) continue;
    if (top.hasError) {
      skip(name, body);
      continue;
    }
    try {
      ir.functions.push(extractFunction(top, fd, name, body));
    } catch (e) {
      if (!(e instanceof CfgTooDeep)) throw e;
      // Nested beyond what the CFG builder takes: left out like a body that does not parse.
      skip(name, body);
    }
  }
  return ir;

  /** A function left unanalysed: its name, and the fields it touches (their accesses are not counted). */
  function skip(name: string, body: Node): void {
    ir.skipped.push(name);
    for (const m of body.text.matchAll(/(?:->|\.)\s*([A-Za-z_]\w*)/g)) ir.skippedFields.add(m[1]);
  }

  function extractFunction(def: Node, fd: Node, name: string, body: Node): FunctionIR {
    const params: FunctionIR['params'] = [];
    for (const p of named(fd.childForFieldName('parameters'))) {
      if (p.type !== 'parameter_declaration') continue;
      const d = p.childForFieldName('declarator');
      params.push({ name: declaratorName(d) ?? '', type: typeNameOf(p.childForFieldName('type')), isFunctionPointer: isFunctionPointerDeclarator(d) });
    }
    const localTypes = new Map<string, string | undefined>();
    const assignments = new Map<string, string[]>();
    const annotations: FunctionIR['annotations'] = { requires: [], acquires: [], releases: [] };
    for (const a of blank.annotations) {
      if (a.start < def.startIndex || a.start >= body.startIndex || !a.args[0]) continue;
      if (REQUIRES_ANNOTATIONS.has(a.name)) annotations.requires.push(lockExprOf(a.args[0]));
      else if (ACQUIRES_ANNOTATIONS.has(a.name)) annotations.acquires.push(lockExprOf(a.args[0]));
      else if (RELEASES_ANNOTATIONS.has(a.name)) annotations.releases.push(lockExprOf(a.args[0]));
    }
    const freed = new Set<string>();
    const fieldStores = new Map<string, string>();
    const store = (key: string, value: string) => {
      const v = normalise(value);
      const prev = fieldStores.get(key);
      fieldStores.set(key, prev === undefined || prev === v ? v : '');
    };
    const isStatic = def.namedChildren.some((c) => c?.type === 'storage_class_specifier' && c.text === 'static');
    /** `ret = mutex_lock_interruptible(&l)`: which lock a later `if (ret)` decides. */
    const tryResults = new Map<string, { lock: string; success: 'zero' | 'nonzero' }>();

    const events = (n: Node): LockEvent[] => {
      const out: LockEvent[] = [];
      walk(n, out);
      return out;
    };

    // Expressions can nest thousands deep in hostile or generated code (a fuzzed file with 10,000
    // parentheses overflowed the stack here): past the CFG's own limit the function is left out
    // like one whose statements nest too deep, and too-deep.ts says so.
    let depth = 0;
    const walk = (n: Node, out: LockEvent[]): void => {
      if (++depth > MAX_CFG_DEPTH) throw new CfgTooDeep(`expressions nested more than ${MAX_CFG_DEPTH} deep`);
      try {
        walkNode(n, out);
      } finally {
        depth--;
      }
    };

    const walkNode = (n: Node, out: LockEvent[]): void => {
      switch (n.type) {
        case 'call_expression': {
          const fn = n.childForFieldName('function');
          const argsNode = n.childForFieldName('arguments');
          const args = named(argsNode).filter((a) => a.type !== 'comment');
          // guard(mutex)(&l): held to the end of the enclosing block (released by scopeExit).
          if (fn?.type === 'call_expression' && fn.childForFieldName('function')?.text === BLOCK_GUARD) {
            const cls = named(fn.childForFieldName('arguments'))[0]?.text ?? '';
            if (GUARD_CLASSES.has(cls) && args[0]) out.push({ k: 'acquire', lock: lockExprOf(args[0].text), prim: `guard(${cls})`, at: locOf(file, n), scoped: true });
            return;
          }
          for (const a of args) walk(a, out);
          if (fn && fn.type !== 'identifier') walk(fn, out);
          const callName = fn?.type === 'identifier' ? fn.text : undefined;
          const prim = callName ? primitiveOf(callName) : undefined;
          const at = locOf(file, n);
          if (prim && callName) {
            const arg = args[prim.lock];
            if (!arg) return;
            const lock = lockExprOf(arg.text);
            if (prim.effect === 'acquire') out.push({ k: 'acquire', lock, prim: callName, at });
            else if (prim.effect === 'tryAcquire') out.push({ k: 'acquire', lock, prim: callName, at, conditional: true });
            else if (prim.effect === 'release') out.push({ k: 'release', lock, prim: callName, at });
            else if (prim.effect === 'assert') out.push({ k: 'assert', lock, prim: callName, at, conditional: underCondition(n, body) });
            return;
          }
          let callee: Callee = { kind: 'unknown' };
          if (callName) {
            const pi = params.findIndex((p) => p.name === callName && p.isFunctionPointer);
            callee = pi >= 0 ? { kind: 'param', index: pi } : localTypes.has(callName) ? { kind: 'unknown' } : { kind: 'direct', name: callName };
          } else if (fn?.type === 'field_expression') {
            const receiver = fn.childForFieldName('argument');
            callee = { kind: 'field', field: fn.childForFieldName('field')?.text ?? '', receiver: receiver ? normalise(receiver.text) : '' };
          } else if (fn?.type === 'parenthesized_expression') {
            // (*fn)(x)
            const inner = normalise(fn.text).replace(/^\*/, '');
            const pi = params.findIndex((p) => p.name === inner);
            if (pi >= 0) callee = { kind: 'param', index: pi };
          }
          if (callName && args.length === 1 && args[0].type === 'identifier' && ACCESS_FREERS.some((r) => r.test(callName))) freed.add(args[0].text);
          out.push({ k: 'call', callee, name: callName ?? fn?.text ?? '?', args: args.map((a) => a.text), at, id: nextCallId++ });
          return;
        }
        case 'field_expression': {
          const arg = n.childForFieldName('argument');
          if (arg) walk(arg, out);
          const field = n.childForFieldName('field')?.text;
          if (arg && field) out.push({ k: 'access', expr: normalise(n.text), base: normalise(arg.text), field, kind: accessKind(n), at: locOf(file, n) });
          return;
        }
        case 'assignment_expression': {
          const left = n.childForFieldName('left');
          const right = n.childForFieldName('right');
          if (right) walk(right, out);
          if (left && left.type !== 'identifier') walk(left, out);
          if (left?.type === 'field_expression' && right && left.childForFieldName('argument')?.type === 'identifier') {
            store(`${left.childForFieldName('argument')!.text}.${left.childForFieldName('field')?.text ?? ''}`, right.text);
          }
          if (left?.type === 'identifier' && right) {
            const list = assignments.get(left.text) ?? [];
            list.push(right.text);
            assignments.set(left.text, list);
            noteTryResult(left.text, right);
          }
          return;
        }
        case 'declaration': {
          const t = typeNameOf(n.childForFieldName('type'));
          for (const d of n.childrenForFieldName('declarator')) {
            if (!d) continue;
            const v = declaratorName(d);
            if (v) localTypes.set(v, t);
            const value = d.type === 'init_declarator' ? d.childForFieldName('value') : null;
            if (v && value?.type === 'initializer_list') {
              for (const pair of named(value)) {
                if (pair.type !== 'initializer_pair') continue;
                const f = (pair.childForFieldName('designator') ?? named(pair)[0])?.text.replace(/^\./, '');
                const val = pair.childForFieldName('value');
                if (f && /^[A-Za-z_]\w*$/.test(f) && val) store(`${v}.${f}`, val.text);
              }
            }
            if (v && value) {
              walk(value, out);
              const list = assignments.get(v) ?? [];
              list.push(value.text);
              assignments.set(v, list);
              noteTryResult(v, value);
            }
          }
          return;
        }
        default:
          for (const c of named(n)) walk(c, out);
      }
    };

    /** How a field expression is used (see AccessKind). */
    const accessKind = (n: Node): AccessKind => {
      for (let p = n.parent; p && p.id !== body.id && !p.type.endsWith('_statement'); p = p.parent) {
        const callName = p.type === 'call_expression' ? p.childForFieldName('function')?.text : undefined;
        if (callName && ACCESS_DIAGNOSTICS.some((r) => r.test(callName))) return 'check';
      }
      const parent = n.parent;
      if (!parent) return 'read';
      if (parent.type === 'assignment_expression' && parent.childForFieldName('left')?.id === n.id) return 'write';
      if (parent.type === 'update_expression') return 'write';
      if (parent.type === 'field_expression' && parent.childForFieldName('argument')?.id === n.id) {
        return parent.childForFieldName('operator')?.text === '.' ? 'member' : 'read';
      }
      let addressed = false;
      let inComma = false;
      for (let p: Node | null = parent, i = 0; p && i < 10; p = p.parent, i++) {
        if (p.type === 'pointer_expression' && p.childForFieldName('operator')?.text === '&' && !addressed && !inComma) {
          addressed = true;
          continue;
        }
        if (p.type === 'comma_expression') {
          inComma = true;
          continue;
        }
        if (p.type === 'parenthesized_expression') {
          // `while (cur, &x->head, member)` from an iterator macro: the list it walks.
          const loop = p.parent;
          if (inComma && loop?.type === 'while_statement' && loop.childForFieldName('condition')?.id === p.id && macroAt.has(loop.startIndex)) return 'iterate';
          if (inComma) return 'read';
          continue;
        }
        if (p.type === 'argument_list' && !inComma) {
          if (!addressed) return 'read';
          const callName = p.parent?.childForFieldName('function')?.text;
          if (callName && ACCESS_READERS.has(callName)) return 'read';
          return callName && ACCESS_INITIALISERS.some((r) => r.test(callName)) ? 'init' : 'addr';
        }
        break;
      }
      if (inComma) return 'read';
      return addressed ? 'addr' : 'read';
    };

    const noteTryResult = (variable: string, value: Node) => {
      const call = value.type === 'call_expression' ? value : undefined;
      const callName = call?.childForFieldName('function')?.text;
      const prim = callName ? primitiveOf(callName) : undefined;
      const arg = call ? named(call.childForFieldName('arguments'))[prim?.lock ?? 0] : undefined;
      if (prim?.effect === 'tryAcquire' && prim.success && arg) tryResults.set(variable, { lock: lockExprOf(arg.text), success: prim.success });
      else tryResults.delete(variable);
    };

    /** On the edge where `cond` is `value`: which try-acquired locks were not taken. */
    const branch = (cond: Node, value: boolean): LockEvent[] => {
      let e: Node | null = cond;
      let truth = value;
      for (let i = 0; e && i < 10; i++) {
        if (e.type === 'parenthesized_expression') e = named(e)[0] ?? null;
        else if (e.type === 'unary_expression' && e.childForFieldName('operator')?.text === '!') {
          truth = !truth;
          e = e.childForFieldName('argument');
        } else break;
      }
      if (!e) return [];
      if (e.type === 'binary_expression') {
        const op = e.childForFieldName('operator')?.text;
        const left = e.childForFieldName('left');
        const right = e.childForFieldName('right');
        if (op === '&&' && left && right) {
          // Both ran and held when true; when false, a try on either side did not take its lock.
          return truth ? [...branch(left, true), ...branch(right, true)] : tryLocksIn(e).map((lock): LockEvent => ({ k: 'drop', lock }));
        }
        if (op === '||' && left && right) {
          return truth ? [] : [...branch(left, false), ...branch(right, false)];
        }
        const rightText = right?.text.trim();
        if (left?.type === 'identifier' && rightText === '0' && (op === '!=' || op === '<' || op === '==')) {
          const t = tryResults.get(left.text);
          if (!t) return [];
          const nonzero = op === '==' ? !truth : truth;
          return decide(t, nonzero);
        }
        return [];
      }
      if (e.type === 'identifier') {
        const t = tryResults.get(e.text);
        return t ? decide(t, truth) : [];
      }
      if (e.type === 'call_expression') {
        const callName = e.childForFieldName('function')?.text;
        const prim = callName ? primitiveOf(callName) : undefined;
        const arg = named(e.childForFieldName('arguments'))[prim?.lock ?? 0];
        if (prim?.effect === 'tryAcquire' && prim.success && arg) return decide({ lock: lockExprOf(arg.text), success: prim.success }, truth);
      }
      return [];
    };

    const decide = (t: { lock: string; success: 'zero' | 'nonzero' }, nonzero: boolean): LockEvent[] => {
      const succeeded = t.success === 'nonzero' ? nonzero : !nonzero;
      return succeeded ? [] : [{ k: 'drop', lock: t.lock }];
    };

    const tryLocksIn = (n: Node): string[] => {
      const out: string[] = [];
      for (const c of n.descendantsOfType('call_expression')) {
        const callName = c?.childForFieldName('function')?.text;
        const prim = callName ? primitiveOf(callName) : undefined;
        const arg = c ? named(c.childForFieldName('arguments'))[prim?.lock ?? 0] : undefined;
        if (prim?.effect === 'tryAcquire' && arg) out.push(lockExprOf(arg.text));
      }
      return out;
    };

    const cfg = buildCfg<LockEvent, Node>(body, {
      events,
      branch,
      scopeExit(stmt) {
        if (stmt.type !== 'expression_statement') return undefined;
        const call = named(stmt)[0];
        const fn = call?.type === 'call_expression' ? call.childForFieldName('function') : null;
        if (fn?.type !== 'call_expression' || fn.childForFieldName('function')?.text !== BLOCK_GUARD) return undefined;
        const cls = named(fn.childForFieldName('arguments'))[0]?.text ?? '';
        const arg = named(call!.childForFieldName('arguments'))[0];
        if (!GUARD_CLASSES.has(cls) || !arg) return undefined;
        return [{ k: 'release', lock: lockExprOf(arg.text), prim: `guard(${cls})`, at: locOf(file, stmt), scoped: true }];
      },
      scopedStatement(stmt) {
        if (stmt.type !== 'if_statement') return undefined;
        const m = scopedAt.get(stmt.startIndex);
        if (!m) return undefined;
        const spec = SCOPED_GUARDS.get(m.name)!;
        if (!GUARD_CLASSES.has(m.args[0] ?? '') || !m.args[spec.lockArg]) return undefined;
        const lock = lockExprOf(m.args[spec.lockArg]);
        const at = locOf(file, stmt);
        return {
          enter: [{ k: 'acquire', lock, prim: `${m.name}(${m.args[0]})`, at, scoped: true }],
          exit: [{ k: 'release', lock, prim: `${m.name}(${m.args[0]})`, at, scoped: true }],
        };
      },
      returnEvents: (stmt) => [{ k: 'return', at: locOf(file, stmt.type === 'compound_statement' ? (stmt.lastChild ?? stmt) : stmt) }],
    });
    // A local is an alias when it is given a value once, from a path (`x = y->z`, `&y->z`, container_of).
    const aliases = new Map<string, string>();
    for (const [v, values] of assignments) {
      if (values.length !== 1 || !localTypes.has(v)) continue;
      const t = normalise(values[0]);
      if (/^&?[A-Za-z_]\w*((->|\.)[A-Za-z_]\w*)*$/.test(t) || /^container_of(_const)?\(/.test(t)) aliases.set(v, t);
    }
    const builtBy = new Map<string, string[]>();
    const calleeOf = (x: string) => /^([A-Za-z_]\w*)\s*\(/.exec(normalise(x))?.[1];
    for (const [v, values] of assignments) {
      if (!localTypes.has(v)) continue;
      const calls = values.filter((x) => !/^(NULL|0)$/.test(normalise(x))).map(calleeOf);
      if (calls.length && calls.every((c) => !!c)) builtBy.set(v, calls as string[]);
    }
    const returns: string[] = [];
    for (const r of body.descendantsOfType('return_statement')) {
      const value = r ? named(r).find((c) => c.type !== 'comment') : undefined;
      returns.push(value ? normalise(value.text) : '');
    }
    return { name, file, isStatic, at: locOf(file, def), params, localTypes, aliases, builtBy, returns, freed: [...freed], fieldStores, annotations, cfg };
  }
}
