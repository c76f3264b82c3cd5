/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_LINUX_TYPES_H
#define _UAPI_LINUX_TYPES_H

#include <asm/types.h>

#ifndef __ASSEMBLY__

/* Only sparse sees the endianness annotations; the compiler sees plain integers. */
#ifdef __CHECKER__
#define __bitwise	__attribute__((bitwise))
#else
#define __bitwise
#endif

typedef __u16 __bitwise __le16;
typedef __u16 __bitwise __be16;
typedef __u32 __bitwise __le32;
typedef __u32 __bitwise __be32;
typedef __u64 __bitwise __le64;
typedef __u64 __bitwise __be64;

/*
 * i386 aligns a 64-bit integer to 4 bytes inside a struct, x86_64 to 8.
 * A uapi struct that uses these types has the same layout for a 32-bit
 * process as for a 64-bit kernel.
 */
#define __aligned_u64		__u64 __attribute__((aligned(8)))
#define __aligned_be64		__be64 __attribute__((aligned(8)))
#define __aligned_le64		__le64 __attribute__((aligned(8)))

#endif /* __ASSEMBLY__ */
#endif /* _UAPI_LINUX_TYPES_H */
