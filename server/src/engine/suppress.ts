// Suppression comments: `/* vfio-review: ignore <rule>[, <rule>...] */` (or `//`) silences those
// rules on its own line and the next one, or, when it stands right before a struct, union, enum
// or function, in all of it. `ignore all` silences every rule there.
import type { Tree } from 'web-tree-sitter';
import type { Finding, Fix } from './types';

interface Suppression {
  rules: Set<string>;
  from: number;
  to: number;
}

const COMMENT = /(?:\/\*|\/\/)\s*vfio-review:\s*ignore\s+([A-Za-z0-9_, -]+?)\s*(?:\*\/|$)/gm;

export function suppressions(text: string, tree: Tree): Suppression[] {
  const out: Suppression[] = [];
  if (!text.includes('vfio-review:')) return out;
  const lineOf = (index: number) => {
    let n = 0;
    for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) n++;
    return n;
  };
  for (const m of text.matchAll(COMMENT)) {
    const line = lineOf(m.index!);
    const rules = new Set(m[1].split(/[\s,]+/).filter(Boolean));
    let to = line + 1;
    // A declaration starting on the next line is covered whole.
    for (const node of tree.rootNode.namedChildren) {
      if (!node || node.startPosition.row !== line + 1) continue;
      if (/^(struct_specifier|union_specifier|enum_specifier|function_definition|declaration|type_definition)$/.test(node.type)) to = Math.max(to, node.endPosition.row);
    }
    out.push({ rules, from: line, to });
  }
  return out;
}

export function isSuppressed(f: Finding, list: Suppression[]): boolean {
  const line = f.range.start.line;
  return list.some((s) => line >= s.from && line <= s.to && (s.rules.has(f.rule) || s.rules.has('all')));
}

/** The quick fix that adds a suppression comment above the finding's line. */
export function suppressionFix(f: Finding, text: string): Fix {
  const lines = text.split('\n');
  const indent = /^\s*/.exec(lines[f.range.start.line] ?? '')?.[0] ?? '';
  return {
    title: `Ignore ${f.rule} here (vfio-review: ignore comment)`,
    edits: [{ range: { start: { line: f.range.start.line, character: 0 }, end: { line: f.range.start.line, character: 0 } }, newText: `${indent}/* vfio-review: ignore ${f.rule} */\n` }],
  };
}
