// Lock primitives, guard classes and contract annotations, read from grammars/locks.json.
import locks from '../../../../../grammars/locks.json';

export type LockEffect = 'acquire' | 'tryAcquire' | 'release' | 'assert' | 'none';

export interface Primitive {
  effect: LockEffect;
  /** Which argument is the lock. */
  lock: number;
  /** For tryAcquire: success is a non-zero return (trylock) or a zero return (_interruptible, _killable). */
  success?: 'zero' | 'nonzero';
  mode?: 'read' | 'write';
}

const primitives = new Map<string, Primitive>(
  Object.entries(locks.primitives).filter(([k]) => !k.startsWith('$')) as [string, Primitive][],
);

export function primitiveOf(name: string): Primitive | undefined {
  return primitives.get(name);
}

export const GUARD_CLASSES = new Set<string>(locks.guards.classes);
export const BLOCK_GUARD = locks.guards.blockGuard;
export const SCOPED_GUARDS = new Map<string, { lockArg: number }>(Object.entries(locks.guards.scoped));

export const REQUIRES_ANNOTATIONS = new Set<string>(locks.annotations.requires);
export const ACQUIRES_ANNOTATIONS = new Set<string>(locks.annotations.acquires);
export const RELEASES_ANNOTATIONS = new Set<string>(locks.annotations.releases);

export const DEVSET_RESETS = new Set<string>(locks.devsetResets.functions);
export const DEVSET_LOCK_CLASS = locks.devsetResets.lockClass;
export const DEVSET_LOCK_PATH = new RegExp(locks.devsetResets.lockPathPattern);

export const DMA_OWNERSHIP = {
  driverStruct: locks.dmaOwnership.driverStruct,
  flagField: locks.dmaOwnership.flagField,
  forbidden: locks.dmaOwnership.forbidden.map((r) => new RegExp(r)),
  registersVfioDevice: new Set<string>(locks.dmaOwnership.registersVfioDevice),
};

/** Functions that take a field's address only to read it (lock-unprotected-access). */
export const ACCESS_READERS = new Set<string>(locks.unprotectedAccess.readers);
export const UNPROTECTED_MIN = locks.unprotectedAccess.minProtected;
export const ACCESS_INITIALISERS = locks.unprotectedAccess.initialisers.map((r) => new RegExp(r));
export const ACCESS_ALLOCATORS = locks.unprotectedAccess.allocators.map((r) => new RegExp(r));
export const ACCESS_DIAGNOSTICS = locks.unprotectedAccess.diagnostics.map((r) => new RegExp(r));
export const ACCESS_FREERS = locks.unprotectedAccess.freers.map((r) => new RegExp(r));

/** External functions that call a callback before returning (see grammars/locks.json syncIterators). */
export const SYNC_ITERATORS = new Map<string, { callback: number; data: number; callbackData: number }>(
  Object.entries(locks.syncIterators).filter(([k]) => !k.startsWith('$')) as [string, { callback: number; data: number; callbackData: number }][],
);
