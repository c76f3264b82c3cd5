// Every rule, one file each. The registry is the single list front ends read (help, SARIF, docs).
import type { RuleInfo } from '../api';
import { ABI_RULES } from '../compare/abi-diff';
import { lockDoubleAcquire } from './lock-double-acquire';
import { lockHeldAtReturn } from './lock-held-at-return';
import { lockNotHeld } from './lock-not-held';
import { lockReleaseNotHeld } from './lock-release-not-held';
import { lockUnprotectedAccess } from './lock-unprotected-access';
import { resetWithoutDevsetLock } from './reset-without-devset-lock';
import { dmaOwnerViolation } from './dma-owner-violation';
import { flagOutOfRange } from './flag-out-of-range';
import { flagDependency } from './flag-dependency';
import { flagOverlap } from './flag-overlap';
import { flagSignedShift } from './flag-signed-shift';
import { flagUnvalidated } from './flag-unvalidated';
import { flagWrongField } from './flag-wrong-field';
import { parseIncomplete } from './parse-incomplete';
import type { Rule } from './rule';
import { unionInactiveMember } from './union-inactive-member';
import { unionMemberTypeMismatch } from './union-member-type-mismatch';
import { uapiArchDependentLayout } from './uapi-arch-dependent-layout';
import { uapiImplicitPadding } from './uapi-implicit-padding';
import { uapiNonFixedType } from './uapi-non-fixed-type';

export const ALL_RULES: Rule[] = [uapiArchDependentLayout, uapiImplicitPadding, uapiNonFixedType, parseIncomplete,
  flagOverlap, flagSignedShift, flagOutOfRange,
  flagWrongField, flagUnvalidated, flagDependency, unionMemberTypeMismatch, unionInactiveMember,
  lockNotHeld, lockDoubleAcquire, lockReleaseNotHeld, lockHeldAtReturn,
  resetWithoutDevsetLock, dmaOwnerViolation, lockUnprotectedAccess];

/** Rules reported by front ends rather than by analysis of a file's content. */
const FRONT_END_RULES: RuleInfo[] = [
  { id: 'input-skipped', defaultSeverity: 'info', summary: 'A file that was not analysed: binary, unreadable or too large.' },
  { id: 'config-invalid', defaultSeverity: 'warning', summary: 'A problem in the tree\'s .vfio-review.json (the rest of it still applies).' },
  { id: 'analysis-incomplete', defaultSeverity: 'info', summary: 'Analysis left undone: a file stopped at its time budget (which ABIs and rules), or a function nested too deep for the control-flow analysis.' },
  // Patch review (engine/patch/review.ts): problems of the input, and files checked from their hunks alone.
  { id: 'patch-input', defaultSeverity: 'error', summary: 'A patch, mail or mbox that cannot be read as it says: a refused path, a broken hunk, a truncated mail, a binary patch.' },
  { id: 'patch-hunks-only', defaultSeverity: 'info', summary: 'A file of a patch analysed from its hunks alone (no tree, or a hunk that does not apply).' },
];

export const RULES: RuleInfo[] = [
  ...ALL_RULES.map(({ id, defaultSeverity, summary, cost }) => ({ id, defaultSeverity, summary, ...(cost ? { cost } : {}) })),
  // abi-* findings come from comparing a file with its base version (compare/abi-diff.ts).
  ...ABI_RULES,
  ...FRONT_END_RULES,
];

export function ruleInfo(id: string): RuleInfo | undefined {
  return RULES.find((r) => r.id === id);
}
