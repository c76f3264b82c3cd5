/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Fixed-size integer types for userspace, with a 64-bit type that is
 * "long long" on every architecture (32-bit and 64-bit alike).
 */
#ifndef _UAPI_ASM_GENERIC_INT_LL64_H
#define _UAPI_ASM_GENERIC_INT_LL64_H

#include <asm/bitsperlong.h>

#ifndef __ASSEMBLY__

typedef __signed__ char		__s8;
typedef unsigned char		__u8;

typedef __signed__ short	__s16;
typedef unsigned short		__u16;

typedef __signed__ int		__s32;
typedef unsigned int		__u32;

/* Strict ISO C has no long long: mark it as an extension to keep -pedantic quiet. */
#ifdef __GNUC__
__extension__ typedef __signed__ long long	__s64;
__extension__ typedef unsigned long long	__u64;
#else
typedef __signed__ long long	__s64;
typedef unsigned long long	__u64;
#endif

#endif /* __ASSEMBLY__ */

#endif /* _UAPI_ASM_GENERIC_INT_LL64_H */
