// The ABIs vfio-review lays structs out for: sizes and alignments of C's basic types (as gcc uses
// them inside structs), byte order, and the macros the compiler predefines, which decide the
// `#if`/`#ifdef` branches of uapi headers.
import type { AbiName } from '../types';

export interface ScalarSpec {
  size: number;
  align: number;
}

export interface Abi {
  name: AbiName;
  /** Directory under arch/ holding its headers. */
  archDir: string;
  bigEndian: boolean;
  charSigned: boolean;
  short: ScalarSpec;
  int: ScalarSpec;
  long: ScalarSpec;
  longLong: ScalarSpec;
  pointer: ScalarSpec;
  float: ScalarSpec;
  double: ScalarSpec;
  longDouble: ScalarSpec;
  int128?: ScalarSpec;
  /** `__attribute__((aligned))` without an argument: the largest alignment of the target. */
  maxAlign: number;
  /** AAPCS: unnamed (and zero-width) bit-fields give the struct their type's alignment too. */
  unnamedBitfieldsAlign?: boolean;
  predefined: Record<string, string>;
}

const common: Record<string, string> = {
  __STDC__: '1',
  __STDC_VERSION__: '201112L',
  __GNUC__: '12',
  __GNUC_MINOR__: '2',
  __GNUC_PATCHLEVEL__: '0',
  __linux__: '1',
  __linux: '1',
  __unix__: '1',
  __ELF__: '1',
  __CHAR_BIT__: '8',
  __ORDER_LITTLE_ENDIAN__: '1234',
  __ORDER_BIG_ENDIAN__: '4321',
  __ORDER_PDP_ENDIAN__: '3412',
  __SIZEOF_INT__: '4',
  __SIZEOF_SHORT__: '2',
  __SIZEOF_LONG_LONG__: '8',
  __SIZEOF_FLOAT__: '4',
  __SIZEOF_DOUBLE__: '8',
  __INT_MAX__: '0x7fffffff',
  __SCHAR_MAX__: '0x7f',
  __SHRT_MAX__: '0x7fff',
  __LONG_LONG_MAX__: '0x7fffffffffffffffLL',
};

const lp64 = { __LP64__: '1', _LP64: '1', __SIZEOF_LONG__: '8', __SIZEOF_POINTER__: '8', __LONG_MAX__: '0x7fffffffffffffffL', __SIZEOF_INT128__: '16' };
const ilp32 = { __SIZEOF_LONG__: '4', __SIZEOF_POINTER__: '4', __LONG_MAX__: '0x7fffffffL' };
// gcc defines __ILP32__ for i386 (and x32), not for 32-bit arm.
const x86ilp32 = { __ILP32__: '1', _ILP32: '1' };
const little = { __BYTE_ORDER__: '__ORDER_LITTLE_ENDIAN__' };
const big = { __BYTE_ORDER__: '__ORDER_BIG_ENDIAN__' };
const unsignedChar = { __CHAR_UNSIGNED__: '1' };

const s = (size: number, align = size): ScalarSpec => ({ size, align });

export const ABIS: Record<AbiName, Abi> = {
  x86_64: {
    name: 'x86_64', archDir: 'x86', bigEndian: false, charSigned: true,
    short: s(2), int: s(4), long: s(8), longLong: s(8), pointer: s(8), float: s(4), double: s(8),
    longDouble: s(16), int128: s(16), maxAlign: 16,
    predefined: { ...common, ...lp64, ...little, __x86_64__: '1', __x86_64: '1', __amd64__: '1', __amd64: '1', __SIZEOF_LONG_DOUBLE__: '16' },
  },
  i386: {
    name: 'i386', archDir: 'x86', bigEndian: false, charSigned: true,
    // The i386 SysV ABI aligns 8-byte scalars to 4 inside structs.
    short: s(2), int: s(4), long: s(4), longLong: s(8, 4), pointer: s(4), float: s(4), double: s(8, 4),
    longDouble: s(12, 4), maxAlign: 16,
    predefined: { ...common, ...ilp32, ...x86ilp32, ...little, __i386__: '1', __i386: '1', i386: '1', __SIZEOF_LONG_DOUBLE__: '12' },
  },
  arm64: {
    name: 'arm64', archDir: 'arm64', bigEndian: false, charSigned: false,
    short: s(2), int: s(4), long: s(8), longLong: s(8), pointer: s(8), float: s(4), double: s(8),
    longDouble: s(16), int128: s(16), maxAlign: 16, unnamedBitfieldsAlign: true,
    predefined: { ...common, ...lp64, ...little, ...unsignedChar, __aarch64__: '1', __ARM_64BIT_STATE: '1', __AARCH64EL__: '1', __SIZEOF_LONG_DOUBLE__: '16' },
  },
  arm: {
    name: 'arm', archDir: 'arm', bigEndian: false, charSigned: false,
    // AAPCS (EABI): 8-byte scalars are 8-aligned; long double is double.
    short: s(2), int: s(4), long: s(4), longLong: s(8), pointer: s(4), float: s(4), double: s(8),
    longDouble: s(8), maxAlign: 8, unnamedBitfieldsAlign: true,
    predefined: { ...common, ...ilp32, ...little, ...unsignedChar, __arm__: '1', __ARM_EABI__: '1', __ARMEL__: '1', __SIZEOF_LONG_DOUBLE__: '8' },
  },
  riscv64: {
    name: 'riscv64', archDir: 'riscv', bigEndian: false, charSigned: false,
    short: s(2), int: s(4), long: s(8), longLong: s(8), pointer: s(8), float: s(4), double: s(8),
    longDouble: s(16), int128: s(16), maxAlign: 16,
    predefined: { ...common, ...lp64, ...little, ...unsignedChar, __riscv: '1', __riscv_xlen: '64', __SIZEOF_LONG_DOUBLE__: '16' },
  },
  ppc64le: {
    name: 'ppc64le', archDir: 'powerpc', bigEndian: false, charSigned: false,
    short: s(2), int: s(4), long: s(8), longLong: s(8), pointer: s(8), float: s(4), double: s(8),
    longDouble: s(16), int128: s(16), maxAlign: 16,
    predefined: { ...common, ...lp64, ...little, ...unsignedChar, __powerpc__: '1', __powerpc64__: '1', __PPC__: '1', __PPC64__: '1', _ARCH_PPC64: '1', _CALL_ELF: '2', __LITTLE_ENDIAN__: '1', __SIZEOF_LONG_DOUBLE__: '16' },
  },
  s390x: {
    name: 's390x', archDir: 's390', bigEndian: true, charSigned: false,
    short: s(2), int: s(4), long: s(8), longLong: s(8), pointer: s(8), float: s(4), double: s(8),
    longDouble: s(16, 8), int128: s(16, 8), maxAlign: 8,
    predefined: { ...common, ...lp64, ...big, ...unsignedChar, __s390__: '1', __s390x__: '1', __zarch__: '1', __SIZEOF_LONG_DOUBLE__: '16' },
  },
};

for (const abi of Object.values(ABIS)) abi.predefined.__BIGGEST_ALIGNMENT__ = String(abi.maxAlign);

export const ALL_ABIS: AbiName[] = ['x86_64', 'i386', 'arm64', 'arm', 'riscv64', 'ppc64le', 's390x'];

export function isAbiName(name: string): name is AbiName {
  return (ALL_ABIS as string[]).includes(name);
}
