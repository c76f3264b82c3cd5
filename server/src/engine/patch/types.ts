// Patches as the engine sees them: plain data, independent of where they came from (a unified
// diff, `git format-patch` output, one mail, an mbox of a series). Every line that can carry a
// finding remembers where it sits in the input document, so findings land on the `+` lines the
// reviewer is looking at, also after quoted-printable or base64 decoding and CRLF stripping.

/** A problem with the input itself (truncated mail, refused path, binary patch skipped). */
export interface PatchProblem {
  /** 0-based line of the input document it is about. */
  line: number;
  /** 'error': the patch (or a part of it) could not be used; 'info': a note (binary patch skipped). */
  severity: 'error' | 'warning' | 'info';
  message: string;
}

export type HunkLineKind = ' ' | '+' | '-';

export interface HunkLine {
  kind: HunkLineKind;
  /** The line without its leading ' ', '+' or '-' and without the line end (CR stripped). */
  text: string;
  /** 0-based line of the input document this diff line was read from (after MIME decoding, the raw line it started on). */
  docLine: number;
  /** 1-based line in the old file (context and '-' lines). */
  oldLine?: number;
  /** 1-based line in the new file (context and '+' lines). */
  newLine?: number;
  /** Set when the line was followed by `\ No newline at end of file`. */
  noNewline?: boolean;
}

export interface Hunk {
  /** As in the `@@ -oldStart,oldLines +newStart,newLines @@` header (1-based; 0 for an empty side). */
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  /** The text after the second `@@` (usually the enclosing function), trimmed. */
  section: string;
  /** 0-based input line of the `@@` header. */
  headerLine: number;
  lines: HunkLine[];
}

export type FileStatus = 'modified' | 'added' | 'deleted' | 'renamed' | 'copied';

export interface FilePatch {
  /** Path relative to the tree root, without the `a/` prefix; undefined for a new file (/dev/null). */
  oldPath?: string;
  /** Path relative to the tree root, without the `b/` prefix; undefined for a deleted file. */
  newPath?: string;
  status: FileStatus;
  /** A `GIT binary patch` or `Binary files ... differ`: no hunks, skipped with a note. */
  binary: boolean;
  hunks: Hunk[];
  /** 0-based input line where this file's diff starts (`diff --git`, or `---` for plain diffs). */
  headerLine: number;
}

/** The `[PATCH v6 09/10]` part of a subject. */
export interface SubjectTag {
  /** Everything inside the brackets, e.g. `PATCH v6 09/10` or `RFC PATCH`. */
  raw: string;
  version?: number;
  /** 1-based position in the series (09 -> 9); 0 for the cover letter (00/10). */
  number?: number;
  total?: number;
}

/** One mail of a series (or the whole input when it is a bare diff). */
export interface PatchMail {
  /** 0-based position in the input. */
  index: number;
  /** The subject with RFC 2047 words decoded and folding undone, tag included. */
  subject: string;
  /** The subject without its bracketed tag(s) and `Re:`. */
  title: string;
  tag?: SubjectTag;
  from?: string;
  date?: string;
  /** Without angle brackets. */
  messageId?: string;
  inReplyTo?: string;
  /** Message-ids without angle brackets, oldest first. */
  references: string[];
  /** True for a `00/N` mail, or a mail of a series that carries no diff before the first patch. */
  isCover: boolean;
  /** 0-based input lines where this mail starts (its `From ` line or first header) and ends (exclusive). */
  startLine: number;
  endLine: number;
  /**
   * The decoded text body, line by line, with the input line each came from: what a reply quotes.
   * Only the text/plain part (or the inline part carrying the diff).
   */
  body: { text: string; docLine: number }[];
  files: FilePatch[];
  problems: PatchProblem[];
}

export interface PatchInput {
  /** What the input was recognised as. */
  kind: 'mbox' | 'mail' | 'diff';
  mails: PatchMail[];
  /** Problems not tied to one mail (empty input, binary file, size limit). */
  problems: PatchProblem[];
}
