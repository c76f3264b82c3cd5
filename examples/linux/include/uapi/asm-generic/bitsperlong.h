/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_ASM_GENERIC_BITSPERLONG_H
#define _UAPI_ASM_GENERIC_BITSPERLONG_H

/*
 * Fallback for architectures whose asm/bitsperlong.h does not decide:
 * ask the compiler, and assume 32 bits when it cannot tell.
 */
#ifndef __BITS_PER_LONG
#if defined(__CHAR_BIT__) && defined(__SIZEOF_LONG__)
#define __BITS_PER_LONG (__CHAR_BIT__ * __SIZEOF_LONG__)
#else
#define __BITS_PER_LONG 32
#endif
#endif

#endif /* _UAPI_ASM_GENERIC_BITSPERLONG_H */
