/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel-internal side of the vfio-review example driver.
 */
#ifndef _LINUX_VFIO_EXAMPLE_H
#define _LINUX_VFIO_EXAMPLE_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <uapi/linux/vfio_example.h>

struct iommufd_ctx;
struct pci_dev;

/*
 * Devices that can only be reset together share one device set. lock
 * protects device_list and the open_count of every device in the set:
 * a reset is allowed only while no other device of the set is open.
 */
struct vfio_example_device_set {
	struct mutex		lock;
	struct list_head	device_list;
	unsigned int		device_count;
};

struct vfio_example_device {
	struct pci_dev			*pdev;
	struct vfio_example_device_set	*dev_set;
	struct list_head		dev_set_list;	/* under dev_set->lock */
	unsigned int			open_count;	/* under dev_set->lock */
	struct iommufd_ctx		*ictx;		/* NULL: opened through a group */
	u32				devid;
	bool				reset_works;
};

/* Calls fn for every PCI function a reset of pdev's slot or bus affects. */
int vfio_example_walk_slot(struct pci_dev *pdev,
			   int (*fn)(struct pci_dev *pdev, void *data),
			   void *data);

#endif /* _LINUX_VFIO_EXAMPLE_H */
