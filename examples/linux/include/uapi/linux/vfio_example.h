/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * VFIO-like userspace API of the vfio-review example driver.
 *
 * Most structs here follow the VFIO conventions: every ioctl argument
 * starts with argsz (the size userspace allocated, so the struct can grow)
 * and flags, 64-bit members are __aligned_u64, and nothing in them depends
 * on the width of long or of a pointer.
 *
 * A few structs break those rules on purpose, so that `vfio-review check`
 * has something to report; each is marked "Deliberately wrong" below and
 * docs/rules/ explains the fix.
 */
#ifndef _UAPI_VFIO_EXAMPLE_H
#define _UAPI_VFIO_EXAMPLE_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define VFIO_EXAMPLE_TYPE	(';')
#define VFIO_EXAMPLE_BASE	200

/* -------- Device info -------- */

/**
 * VFIO_EXAMPLE_DEVICE_GET_INFO - _IOR(VFIO_EXAMPLE_TYPE, VFIO_EXAMPLE_BASE + 0,
 *					struct vfio_example_device_info)
 *
 * Describes the device. cap_offset, when non-zero, is the offset from the
 * start of the struct of a chain of capabilities (needs argsz large enough).
 */
struct vfio_example_device_info {
	__u32	argsz;
	__u32	flags;
#define VFIO_EXAMPLE_DEVICE_FLAGS_RESET	(1 << 0)	/* Device supports reset */
#define VFIO_EXAMPLE_DEVICE_FLAGS_PCI	(1 << 1)	/* vfio-pci device */
#define VFIO_EXAMPLE_DEVICE_FLAGS_CAPS	(1 << 2)	/* cap_offset is valid */
	__u32	num_regions;
	__u32	num_irqs;
	__aligned_u64	cap_offset;
};
#define VFIO_EXAMPLE_DEVICE_GET_INFO	_IO(VFIO_EXAMPLE_TYPE, VFIO_EXAMPLE_BASE + 0)

/* -------- PCI hot reset -------- */

/*
 * One function affected by a hot reset. Which member of the union is
 * filled depends on how the device was opened: group_id for the legacy
 * group interface, devid when it was bound to an iommufd (cdev), see
 * VFIO_EXAMPLE_FLAG_DEV_ID.
 */
struct vfio_example_pci_dependent_device {
	union {
		__u32	group_id;
		__u32	devid;
#define VFIO_EXAMPLE_PCI_DEVID_OWNED		0
#define VFIO_EXAMPLE_PCI_DEVID_NOT_OWNED	-1
	};
	__u16	segment;
	__u8	bus;
	__u8	devfn;		/* Use PCI_SLOT/PCI_FUNC */
};

/**
 * VFIO_EXAMPLE_PCI_GET_HOT_RESET_INFO - _IOWR(VFIO_EXAMPLE_TYPE, VFIO_EXAMPLE_BASE + 1,
 *					struct vfio_example_pci_hot_reset_info)
 *
 * Returns -ENOSPC and sets count when argsz is too small for the devices.
 */
struct vfio_example_pci_hot_reset_info {
	__u32	argsz;
	__u32	flags;
#define VFIO_EXAMPLE_FLAG_DEV_ID		(1 << 0)
#define VFIO_EXAMPLE_FLAG_DEV_ID_OWNED		(1 << 1)
	__u32	count;
	struct vfio_example_pci_dependent_device	devices[];
};
#define VFIO_EXAMPLE_PCI_GET_HOT_RESET_INFO	_IO(VFIO_EXAMPLE_TYPE, VFIO_EXAMPLE_BASE + 1)

/**
 * VFIO_EXAMPLE_PCI_HOT_RESET - _IOW(VFIO_EXAMPLE_TYPE, VFIO_EXAMPLE_BASE + 2,
 *				struct vfio_example_pci_hot_reset)
 *
 * count is the number of file descriptors in group_fds; zero asks for a
 * reset proven by device ownership (cdev) instead.
 */
struct vfio_example_pci_hot_reset {
	__u32	argsz;
	__u32	flags;
	__u32	count;
	__s32	group_fds[];
};
#define VFIO_EXAMPLE_PCI_HOT_RESET	_IO(VFIO_EXAMPLE_TYPE, VFIO_EXAMPLE_BASE + 2)

/* -------- Deliberately wrong: for vfio-review's first rules -------- */

/*
 * Deliberately wrong (uapi-implicit-padding): the compiler inserts two
 * bytes after index and three bytes after type. Their contents are not
 * defined, the kernel can leak stack bytes through them, and they can
 * never be given a meaning later because old userspace leaves garbage in
 * them.
 */
struct vfio_example_region_sparse {
	__u32	argsz;
	__u16	index;
	__u32	flags;
	__u8	type;
};

/*
 * Deliberately wrong (uapi-arch-dependent-layout): iova follows three
 * __u32 members. x86_64 aligns a __u64 to 8 and puts it at offset 16; i386
 * aligns it to 4 and puts it at offset 12, so a 32-bit program on a 64-bit
 * kernel passes a struct the kernel reads differently. (x86_64 also gets a
 * hole of four bytes, reported by uapi-implicit-padding.)
 */
struct vfio_example_dma_map {
	__u32	argsz;
	__u32	flags;
#define VFIO_EXAMPLE_DMA_MAP_FLAG_READ	(1 << 0)
#define VFIO_EXAMPLE_DMA_MAP_FLAG_WRITE	(1 << 1)
	__u32	index;
	__u64	iova;
	__u64	size;
};
#define VFIO_EXAMPLE_DMA_MAP	_IOW(VFIO_EXAMPLE_TYPE, VFIO_EXAMPLE_BASE + 3, struct vfio_example_dma_map)

enum vfio_example_irq_kind {
	VFIO_EXAMPLE_IRQ_INTX,
	VFIO_EXAMPLE_IRQ_MSI,
	VFIO_EXAMPLE_IRQ_MSIX,
};

/*
 * Deliberately wrong (uapi-non-fixed-type): int, an enum and bool have no
 * size fixed by the uapi; the layout happens to agree on every ABI today
 * but the types say nothing about it. Use __s32, __u32 and __u8.
 */
struct vfio_example_irq_set {
	__u32	argsz;
	__u32	flags;
	int	index;
	enum vfio_example_irq_kind	kind;
	__u32	start;
	__u32	count;
	bool	masked;
	__u8	reserved[3];
};
#define VFIO_EXAMPLE_DEVICE_SET_IRQS	_IO(VFIO_EXAMPLE_TYPE, VFIO_EXAMPLE_BASE + 4)

#endif /* _UAPI_VFIO_EXAMPLE_H */
