// A patch that changes only the comments (and the spacing) of a kernel C file introduces no
// finding: every check reads the code, not its comments. Such files are not checked before and
// after, which spares a whole analysis of the lock index per side, and keeps a finding from
// looking new because the comment on its line changed. Two exceptions keep the checks: a change
// of vfio-review's own suppression comments, and uapi headers, whose comments state which flag
// selects a union member.
import { commentSpans } from '../parse/comments';

/** The code of a C text: comments gone, white space squeezed (squeezeSpace), and the comments. */
export function codeOf(text: string): { code: string; comments: string[] } {
  const parts: string[] = [];
  const comments: string[] = [];
  let from = 0;
  for (const [start, end] of commentSpans(text, false)) {
    parts.push(text.slice(from, start), ' ');
    comments.push(text.slice(start, end));
    from = end;
  }
  parts.push(text.slice(from));
  return { code: squeezeSpace(parts.join('')), comments };
}

/**
 * Each run of white space as one space, or one line end when it holds one: blank lines and
 * indentation do not matter, but a line end does (it ends a directive).
 */
function squeezeSpace(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    let j = i;
    let newline = false;
    while (j < text.length && /\s/.test(text[j])) {
      if (text[j] === '\n') newline = true;
      j++;
    }
    if (j > i) {
      out += newline ? '\n' : ' ';
      i = j;
      continue;
    }
    while (j < text.length && !/\s/.test(text[j])) j++;
    out += text.slice(i, j);
    i = j;
  }
  return out.trim();
}

/** Whether `before` -> `after` of a kernel C file changes nothing a check reads. */
export function onlyCommentsChanged(before: string, after: string): boolean {
  if (before === after) return true;
  const a = codeOf(before);
  const b = codeOf(after);
  if (a.code !== b.code) return false;
  const suppressions = (list: string[]) => list.filter((c) => c.includes('vfio-review')).join('\n');
  return suppressions(a.comments) === suppressions(b.comments);
}
