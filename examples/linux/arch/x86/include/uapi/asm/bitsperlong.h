/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_ASM_X86_BITSPERLONG_H
#define _UAPI_ASM_X86_BITSPERLONG_H

/* One arch directory serves both x86_64 and i386: the compiler tells which. */
#ifdef __x86_64__
#define __BITS_PER_LONG 64
#else
#define __BITS_PER_LONG 32
#endif

#include <asm-generic/bitsperlong.h>

#endif /* _UAPI_ASM_X86_BITSPERLONG_H */
