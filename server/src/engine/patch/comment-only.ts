// A patch that changes only the comments (and the spacing) of a kernel C file introduces no
// finding: every check reads the code, not its comments. Such files are not checked before and
// after, which spares a whole analysis of the lock index per side, and keeps a finding from
// looking new because the comment on its line changed. Two exceptions keep the checks: a change
// of vfio-review's own suppression comments, and uapi headers, whose comments state which flag
// selects a union member.

/** The code of a C text: comments gone, white space squeezed (squeezeSpace), and the comments. */
export function codeOf(text: string): { code: string; comments: string[] } {
  const parts: string[] = [];
  const comments: string[] = [];
  let i = 0;
  let start = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 47 /* / */ && text.charCodeAt(i + 1) === 42 /* * */) {
      const e = text.indexOf('*/', i + 2);
      const end = e < 0 ? n : e + 2;
      parts.push(text.slice(start, i), ' ');
      comments.push(text.slice(i, end));
      i = start = end;
    } else if (c === 47 && text.charCodeAt(i + 1) === 47) {
      const e = text.indexOf('\n', i);
      const end = e < 0 ? n : e;
      parts.push(text.slice(start, i), ' ');
      comments.push(text.slice(i, end));
      i = start = end;
    } else if (c === 34 /* " */ || c === 39 /* ' */) {
      // To the closing quote, or the line's end (an unterminated literal stops there in C too).
      let j = i + 1;
      while (j < n && text.charCodeAt(j) !== c && text.charCodeAt(j) !== 10) j += text.charCodeAt(j) === 92 /* \ */ ? 2 : 1;
      i = j + 1;
    } else i++;
  }
  parts.push(text.slice(start));
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
