// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fragment of a VFIO PCI driver for the vfio-review examples: hot reset
 * information and reset of a device set. It shows the locking idioms the
 * lock rules look at (mutex_lock, guard, scoped_guard, lockdep asserts,
 * __must_hold, callbacks run by an iterator under a lock) and the uapi
 * structs of include/uapi/linux/vfio_example.h in use.
 */
#include <linux/cleanup.h>
#include <linux/iommu.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/uaccess.h>
#include <linux/vfio_example.h>

struct vfio_example_fill_info {
	struct vfio_example_pci_dependent_device __user *devices;
	struct vfio_example_device *vdev;
	u32 count;
	u32 max;
	u32 flags;
};

static struct vfio_example_device *
vfio_example_find_in_set(struct vfio_example_device_set *dev_set,
			 struct pci_dev *pdev)
	__must_hold(&dev_set->lock)
{
	struct vfio_example_device *cur;

	lockdep_assert_held(&dev_set->lock);

	list_for_each_entry(cur, &dev_set->device_list, dev_set_list) {
		if (cur->pdev == pdev)
			return cur;
	}
	return NULL;
}

static int vfio_example_count_devs(struct pci_dev *pdev, void *data)
{
	(*(int *)data)++;
	return 0;
}

/*
 * Runs for each affected function from vfio_example_walk_slot(), which the
 * caller invokes with dev_set->lock held: the lookup in the set needs it.
 */
static int vfio_example_fill_devs(struct pci_dev *pdev, void *data)
{
	struct vfio_example_fill_info *fill = data;
	struct vfio_example_pci_dependent_device info = {};
	struct vfio_example_device *owner;

	if (fill->count >= fill->max)
		return -EAGAIN;

	info.segment = pci_domain_nr(pdev->bus);
	info.bus = pdev->bus->number;
	info.devfn = pdev->devfn;

	if (fill->flags & VFIO_EXAMPLE_FLAG_DEV_ID) {
		owner = vfio_example_find_in_set(fill->vdev->dev_set, pdev);
		if (owner && owner->ictx == fill->vdev->ictx)
			info.devid = owner->devid;
		else
			info.devid = VFIO_EXAMPLE_PCI_DEVID_NOT_OWNED;
	} else {
		info.group_id = iommu_group_id_of(&pdev->dev);
	}

	if (copy_to_user(&fill->devices[fill->count], &info, sizeof(info)))
		return -EFAULT;
	fill->count++;
	return 0;
}

static int
vfio_example_ioctl_get_hot_reset_info(struct vfio_example_device *vdev,
				      struct vfio_example_pci_hot_reset_info __user *arg)
{
	unsigned long minsz =
		offsetofend(struct vfio_example_pci_hot_reset_info, count);
	struct vfio_example_device_set *dev_set = vdev->dev_set;
	struct vfio_example_pci_hot_reset_info hdr;
	struct vfio_example_fill_info fill = {};
	int count = 0, ret;

	if (copy_from_user(&hdr, arg, minsz))
		return -EFAULT;
	if (hdr.argsz < minsz)
		return -EINVAL;

	hdr.flags = 0;
	if (vdev->ictx)
		hdr.flags |= VFIO_EXAMPLE_FLAG_DEV_ID;

	ret = vfio_example_walk_slot(vdev->pdev, vfio_example_count_devs, &count);
	if (ret)
		return ret;

	if (hdr.argsz < sizeof(hdr) + count * sizeof(*fill.devices)) {
		hdr.count = count;
		ret = -ENOSPC;
		goto header;
	}

	fill.devices = arg->devices;
	fill.vdev = vdev;
	fill.max = count;
	fill.flags = hdr.flags;

	mutex_lock(&dev_set->lock);
	ret = vfio_example_walk_slot(vdev->pdev, vfio_example_fill_devs, &fill);
	mutex_unlock(&dev_set->lock);

	hdr.count = fill.count;
header:
	if (copy_to_user(arg, &hdr, minsz))
		ret = -EFAULT;
	return ret;
}

/* A set may be reset only when no device in it is open. */
static bool vfio_example_set_idle(struct vfio_example_device_set *dev_set)
	__must_hold(&dev_set->lock)
{
	struct vfio_example_device *cur;

	lockdep_assert_held(&dev_set->lock);

	list_for_each_entry(cur, &dev_set->device_list, dev_set_list)
		if (cur->open_count)
			return false;
	return true;
}

static int vfio_example_open_device(struct vfio_example_device *vdev)
{
	struct vfio_example_device_set *dev_set = vdev->dev_set;

	guard(mutex)(&dev_set->lock);

	if (!vdev->open_count && vdev->reset_works &&
	    vfio_example_set_idle(dev_set))
		pci_reset_function(vdev->pdev);
	vdev->open_count++;
	return 0;
}

static void vfio_example_close_device(struct vfio_example_device *vdev)
{
	struct vfio_example_device_set *dev_set = vdev->dev_set;

	scoped_guard(mutex, &dev_set->lock) {
		vdev->open_count--;
		if (vfio_example_set_idle(dev_set) && vdev->reset_works)
			pci_reset_function(vdev->pdev);
	}
}
