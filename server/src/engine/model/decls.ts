// Declarations as the layout engine needs them: aggregates, typedefs, enums and the type
// expressions of their members, extracted from one parse of one file (one preprocessor variant).
// Plain data, so a file's model can be cached by content and shared between ABIs.

export interface SourcePos {
  line: number;
  character: number;
}

/** Layout attributes from `__attribute__((...))` and from blanked kernel macros. */
export interface LayoutAttrs {
  packed?: boolean;
  /** Expression text of aligned(N); '' for a bare `aligned` (the target's largest alignment). */
  aligned?: string[];
  /** An alignment that depends on something vfio-review cannot know (kernel configuration). */
  alignedUnknown?: string;
  /** `#pragma pack(n)`: members are aligned to at most n. */
  pack?: number;
}

export type TypeExpr =
  /** A primitive written with C keywords, normalised: `unsigned int`, `long long`, `_Bool`. */
  | { k: 'prim'; name: string }
  /** A typedef name (or a macro used as a type, such as `__aligned_u64`). */
  | { k: 'name'; name: string }
  | { k: 'tag'; tag: 'struct' | 'union' | 'enum'; name?: string; decl?: AggregateDecl | EnumDecl }
  | { k: 'ptr'; to: TypeExpr }
  /** `len` is the expression text; null for a flexible array member `[]`. */
  | { k: 'array'; of: TypeExpr; len: string | null }
  | { k: 'func' }
  | { k: 'unknown'; text: string };

export interface FieldDecl {
  /** Absent for anonymous aggregates and unnamed bit-fields. */
  name?: string;
  type: TypeExpr;
  /** Bit-field width expression. */
  bits?: string;
  attrs: LayoutAttrs;
  /** The type as written in the source (`__u32`, `struct foo *`). */
  typeText: string;
  pos: SourcePos;
  end: SourcePos;
}

export interface AggregateDecl {
  kind: 'struct' | 'union';
  tag?: string;
  fields: FieldDecl[];
  attrs: LayoutAttrs;
  /** False for a forward declaration `struct foo;`. */
  complete: boolean;
  file: string;
  pos: SourcePos;
  end: SourcePos;
  /** Set when this aggregate is the body of a member or typedef rather than declared at file scope. */
  nested?: boolean;
}

export interface EnumDecl {
  kind: 'enum';
  tag?: string;
  enumerators: { name: string; value?: string; pos: SourcePos }[];
  attrs: LayoutAttrs;
  complete: boolean;
  file: string;
  pos: SourcePos;
  end: SourcePos;
}

export interface TypedefDecl {
  name: string;
  type: TypeExpr;
  attrs: LayoutAttrs;
  file: string;
  pos: SourcePos;
  typeText: string;
}

/** Something tree-sitter could not parse, with the function or declaration it lies in. */
export interface ParseProblem {
  pos: SourcePos;
  end: SourcePos;
  /** `function vfio_pci_core_ioctl`, `struct vfio_x`, or `top level`. */
  context: string;
  missing?: string;
}

export interface FileModel {
  file: string;
  /** Aggregates with a tag, and anonymous ones named by a typedef, in source order. */
  aggregates: AggregateDecl[];
  enums: EnumDecl[];
  typedefs: TypedefDecl[];
  problems: ParseProblem[];
}
