// The engine's public data shapes. Everything here is plain data: no LSP, no tree-sitter objects,
// so findings and layouts can cross worker threads, caches and output formats unchanged.

/** 0-based line, 0-based column in UTF-16 code units (what tree-sitter's web binding and LSP use). */
export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export type Severity = 'error' | 'warning' | 'info' | 'hint';
export type SeveritySetting = Severity | 'off';

export interface RelatedLocation {
  file: string;
  range: Range;
  message: string;
}

export interface TextEdit {
  range: Range;
  newText: string;
}

/** A change that is certain to fix a finding (offered as a quick fix). Edits are in `file`. */
export interface Fix {
  title: string;
  edits: TextEdit[];
  preferred?: boolean;
}

/** One diagnostic of one rule. `file` is an absolute path. */
export interface Finding {
  file: string;
  range: Range;
  severity: Severity;
  rule: string;
  message: string;
  related?: RelatedLocation[];
  fixes?: Fix[];
}

export type AbiName = 'x86_64' | 'i386' | 'arm64' | 'arm' | 'riscv64' | 'ppc64le' | 's390x';

/** One member of a laid-out aggregate, flattened (see docs/architecture.md). */
export interface MemberLayout {
  /** `devid` for members of anonymous aggregates, `outer.inner` for members of named nested ones. */
  path: string;
  /** The type as written (`__u32`, `struct vfio_info_cap_header`, `__u8[16]`). */
  type: string;
  /** Bytes from the start of the outermost type; null when it cannot be known. */
  offset: number | null;
  size: number | null;
  align: number | null;
  bitOffset?: number;
  bitSize?: number;
  /** A flexible array member (`__u8 data[];`). */
  flexible?: boolean;
  /** Why the size or offset is unknown. */
  unknown?: string;
  /** 0-based line of the declaration in `file`. */
  line: number;
  character: number;
  /** Depth of nesting, 0 for direct members. */
  depth: number;
  /** Set when the member lives in an anonymous union or struct (the innermost one). */
  anonymous?: 'union' | 'struct';
}

export interface Hole {
  offset: number;
  size: number;
  /** The member the hole follows (path), absent for a hole at the start. */
  after?: string;
  /** Set on tail padding. */
  tail?: boolean;
}

export interface TypeLayout {
  /** `struct vfio_x`, `union vfio_y`, or a typedef name for a typedef of an anonymous aggregate. */
  name: string;
  kind: 'struct' | 'union';
  file: string;
  /** 0-based position of the type's name (or of its keyword when anonymous). */
  line: number;
  character: number;
  endLine: number;
  size: number | null;
  align: number | null;
  packed: boolean;
  members: MemberLayout[];
  /** Holes between members and the tail padding (with `tail: true`). */
  holes: Hole[];
  /** Reasons the layout is incomplete, if any. */
  unknown: string[];
}

export interface LayoutReport {
  version: 1;
  arches: Partial<Record<AbiName, { types: TypeLayout[] }>>;
  /** Set when the file's time budget ran out before every ABI was laid out: what is missing. */
  incomplete?: string;
}

export interface HoverResult {
  /** Markdown. */
  contents: string;
  range: Range;
}
