/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_ASM_GENERIC_TYPES_H
#define _UAPI_ASM_GENERIC_TYPES_H

/* Every architecture of this tree uses the long-long flavour of __u64. */
#include <asm-generic/int-ll64.h>

#endif /* _UAPI_ASM_GENERIC_TYPES_H */
