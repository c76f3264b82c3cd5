// Whole-word search in C text without making a regular expression of the word. Words come from
// the user's text (a hovered identifier, a function a patch changes), and one of some 100,000
// characters (a fuzzed line) is a pattern V8 refuses: "Regular expression too large".

/** A character that can be part of a C identifier (and so ends no word). */
export function isIdentifierChar(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
}

/** Whether `word` occurs in `text` as a whole word (as `\bword\b` would find an identifier). */
export function hasWord(text: string, word: string): boolean {
  if (!word) return false;
  for (let at = text.indexOf(word); at >= 0; at = text.indexOf(word, at + 1)) {
    const before = at > 0 ? text.charCodeAt(at - 1) : -1;
    const after = at + word.length < text.length ? text.charCodeAt(at + word.length) : -1;
    const startsWord = !isIdentifierChar(word.charCodeAt(0)) || !isIdentifierChar(before);
    const endsWord = !isIdentifierChar(word.charCodeAt(word.length - 1)) || !isIdentifierChar(after);
    if (startsWord && endsWord) return true;
  }
  return false;
}

/**
 * Identifiers longer than this are not looked up where a lookup builds a regular expression of
 * them: no C code names a type that way, and V8 refuses patterns past about 64K characters.
 */
export const MAX_LOOKUP_NAME = 1024;
