// The text tree-sitter parses for the editor: kernel C with the preprocessor's own lines made
// harmless, positions kept. `#define`, `#include` and the like are blanked (they are read from
// the directive scan, and a `#define` in the middle of an enum body breaks the C grammar);
// `#if` conditions become `1` (tree-sitter's expression grammar lacks some of what cpp accepts,
// and both branches are kept for analysis anyway).
import type { Directive } from './directives';

export function neutraliseDirectives(text: string, directives: Directive[]): string {
  if (directives.length === 0) return text;
  const lines = text.split('\n');
  const blank = (l: number) => {
    if (l < lines.length) lines[l] = lines[l].replace(/[^\r]/g, ' ');
  };
  for (const d of directives) {
    if (d.kind === 'if' || d.kind === 'elif') {
      const m = /^(\s*#\s*(?:if|elif))(.*?)(\r?)$/.exec(lines[d.line] ?? '');
      if (m) lines[d.line] = m[1] + (' 1' + ' '.repeat(Math.max(0, m[2].length - 2))).slice(0, Math.max(2, m[2].length)) + m[3];
      for (let l = d.line + 1; l <= d.endLine; l++) blank(l);
    } else if (d.kind === 'define' || d.kind === 'undef' || d.kind === 'include' || d.kind === 'other') {
      for (let l = d.line; l <= d.endLine; l++) blank(l);
    }
  }
  return lines.join('\n');
}
