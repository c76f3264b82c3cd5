// Where the comments of a C text are, for the scans that read code without them (the flag index's
// header names, a patch's comment-only check).

/**
 * The comments of `text` as [start, end) offsets, in order. String and character literals are
 * skipped whole, to their closing quote or their line's end (an unterminated literal stops there
 * in C too), so a `/*` inside one opens no comment. A `//` comment runs to its line's end, and on
 * over backslash-newline continuations when `continued` is set (as the preprocessor reads it).
 */
export function commentSpans(text: string, continued: boolean): [number, number][] {
  const spans: [number, number][] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 47 /* / */ && text.charCodeAt(i + 1) === 42 /* * */) {
      const e = text.indexOf('*/', i + 2);
      const end = e < 0 ? n : e + 2;
      spans.push([i, end]);
      i = end;
    } else if (c === 47 && text.charCodeAt(i + 1) === 47) {
      const end = lineCommentEnd(text, i, continued);
      spans.push([i, end]);
      i = end;
    } else if (c === 34 /* " */ || c === 39 /* ' */) {
      let j = i + 1;
      while (j < n && text.charCodeAt(j) !== c && text.charCodeAt(j) !== 10) j += text.charCodeAt(j) === 92 /* \ */ ? 2 : 1;
      i = j + 1;
    } else i++;
  }
  return spans;
}

function lineCommentEnd(text: string, at: number, continued: boolean): number {
  let i = text.indexOf('\n', at);
  if (continued) while (i > 0 && text.charCodeAt(i - 1) === 92 /* \ */) i = text.indexOf('\n', i + 1);
  return i < 0 ? text.length : i;
}
