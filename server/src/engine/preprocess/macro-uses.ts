// Macros that stand for declarations, attributes or names where C expects them, which
// tree-sitter cannot parse unexpanded: `__DECLARE_FLEX_ARRAY(__u8, data);` or `ITEMS;` in a
// struct body, `typedef struct {...} __ATM_API_ALIGN atm_kptr_t;`, `__u8 MARK(name);`.
// The preprocessor run calls this for each stretch of code between two directives, with the
// macros in force there (a header may `#undef` a helper right after using it). Uses are blanked
// and recorded with their expansion, which the model parses and splices back at the use.
import { EvalError, expand, tokenize, type MacroLookup } from './expr';

export interface MacroDeclaration {
  name: string;
  /** UTF-16 offsets of the use (the trailing `;` included) in the variant text. */
  start: number;
  end: number;
  /** The expansion, as C text. */
  expansion: string;
}

export interface MacroAttribute {
  name: string;
  start: number;
  end: number;
  packed: boolean;
  aligned: string[];
}

type Kind =
  | { k: 'declaration' }
  | { k: 'attribute'; packed: boolean; aligned: string[] }
  /** A function-like macro that expands to one of its arguments: written in place, padded. */
  | { k: 'identity'; param: number }
  | { k: 'none' };

function stripComments(s: string): string {
  return s.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
}

function tokensToText(text: string, macros: MacroLookup): string | undefined {
  try {
    const toks = expand(tokenize(stripComments(text)), macros);
    return toks.map((t) => (t.t === 'num' ? String(t.v.v) : t.s)).join(' ');
  } catch (e) {
    if (e instanceof EvalError) return undefined;
    throw e;
  }
}

/** Offset of the previous non-space, non-comment character, or -1. */
function prevSignificant(text: string, i: number): number {
  let j = i - 1;
  for (;;) {
    while (j >= 0 && /\s/.test(text[j])) j--;
    if (j >= 1 && text[j] === '/' && text[j - 1] === '*') {
      const open = text.lastIndexOf('/*', j - 2);
      if (open < 0) return j;
      j = open - 1;
      continue;
    }
    return j;
  }
}

function matchParen(text: string, open: number, limit: number): number {
  let depth = 0;
  for (let i = open; i < limit; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i;
  }
  return -1;
}

export class MacroUseExpander {
  readonly declarations: MacroDeclaration[] = [];
  readonly attributes: MacroAttribute[] = [];
  private kinds = new Map<string, Kind>();
  private chars: string[] | undefined;

  constructor(private text: string, private macros: MacroLookup) {}

  /** A #define or #undef happened: classifications may have changed. */
  invalidate(): void {
    this.kinds.clear();
  }

  get result(): string {
    return this.chars ? this.chars.join('') : this.text;
  }

  private classify(name: string): Kind {
    let kind = this.kinds.get(name);
    if (kind) return kind;
    kind = { k: 'none' };
    const m = this.macros.get(name);
    if (m?.params) {
      const body = m.body.trim();
      if (/;/.test(body) || /^(struct|union)\b/.test(body)) kind = { k: 'declaration' };
      else if (m.params.includes(body)) kind = { k: 'identity', param: m.params.indexOf(body) };
    } else if (m) {
      if (/;/.test(m.body)) kind = { k: 'declaration' };
      else {
        const body = m.body.trim() === '' ? '' : /__attribute__|^[A-Za-z_]\w*$/.test(m.body.trim()) ? tokensToText(name, this.macros) : undefined;
        if (body !== undefined) {
          const rest = body.replace(/__attribute__\s*\(\s*\((.*?)\)\s*\)/g, '').trim();
          if (rest === '') {
            const aligned = [...body.matchAll(/\b(?:__)?aligned(?:__)?\s*\(\s*([^()]*(?:\([^()]*\)[^()]*)*)\)/g)].map((a) => a[1].trim());
            kind = { k: 'attribute', packed: /\b(__)?packed(__)?\b/.test(body), aligned };
          }
        }
      }
    }
    this.kinds.set(name, kind);
    return kind;
  }

  private blank(start: number, end: number): void {
    this.chars ??= this.text.split('');
    for (let k = start; k < end; k++) if (this.chars[k] !== '\n' && this.chars[k] !== '\r') this.chars[k] = ' ';
  }

  /** Expands the uses in text[start, end). */
  expandRegion(start: number, end: number): void {
    const text = this.text;
    const re = /[A-Za-z_][A-Za-z0-9_]*/g;
    re.lastIndex = start;
    for (let m = re.exec(text); m && m.index < end; m = re.exec(text)) {
      const name = m[0];
      const at = m.index;
      if (!this.macros.has(name)) continue;
      const kind = this.classify(name);
      if (kind.k === 'none') continue;
      if (kind.k === 'attribute') {
        this.blank(at, at + name.length);
        this.attributes.push({ name, start: at, end: at + name.length, packed: kind.packed, aligned: kind.aligned });
        continue;
      }
      const objectLike = !this.macros.get(name)!.params;
      let open = at + name.length;
      while (open < end && /\s/.test(text[open])) open++;
      if (!objectLike && text[open] !== '(') continue;
      const close = objectLike ? at + name.length - 1 : matchParen(text, open, end);
      if (close < 0) continue;
      if (kind.k === 'identity') {
        // `MARK(name)` -> `name` in place, padded: the declarator parses as written.
        const arg = tokensToText(text.slice(open + 1, close), this.macros);
        const expansion = tokensToText(text.slice(at, close + 1), this.macros);
        if (!expansion || !arg || expansion.length > close + 1 - at || /\n/.test(text.slice(at, close + 1))) continue;
        this.blank(at, close + 1);
        for (let k = 0; k < expansion.length; k++) this.chars![at + k] = expansion[k];
        re.lastIndex = close + 1;
        continue;
      }
      // A declaration macro is a statement of its own: after `{`, `;`, `}` or a directive (the
      // stretch starts after one), followed by `;` unless its expansion ends with one.
      const before = prevSignificant(text, at);
      if (before >= start && !'{;}'.includes(text[before])) continue;
      const expansion = tokensToText(text.slice(at, close + 1), this.macros);
      if (!expansion) continue;
      let stop = close + 1;
      while (stop < end && /\s/.test(text[stop])) stop++;
      if (text[stop] === ';') stop++;
      else if (expansion.trim().endsWith(';')) stop = close + 1;
      else continue;
      this.blank(at, stop);
      this.declarations.push({ name, start: at, end: stop, expansion: expansion.trim().endsWith(';') ? expansion : expansion + ' ;' });
      re.lastIndex = stop;
    }
  }
}
