// SPDX-License-Identifier: GPL-2.0-only
/*
 * The slot walk of the vfio-review example driver: calls fn for every PCI
 * function on pdev's bus that shares its slot, stopping at the first error.
 * The lock rules follow fn to the callbacks the callers pass.
 */
#include <linux/pci.h>
#include <linux/vfio_example.h>

int vfio_example_walk_slot(struct pci_dev *pdev,
			   int (*fn)(struct pci_dev *pdev, void *data),
			   void *data)
{
	struct pci_dev *cur;
	int ret;

	list_for_each_entry(cur, &pdev->bus->devices, bus_list) {
		if (PCI_SLOT(cur->devfn) != PCI_SLOT(pdev->devfn))
			continue;
		ret = fn(cur, data);
		if (ret)
			return ret;
	}
	return 0;
}
