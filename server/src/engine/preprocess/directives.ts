// Finds the preprocessor directives of a file: one pass over the text, backslash continuations
// joined and comments removed from the directive text. The result does not depend on the ABI, so
// it is computed once per file content and reused for every ABI.

export type DirectiveKind =
  | 'if' | 'ifdef' | 'ifndef' | 'elif' | 'elifdef' | 'elifndef' | 'else' | 'endif'
  | 'define' | 'undef' | 'include' | 'other';

export interface Directive {
  kind: DirectiveKind;
  /** 0-based first and last line (continuations included). */
  line: number;
  endLine: number;
  /** Column of the macro name for define/undef/ifdef (0-based), else of the `#`. */
  character: number;
  /** For if/elif: the condition; for ifdef/ifndef/undef: the name. */
  text: string;
  /** For define. */
  name?: string;
  params?: string[];
  variadic?: boolean;
  body?: string;
  /** For include. */
  includePath?: string;
  angled?: boolean;
}

const lineStartRe = /^[ \t]*#[ \t]*([A-Za-z_]+)?/;

/** Removes comments from directive text (keeping string literals). */
function stripComments(s: string): string {
  if (!s.includes('/')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < s.length && s[j] !== c) j += s[j] === '\\' ? 2 : 1;
      out += s.slice(i, j + 1);
      i = j;
    } else if (c === '/' && s[i + 1] === '*') {
      const e = s.indexOf('*/', i + 2);
      out += ' ';
      i = e < 0 ? s.length : e + 1;
    } else if (c === '/' && s[i + 1] === '/') {
      break;
    } else out += c;
  }
  return out;
}

export function scanDirectives(text: string): Directive[] {
  const lines = text.split('\n');
  const out: Directive[] = [];
  let inComment = false;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    // Track block comments that span lines so a `#` inside one is not taken for a directive.
    if (inComment) {
      const e = line.indexOf('*/');
      if (e < 0) continue;
      inComment = false;
      line = ' '.repeat(e + 2) + line.slice(e + 2);
    }
    const m = lineStartRe.exec(line);
    if (!m) {
      // inComment is false here (a comment still open was closed above); only a `/*` opens one
      // (the character loop is worth skipping: short commands run it unoptimised).
      inComment = line.includes('/*') && opensComment(line, false);
      continue;
    }
    const start = i;
    let full = line.replace(/\r$/, '');
    while (full.endsWith('\\') && i + 1 < lines.length) {
      full = full.slice(0, -1) + ' ' + lines[++i].replace(/\r$/, '');
    }
    // A block comment opened in the directive and closed on a later line.
    let stripped = full;
    const openIdx = unclosedCommentStart(full);
    if (openIdx >= 0) {
      stripped = full.slice(0, openIdx);
      while (i + 1 < lines.length && !lines[i].includes('*/', i === start ? openIdx : 0)) i++;
    }
    stripped = stripComments(stripped);
    const word = (m[1] ?? '') as string;
    const rest = stripped.replace(lineStartRe, '').trim();
    // Each directive is built whole, its fields in one order: object spreads of a shared `base`
    // that then overrode `character` took V8's slow path and were most of the scan's time.
    const line0 = start;
    const endLine = i;
    const hash = line.indexOf('#');
    switch (word) {
      case 'if': case 'elif':
        out.push({ line: line0, endLine, character: hash, kind: word, text: rest });
        break;
      case 'ifdef': case 'ifndef': case 'undef': case 'elifdef': case 'elifndef': {
        const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest)?.[0] ?? '';
        out.push({ line: line0, endLine, character: line.indexOf(name, hash + 1), kind: word, text: name });
        break;
      }
      case 'else': case 'endif':
        out.push({ line: line0, endLine, character: hash, kind: word, text: '' });
        break;
      case 'define': {
        const dm = /^([A-Za-z_][A-Za-z0-9_]*)(\(([^)]*)\))?\s*([\s\S]*)$/.exec(rest);
        if (!dm) {
          out.push({ line: line0, endLine, character: hash, kind: 'other', text: rest });
          break;
        }
        const d: Directive = { line: line0, endLine, character: line.indexOf(dm[1]), kind: 'define', text: rest, name: dm[1], body: dm[4].trim() };
        if (dm[2] !== undefined) {
          const params = dm[3].split(',').map((p) => p.trim()).filter((p) => p !== '');
          if (params.length && params[params.length - 1].endsWith('...')) {
            d.variadic = true;
            const last = params.pop()!.replace('...', '').trim();
            params.push(last || '__VA_ARGS__');
          }
          d.params = params;
        }
        out.push(d);
        break;
      }
      case 'include': case 'include_next': {
        const im = /^(<([^>]*)>|"([^"]*)")/.exec(rest);
        if (im) out.push({ line: line0, endLine, character: hash, kind: 'include', text: rest, includePath: im[2] ?? im[3], angled: im[2] !== undefined });
        else out.push({ line: line0, endLine, character: hash, kind: 'other', text: rest });
        break;
      }
      default:
        // Keep the directive's word: `pragma pack(2)`, `pragma once`, `error ...`.
        out.push({ line: line0, endLine, character: hash, kind: 'other', text: `${word} ${rest}`.trim() });
    }
    inComment = openIdx >= 0 && !lines[i].includes('*/');
  }
  return out;
}

function opensComment(line: string, inComment: boolean): boolean {
  let state = inComment;
  for (let i = 0; i < line.length; i++) {
    if (state) {
      if (line[i] === '*' && line[i + 1] === '/') { state = false; i++; }
    } else if (line[i] === '"' || line[i] === "'") {
      const q = line[i];
      i++;
      while (i < line.length && line[i] !== q) i += line[i] === '\\' ? 2 : 1;
    } else if (line[i] === '/' && line[i + 1] === '/') {
      return false;
    } else if (line[i] === '/' && line[i + 1] === '*') {
      state = true;
      i++;
    }
  }
  return state;
}

function unclosedCommentStart(s: string): number {
  if (!s.includes('/*')) return -1;
  let open = -1;
  for (let i = 0; i < s.length; i++) {
    if (open < 0 && (s[i] === '"' || s[i] === "'")) {
      const q = s[i];
      i++;
      while (i < s.length && s[i] !== q) i += s[i] === '\\' ? 2 : 1;
    } else if (open < 0 && s[i] === '/' && s[i + 1] === '/') return -1;
    else if (open < 0 && s[i] === '/' && s[i + 1] === '*') { open = i; i++; }
    else if (open >= 0 && s[i] === '*' && s[i + 1] === '/') { open = -1; i++; }
  }
  return open;
}
