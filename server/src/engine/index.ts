// The engine as a library: documents in, findings / hovers / layouts out. No LSP in here.
export * from './api';
export * from './types';
export { createEngine } from './analyser';
export { RULES, ruleInfo } from './rules';
export { ALL_ABIS, isAbiName } from './layout/abi';
export { findKernelRoot, SourceStore } from './workspace';
// Building blocks, exported for tests and for tools built on the engine (benchmarks).
export { blankKernelC, blankTracked, reblankLine } from './parse/blank';
export { evaluate, tryEvaluate } from './preprocess/expr';
export { scanDirectives } from './preprocess/directives';
export { globMatcher } from './workspace';
export { Analyser } from './analyser';
// Flags and unions (analyses/flags): models for tests and tools, and the configuration file.
export { flagModelOf } from './analyses/flags';
export { parseProjectConfig, loadProjectConfig } from './config-file';
export { flagHoverAt, flagWordAt } from './analyses/flags/hover';
export { lockAnalysisOf, locksHeldAt, lockIndexBuildMs } from './analyses/locks';
export { unprotectedAccesses } from './analyses/locks/accesses';
export { applyFilePatch } from './patch/apply'; export { hunksOnlyTexts } from './patch/hunks-only';
export { readPatchInput } from './patch/read';
// Patch review: a series applied in memory, the findings each patch introduces, a reply drafted from them.
export { reviewPatchInput, newFindings, nearestChange, PATCH_INPUT_RULE, PATCH_HUNKS_ONLY_RULE } from './patch/review';
export type { PatchReview, PatchFinding, ReviewedFile, PatchReviewOptions } from './patch/review';
export { draftReply, replyTarget } from './patch/reply';
export type { PatchInput, PatchMail, FilePatch, Hunk, HunkLine } from './patch/types';
export { patchHover, hunkLineAt } from './patch/hover';
export { boundCommentRuns, MAX_COMMENT_RUN, liveTreeCount } from './parse/parser';
export { hasWord } from './words';
