/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_ASM_GENERIC_IOCTL_H
#define _UAPI_ASM_GENERIC_IOCTL_H

/*
 * An ioctl number packs, from the low bits up: a command number (8 bits),
 * a type or "magic" (8 bits), the size of the argument (14 bits) and the
 * direction of the transfer (2 bits). The size comes from sizeof() of the
 * argument type, so a struct whose size differs between ABIs gives one
 * ioctl two different numbers.
 */
#define _IOC_NRBITS	8
#define _IOC_TYPEBITS	8
#define _IOC_SIZEBITS	14
#define _IOC_DIRBITS	2

#define _IOC_NRSHIFT	0
#define _IOC_TYPESHIFT	(_IOC_NRSHIFT + _IOC_NRBITS)
#define _IOC_SIZESHIFT	(_IOC_TYPESHIFT + _IOC_TYPEBITS)
#define _IOC_DIRSHIFT	(_IOC_SIZESHIFT + _IOC_SIZEBITS)

#define _IOC_NONE	0U
#define _IOC_WRITE	1U
#define _IOC_READ	2U

#define _IOC(dir, type, nr, size)		\
	(((dir)  << _IOC_DIRSHIFT) |		\
	 ((type) << _IOC_TYPESHIFT) |		\
	 ((nr)   << _IOC_NRSHIFT) |		\
	 ((size) << _IOC_SIZESHIFT))

#define _IOC_TYPECHECK(t)	(sizeof(t))

#define _IO(type, nr)			_IOC(_IOC_NONE, (type), (nr), 0)
#define _IOR(type, nr, argtype)		_IOC(_IOC_READ, (type), (nr), (_IOC_TYPECHECK(argtype)))
#define _IOW(type, nr, argtype)		_IOC(_IOC_WRITE, (type), (nr), (_IOC_TYPECHECK(argtype)))
#define _IOWR(type, nr, argtype)	_IOC(_IOC_READ | _IOC_WRITE, (type), (nr), (_IOC_TYPECHECK(argtype)))

#endif /* _UAPI_ASM_GENERIC_IOCTL_H */
