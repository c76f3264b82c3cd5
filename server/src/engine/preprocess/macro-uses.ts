// Macros that stand for declarations or attributes where C expects them, which tree-sitter cannot
// parse without expanding them: `__DECLARE_FLEX_ARRAY(__u8, data);` or `__struct_group(...)` in a
// struct body, `typedef struct {...} __ATM_API_ALIGN atm_kptr_t;`. With the unit's macro table
// known, such uses are blanked in the variant text and recorded with their expansion, which the
// model parses and splices back at the use's position.
import { EvalError, expand, tokenize, type MacroTable } from './expr';

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

export interface MacroUses {
  text: string;
  declarations: MacroDeclaration[];
  attributes: MacroAttribute[];
}

const identRe = /[A-Za-z_][A-Za-z0-9_]*/g;

function stripComments(s: string): string {
  return s.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
}

function tokensToText(text: string, macros: MacroTable): string | undefined {
  try {
    const toks = expand(tokenize(stripComments(text)), macros);
    return toks.map((t) => (t.t === 'num' ? String(t.v.v) : t.s)).join(' ');
  } catch (e) {
    if (e instanceof EvalError) return undefined;
    throw e;
  }
}

/** Classifies the macros worth expanding, once per unit. */
function interestingMacros(macros: MacroTable): { decl: Set<string>; attr: Map<string, { packed: boolean; aligned: string[] }> } {
  const decl = new Set<string>();
  const attr = new Map<string, { packed: boolean; aligned: string[] }>();
  for (const m of macros.values()) {
    if (m.params) {
      if (/;/.test(m.body) || /^\s*(struct|union)\b/.test(m.body)) decl.add(m.name);
      continue;
    }
    // An object-like macro that expands to nothing is blanked where used, as cpp would.
    if (m.body.trim() === '') {
      attr.set(m.name, { packed: false, aligned: [] });
      continue;
    }
    if (!/__attribute__/.test(m.body) && !macros.has(m.body.trim())) continue;
    const body = tokensToText(m.name, macros);
    if (body === undefined) continue;
    if (body.trim() === '') {
      attr.set(m.name, { packed: false, aligned: [] });
      continue;
    }
    const stripped = body.replace(/__attribute__\s*\(\s*\((.*?)\)\s*\)/g, '').trim();
    if (stripped !== '' || !/__attribute__/.test(body)) continue;
    const info = { packed: /\b(__)?packed(__)?\b/.test(body), aligned: [] as string[] };
    for (const am of body.matchAll(/\b(?:__)?aligned(?:__)?\s*\(\s*([^()]*(?:\([^()]*\)[^()]*)*)\)/g)) info.aligned.push(am[1].trim());
    if (info.packed || info.aligned.length) attr.set(m.name, info);
  }
  return { decl, attr };
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

function matchParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i;
  }
  return -1;
}

export function expandMacroUses(text: string, macros: MacroTable): MacroUses {
  const { decl, attr } = interestingMacros(macros);
  const result: MacroUses = { text, declarations: [], attributes: [] };
  if (decl.size === 0 && attr.size === 0) return result;
  let chars: string[] | undefined;
  identRe.lastIndex = 0;
  for (let m = identRe.exec(text); m; m = identRe.exec(text)) {
    const name = m[0];
    const start = m.index;
    if (decl.has(name)) {
      const before = prevSignificant(text, start);
      if (before >= 0 && !'{;}'.includes(text[before])) continue;
      let open = start + name.length;
      while (/\s/.test(text[open] ?? '')) open++;
      if (text[open] !== '(') continue;
      const close = matchParen(text, open);
      if (close < 0) continue;
      let end = close + 1;
      while (/\s/.test(text[end] ?? '')) end++;
      if (text[end] !== ';') continue;
      end++;
      const expansion = tokensToText(text.slice(start, close + 1), macros);
      if (!expansion) continue;
      chars ??= text.split('');
      for (let k = start; k < end; k++) if (chars[k] !== '\n' && chars[k] !== '\r') chars[k] = ' ';
      result.declarations.push({ name, start, end, expansion: expansion.trim().endsWith(';') ? expansion : expansion + ' ;' });
      identRe.lastIndex = end;
    } else if (attr.has(name)) {
      chars ??= text.split('');
      for (let k = start; k < start + name.length; k++) chars[k] = ' ';
      result.attributes.push({ name, start, end: start + name.length, ...attr.get(name)! });
    }
  }
  if (chars) result.text = chars.join('');
  return result;
}
