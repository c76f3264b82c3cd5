// Integer constant expressions as the C preprocessor and the compiler evaluate them: `#if`
// conditions, array lengths, enum values and flag macros. Values are 64-bit with C's
// signed/unsigned distinction; macros are expanded with a bound on the work done.

export interface MacroDef {
  name: string;
  params?: string[];
  variadic?: boolean;
  body: string;
  file?: string;
  line?: number;
  character?: number;
}

export type MacroTable = Map<string, MacroDef>;

/** What expansion and evaluation read of a macro table (the preprocessor passes one that records reads). */
export interface MacroLookup {
  get(name: string): MacroDef | undefined;
  has(name: string): boolean;
}

export interface Value {
  v: bigint;
  unsigned: boolean;
}

export interface TypeInfo {
  size: number;
  align: number;
  signed: boolean;
}

export interface EvalContext {
  macros: MacroLookup;
  /** `#if` semantics: unknown identifiers are 0. Otherwise they make the value unknown. */
  preprocessor: boolean;
  /** Resolves `sizeof(T)`, `_Alignof(T)` and casts; returns undefined when T is not a type. */
  typeInfo?(typeText: string): TypeInfo | undefined;
  /** Values of enumerators and other identifiers known outside the macro table. */
  identifier?(name: string): Value | undefined;
}

/**
 * An expression that does not evaluate: an answer, not a failure. Thrown for most macros of a
 * header (strings, types, function-like bodies) when their values are looked for, so no stack is
 * captured (capturing one in the deep recursion of expansion was a tenth of the evaluations' time).
 */
export class EvalError extends Error {
  constructor(message: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
  }
}

type Tok = { t: 'num'; v: Value } | { t: 'id'; s: string } | { t: 'op'; s: string } | { t: 'str'; s: string };

const MASK64 = (1n << 64n) - 1n;
const MAX_TOKENS = 20000;

function wrap(v: bigint, unsigned: boolean): Value {
  let x = v & MASK64;
  if (!unsigned && x >= 1n << 63n) x -= 1n << 64n;
  return { v: x, unsigned };
}

export function parseIntegerLiteral(text: string): Value | undefined {
  const m = /^(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)([uUlL]*)$/.exec(text);
  if (!m) return undefined;
  const digits = m[1];
  let v: bigint;
  if (/^0[bB]/.test(digits)) v = BigInt(digits);
  else if (/^0[0-7]+$/.test(digits)) v = BigInt('0o' + digits.slice(1));
  else v = BigInt(digits);
  const suffix = m[2].toLowerCase();
  let unsigned = suffix.includes('u');
  // A literal too large for signed long long is unsigned; hex/octal ones too large for int
  // become unsigned int (which matters for `0xffffffff` in comparisons).
  if (v > 0x7fffffffffffffffn) unsigned = true;
  else if (!suffix.includes('l') && digits[0] === '0' && v > 0x7fffffffn && v <= 0xffffffffn) unsigned = true;
  return wrap(v, unsigned);
}

const punct = ['<<=', '>>=', '...', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '##', '->', '++', '--',
  '+', '-', '*', '/', '%', '<', '>', '&', '|', '^', '~', '!', '?', ':', '(', ')', ',', '#', '[', ']', '.', '{', '}', ';', '='];

// Macro bodies are tokenized at every expansion: a whole-uapi check expands the same few hundred
// bodies (_IOWR, __u32 casts...) hundreds of thousands of times. Token lists are never modified
// (expansion copies them into new lists), so one list serves every expansion of a text.
const tokenized = new Map<string, readonly Tok[]>();
let tokenizedChars = 0;
/** The texts kept, in characters (their tokens take a few times that), and the longest one kept. */
const MAX_TOKENIZED_CHARS = 2_000_000;
const MAX_TOKENIZED_LENGTH = 4096;

/** The tokens of `text`; throws EvalError where it is not made of C tokens. */
export function tokenize(text: string): readonly Tok[] {
  let tokens = tokenized.get(text);
  if (tokens) return tokens;
  tokens = tokenizeNow(text);
  if (text.length <= MAX_TOKENIZED_LENGTH) {
    if (tokenizedChars + text.length > MAX_TOKENIZED_CHARS) {
      tokenized.clear();
      tokenizedChars = 0;
    }
    tokenized.set(text, tokens);
    tokenizedChars += text.length;
  }
  return tokens;
}

function tokenizeNow(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const m = /^[0-9a-zA-Z_.]+/.exec(text.slice(i))!;
      const v = parseIntegerLiteral(m[0]);
      if (!v) throw new EvalError(`not an integer: ${m[0]}`);
      out.push({ t: 'num', v });
      i += m[0].length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      // L'x' and u8"..." prefixes.
      if ((text[i + m[0].length] === "'" || text[i + m[0].length] === '"') && /^(L|u|U|u8)$/.test(m[0])) { i += m[0].length; continue; }
      out.push({ t: 'id', s: m[0] });
      i += m[0].length;
      continue;
    }
    if (c === "'") {
      let j = i + 1;
      let ch: number;
      if (text[j] === '\\') {
        const esc = text[j + 1];
        const map: Record<string, number> = { n: 10, t: 9, r: 13, '0': 0, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11 };
        if (esc === 'x') {
          const hm = /^[0-9a-fA-F]+/.exec(text.slice(j + 2))!;
          ch = parseInt(hm[0], 16);
          j += 2 + hm[0].length;
        } else if (/[0-7]/.test(esc)) {
          const om = /^[0-7]{1,3}/.exec(text.slice(j + 1))!;
          ch = parseInt(om[0], 8);
          j += 1 + om[0].length;
        } else {
          ch = map[esc] ?? esc.charCodeAt(0);
          j += 2;
        }
      } else {
        ch = text.charCodeAt(j);
        j++;
      }
      if (text[j] !== "'") throw new EvalError('bad character literal');
      out.push({ t: 'num', v: { v: BigInt(ch), unsigned: false } });
      i = j + 1;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out.push({ t: 'str', s: text.slice(i, j + 1) });
      i = j + 1;
      continue;
    }
    const p = punct.find((q) => text.startsWith(q, i));
    if (!p) throw new EvalError(`unexpected character '${c}'`);
    out.push({ t: 'op', s: p });
    i += p.length;
  }
  return out;
}

function tokText(t: Tok): string {
  return t.t === 'num' ? String(t.v.v) : t.s;
}

/** Expands macros in a token list. `defined X` / `defined(X)` are kept for the evaluator. */
export function expand(tokens: readonly Tok[], macros: MacroLookup, budget = { n: MAX_TOKENS }, hide: Set<string> = new Set()): Tok[] {
  const out: Tok[] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (--budget.n < 0) throw new EvalError('macro expansion too large');
    const tok = tokens[i];
    if (tok.t !== 'id') { out.push(tok); continue; }
    if (tok.s === 'defined') {
      out.push(tok);
      if (tokens[i + 1]?.t === 'op' && (tokens[i + 1] as { s: string }).s === '(') {
        out.push(tokens[i + 1], tokens[i + 2], tokens[i + 3]);
        i += 3;
      } else if (tokens[i + 1]) {
        out.push(tokens[i + 1]);
        i += 1;
      }
      continue;
    }
    const m = macros.get(tok.s);
    if (!m || hide.has(tok.s)) { out.push(tok); continue; }
    if (!m.params) {
      const body = tokenize(m.body);
      hide.add(m.name);
      out.push(...expand(body, macros, budget, hide));
      hide.delete(m.name);
      continue;
    }
    const next = tokens[i + 1];
    if (!next || next.t !== 'op' || next.s !== '(') { out.push(tok); continue; }
    // Collect arguments up to the matching parenthesis.
    const args: Tok[][] = [[]];
    let depth = 0;
    let j = i + 1;
    for (; j < tokens.length; j++) {
      const a = tokens[j];
      if (a.t === 'op' && a.s === '(') { if (depth++ === 0) continue; }
      else if (a.t === 'op' && a.s === ')') { if (--depth === 0) break; }
      else if (a.t === 'op' && a.s === ',' && depth === 1 && !(m.variadic && args.length === m.params.length)) { args.push([]); continue; }
      args[args.length - 1].push(a);
    }
    if (j >= tokens.length) throw new EvalError(`unterminated call of ${m.name}`);
    i = j;
    const body = tokenize(m.body);
    const substituted: Tok[] = [];
    for (let k = 0; k < body.length; k++) {
      const b = body[k];
      if (b.t === 'op' && b.s === '#' && body[k + 1]?.t === 'id') {
        const idx = m.params.indexOf((body[k + 1] as { s: string }).s);
        if (idx >= 0) {
          substituted.push({ t: 'str', s: JSON.stringify((args[idx] ?? []).map(tokText).join(' ')) });
          k++;
          continue;
        }
      }
      if (b.t === 'op' && b.s === '##') {
        const left = substituted.pop();
        let right = body[++k];
        if (right?.t === 'id' && m.params.includes(right.s)) {
          const arg = args[m.params.indexOf(right.s)] ?? [];
          right = arg[0];
          const rest = arg.slice(1);
          const pasted = (left ? tokText(left) : '') + (right ? tokText(right) : '');
          if (pasted) substituted.push(...tokenize(pasted));
          substituted.push(...rest);
          continue;
        }
        const pasted = (left ? tokText(left) : '') + (right ? tokText(right) : '');
        if (pasted) substituted.push(...tokenize(pasted));
        continue;
      }
      if (b.t === 'id') {
        const idx = m.params.indexOf(b.s);
        if (idx >= 0) {
          const arg = args[idx] ?? [];
          // The next token pastes onto this argument: insert it unexpanded.
          const nextB = body[k + 1];
          if (nextB?.t === 'op' && nextB.s === '##') substituted.push(...arg);
          else substituted.push(...expand(arg, macros, budget, hide));
          continue;
        }
      }
      substituted.push(b);
    }
    hide.add(m.name);
    out.push(...expand(substituted, macros, budget, hide));
    hide.delete(m.name);
  }
  return out;
}

const typeKeywords = new Set(['unsigned', 'signed', 'int', 'char', 'short', 'long', 'struct', 'union', 'enum', 'const', 'volatile', '_Bool', 'float', 'double', 'void', '__int128']);

/** Evaluates an integer constant expression. Throws EvalError when it cannot. */
export function evaluate(text: string, ctx: EvalContext): Value {
  const tokens = expand(tokenize(text), ctx.macros);
  const p = new ExprParser(tokens, ctx);
  const v = p.conditional();
  if (p.pos < tokens.length) throw new EvalError(`unexpected '${tokText(tokens[p.pos])}'`);
  return v;
}

export function tryEvaluate(text: string, ctx: EvalContext): Value | undefined {
  try {
    return evaluate(text, ctx);
  } catch {
    return undefined;
  }
}

class ExprParser {
  pos = 0;
  constructor(private toks: Tok[], private ctx: EvalContext) {}

  private peekOp(): string | undefined {
    const t = this.toks[this.pos];
    return t?.t === 'op' ? t.s : undefined;
  }
  private expectOp(s: string): void {
    if (this.peekOp() !== s) throw new EvalError(`expected '${s}'`);
    this.pos++;
  }

  conditional(): Value {
    const c = this.binary(0);
    if (this.peekOp() !== '?') return c;
    this.pos++;
    const a = this.comma();
    this.expectOp(':');
    const b = this.conditional();
    const unsigned = a.unsigned || b.unsigned;
    return c.v !== 0n ? wrap(a.v, unsigned) : wrap(b.v, unsigned);
  }

  private comma(): Value {
    let v = this.conditional();
    while (this.peekOp() === ',') {
      this.pos++;
      v = this.conditional();
    }
    return v;
  }

  private static prec: Record<string, number> = {
    '||': 1, '&&': 2, '|': 3, '^': 4, '&': 5, '==': 6, '!=': 6, '<': 7, '>': 7, '<=': 7, '>=': 7,
    '<<': 8, '>>': 8, '+': 9, '-': 9, '*': 10, '/': 10, '%': 10,
  };

  private binary(minPrec: number): Value {
    let left = this.unary();
    for (;;) {
      const op = this.peekOp();
      const prec = op ? ExprParser.prec[op] : undefined;
      if (prec === undefined || prec < minPrec) break;
      this.pos++;
      const right = this.binary(prec + 1);
      left = apply(op!, left, right);
    }
    return left;
  }

  private unary(): Value {
    const op = this.peekOp();
    if (op === '-' || op === '+' || op === '~' || op === '!') {
      this.pos++;
      const v = this.unary();
      if (op === '-') return wrap(-v.v, v.unsigned);
      if (op === '+') return v;
      if (op === '~') return wrap(~v.v, v.unsigned);
      return { v: v.v === 0n ? 1n : 0n, unsigned: false };
    }
    if (op === '(' && this.isTypeAt(this.pos + 1)) {
      // A cast.
      const close = this.findClose(this.pos);
      const typeText = this.toks.slice(this.pos + 1, close).map(tokText).join(' ');
      const info = this.ctx.typeInfo?.(typeText);
      this.pos = close + 1;
      const v = this.unary();
      if (!info) return v;
      return castTo(v, info);
    }
    return this.primary();
  }

  private isTypeAt(i: number): boolean {
    const t = this.toks[i];
    if (!t || t.t !== 'id') return false;
    if (typeKeywords.has(t.s)) return true;
    // A typedef name followed by `)` or `*`.
    const after = this.toks[i + 1];
    if (after?.t === 'op' && (after.s === ')' || after.s === '*') && this.ctx.typeInfo?.(t.s)) return true;
    return false;
  }

  private findClose(open: number): number {
    let depth = 0;
    for (let i = open; i < this.toks.length; i++) {
      const t = this.toks[i];
      if (t.t === 'op' && t.s === '(') depth++;
      else if (t.t === 'op' && t.s === ')' && --depth === 0) return i;
    }
    throw new EvalError("missing ')'");
  }

  private primary(): Value {
    const t = this.toks[this.pos];
    if (!t) throw new EvalError('unexpected end of expression');
    if (t.t === 'num') { this.pos++; return t.v; }
    if (t.t === 'op' && t.s === '(') {
      this.pos++;
      const v = this.comma();
      this.expectOp(')');
      return v;
    }
    if (t.t === 'id') {
      this.pos++;
      if (t.s === 'defined') {
        let name: string;
        if (this.peekOp() === '(') {
          this.pos++;
          name = tokText(this.toks[this.pos++] ?? { t: 'op', s: '' });
          this.expectOp(')');
        } else name = tokText(this.toks[this.pos++] ?? { t: 'op', s: '' });
        return { v: this.ctx.macros.has(name) ? 1n : 0n, unsigned: false };
      }
      if (t.s === 'sizeof' || t.s === '_Alignof' || t.s === '__alignof__' || t.s === 'alignof') {
        if (this.peekOp() !== '(') throw new EvalError(`${t.s} needs a parenthesised type`);
        const close = this.findClose(this.pos);
        const typeText = this.toks.slice(this.pos + 1, close).map(tokText).join(' ');
        this.pos = close + 1;
        const info = this.ctx.typeInfo?.(typeText);
        if (!info) throw new EvalError(`unknown size of ${typeText}`);
        return { v: BigInt(t.s === 'sizeof' ? info.size : info.align), unsigned: true };
      }
      if (t.s === '__has_include' || t.s === '__has_attribute' || t.s === '__has_builtin' || t.s === '__has_feature') {
        if (this.peekOp() === '(') this.pos = this.findClose(this.pos) + 1;
        return { v: 0n, unsigned: false };
      }
      const known = this.ctx.identifier?.(t.s);
      if (known) return known;
      if (this.ctx.preprocessor) {
        // Unknown function-like use: skip its arguments; its value is 0 like any unknown name.
        if (this.peekOp() === '(') this.pos = this.findClose(this.pos) + 1;
        return { v: 0n, unsigned: false };
      }
      throw new EvalError(`unknown identifier ${t.s}`);
    }
    throw new EvalError(`unexpected '${tokText(t)}'`);
  }
}

function castTo(v: Value, info: TypeInfo): Value {
  const bits = BigInt(info.size * 8);
  if (bits >= 64n) return wrap(v.v, !info.signed);
  const mask = (1n << bits) - 1n;
  let x = v.v & mask;
  if (info.signed && x >= 1n << (bits - 1n)) x -= 1n << bits;
  // Narrower than int: promoted back to int.
  return { v: x, unsigned: !info.signed && info.size >= 4 };
}

function apply(op: string, a: Value, b: Value): Value {
  const unsigned = a.unsigned || b.unsigned;
  const ua = unsigned ? a.v & MASK64 : a.v;
  const ub = unsigned ? b.v & MASK64 : b.v;
  const bool = (x: boolean): Value => ({ v: x ? 1n : 0n, unsigned: false });
  switch (op) {
    case '||': return bool(a.v !== 0n || b.v !== 0n);
    case '&&': return bool(a.v !== 0n && b.v !== 0n);
    case '|': return wrap(ua | ub, unsigned);
    case '^': return wrap(ua ^ ub, unsigned);
    case '&': return wrap(ua & ub, unsigned);
    case '==': return bool(ua === ub);
    case '!=': return bool(ua !== ub);
    case '<': return bool(ua < ub);
    case '>': return bool(ua > ub);
    case '<=': return bool(ua <= ub);
    case '>=': return bool(ua >= ub);
    case '<<': return wrap(a.v << (b.v & 63n), a.unsigned);
    case '>>': return wrap((a.unsigned ? a.v & MASK64 : a.v) >> (b.v & 63n), a.unsigned);
    case '+': return wrap(ua + ub, unsigned);
    case '-': return wrap(ua - ub, unsigned);
    case '*': return wrap(ua * ub, unsigned);
    case '/': if (ub === 0n) throw new EvalError('division by zero'); return wrap(ua / ub, unsigned);
    case '%': if (ub === 0n) throw new EvalError('division by zero'); return wrap(ua % ub, unsigned);
  }
  throw new EvalError(`unknown operator ${op}`);
}
