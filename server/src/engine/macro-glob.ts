// Globs of macro names in `.vfio-review.json` (`flags.bindings`): `*` stands for any run of
// characters, everything else is literal. Matched without a regex: a `.*` chain (ours, or
// picomatch's and minimatch's `[^/]*?` chains) backtracks polynomially in the number of `*`,
// and the globs come from a user's file.

/** Whether `name` matches `glob`, in time linear in the name for a glob of bounded length. */
export function macroGlobMatches(glob: string, name: string): boolean {
  const pieces = glob.split('*');
  if (pieces.length === 1) return glob === name;
  const head = pieces[0];
  const tail = pieces[pieces.length - 1];
  if (name.length < head.length + tail.length || !name.startsWith(head) || !name.endsWith(tail)) return false;
  // Each middle piece at its leftmost place after the previous one: leaving the most room for
  // the pieces after it can only help, so no other placement needs trying.
  const end = name.length - tail.length;
  let at = head.length;
  for (const piece of pieces.slice(1, -1)) {
    const found = name.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}
