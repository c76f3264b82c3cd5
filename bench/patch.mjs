// `vfio-review patch` on a ten-patch series against the real tree, side by side with
// scripts/checkpatch.pl on the same series, both as whole processes and both ways b4 runs them:
// the whole series in one run, and one run per patch with the mail on stdin (b4's per-patch
// check command). The series is made here: the touched files of the tree are copied into a
// scratch git repository, ten scripted edits are committed, and `git format-patch` writes them.
// Nothing of the kernel is kept. vfio-review runs twice each way: cold (--no-cache: every process
// parses the whole lock index) and with a warm cache folder made here (--cache, filled by untimed
// runs, the series and each patch once, as a tree a reviewer has checked patches against before:
// the lock analysis reads each index file's IR and the tree's analysis back instead of parsing and
// analysing, and the unpatched files' findings are read back).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { median } from './measure.mjs';

/** Ten edits of 6.12 files, each a commit: ABI changes, a lock removed, helpers, comments. */
export const SERIES = [
  {
    subject: 'vfio: add a device flag for the example platform',
    file: 'include/uapi/linux/vfio.h',
    find: '#define VFIO_DEVICE_FLAGS_CDX\t(1 << 8)\t/* vfio-cdx device */\n',
    replace: '#define VFIO_DEVICE_FLAGS_CDX\t(1 << 8)\t/* vfio-cdx device */\n#define VFIO_DEVICE_FLAGS_EXAMPLE\t(1 << 31)\t/* example device */\n',
  },
  {
    subject: 'vfio: report the number of capabilities in device info',
    file: 'include/uapi/linux/vfio.h',
    find: '\t__u32   cap_offset;\t/* Offset within info struct of first cap */\n\t__u32   pad;\n};\n#define VFIO_DEVICE_GET_INFO',
    replace: '\t__u32   cap_offset;\t/* Offset within info struct of first cap */\n\t__u32   pad;\n\t__u32   num_caps;\t/* Number of capabilities in the chain */\n\t__u32   pad2;\n};\n#define VFIO_DEVICE_GET_INFO',
  },
  {
    subject: 'vfio/pci: do not hold the dev_set lock while filling hot reset info',
    file: 'drivers/vfio/pci/vfio_pci_core.c',
    find: '\tmutex_lock(&vdev->vdev.dev_set->lock);\n\tret = vfio_pci_for_each_slot_or_bus(vdev->pdev, vfio_pci_fill_devs,\n\t\t\t\t\t    &fill, slot);\n\tmutex_unlock(&vdev->vdev.dev_set->lock);\n',
    replace: '\tret = vfio_pci_for_each_slot_or_bus(vdev->pdev, vfio_pci_fill_devs,\n\t\t\t\t\t    &fill, slot);\n',
  },
  {
    subject: 'vfio/group: explain the KVM reference taken on first open',
    file: 'drivers/vfio/group.c',
    find: '\t * now that will be held until the open_count reaches 0 again.  Save\n',
    replace: '\t * now that will be held until the open_count reaches 0 again (the\n\t * last close drops it).  Save\n',
  },
  {
    subject: 'vfio: add vfio_device_registered()',
    file: 'drivers/vfio/vfio_main.c',
    find: 'void vfio_device_put_registration(struct vfio_device *device)\n',
    replace: '/* True while the device is registered (it holds its own reference). */\nbool vfio_device_registered(struct vfio_device *device)\n{\n\treturn refcount_read(&device->refcount) > 0;\n}\n\nvoid vfio_device_put_registration(struct vfio_device *device)\n',
  },
  {
    subject: 'iommufd: document iommufd_fops_open()',
    file: 'drivers/iommu/iommufd/main.c',
    find: 'static int iommufd_fops_open(struct inode *inode, struct file *filp)\n',
    replace: '/* Opens /dev/iommu (or /dev/vfio/vfio in compat mode): a new context. */\nstatic int iommufd_fops_open(struct inode *inode, struct file *filp)\n',
  },
  {
    subject: 'vfio: give the dma logging control reserved word a meaning',
    file: 'include/uapi/linux/vfio.h',
    find: 'struct vfio_device_feature_dma_logging_control {\n\t__aligned_u64 page_size;\n\t__u32 num_ranges;\n\t__u32 __reserved;\n',
    replace: 'struct vfio_device_feature_dma_logging_control {\n\t__aligned_u64 page_size;\n\t__u32 num_ranges;\n\t__u32 flags;\n',
  },
  {
    subject: 'vfio/pci: log when a device is enabled',
    file: 'drivers/vfio/pci/vfio_pci_core.c',
    find: 'int vfio_pci_core_enable(struct vfio_pci_core_device *vdev)\n{\n',
    replace: 'int vfio_pci_core_enable(struct vfio_pci_core_device *vdev)\n{\n\tpci_dbg(vdev->pdev, "enabling\\n");\n',
  },
  {
    subject: 'vfio/pci: comment the runtime suspend path',
    file: 'drivers/vfio/pci/vfio_pci_core.c',
    find: 'static int vfio_pci_core_runtime_suspend(struct device *dev)\n',
    replace: '/* Called by the PM core when the device goes idle; see runtime_resume. */\nstatic int vfio_pci_core_runtime_suspend(struct device *dev)\n',
  },
  {
    subject: 'iommufd: document the compat IOAS lookup',
    file: 'drivers/iommu/iommufd/vfio_compat.c',
    find: 'int iommufd_vfio_compat_ioas_get_id(struct iommufd_ctx *ictx, u32 *out_ioas_id)\n',
    replace: '/* The id of the IOAS that VFIO compat mode uses, creating none. */\nint iommufd_vfio_compat_ioas_get_id(struct iommufd_ctx *ictx, u32 *out_ioas_id)\n',
  },
];

function git(cwd, args, input) {
  return execFileSync('git', args, {
    cwd, input, env: { ...process.env, GIT_AUTHOR_NAME: 'Bench', GIT_AUTHOR_EMAIL: 'bench@example.org', GIT_COMMITTER_NAME: 'Bench', GIT_COMMITTER_EMAIL: 'bench@example.org', GIT_CONFIG_NOSYSTEM: '1', HOME: cwd },
  }).toString();
}

/** Writes the series into `work`: series.mbox and 0001-*.patch ... 0010-*.patch. */
export function makeSeries(kernel, work) {
  const repo = path.join(work, 'repo');
  mkdirSync(repo, { recursive: true });
  for (const file of new Set(SERIES.map((e) => e.file))) {
    mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
    copyFileSync(path.join(kernel, file), path.join(repo, file));
  }
  git(repo, ['init', '-q']);
  git(repo, ['add', '-A']);
  git(repo, ['commit', '-qm', 'base']);
  for (const e of SERIES) {
    const p = path.join(repo, e.file);
    const text = readFileSync(p, 'utf8');
    if (!text.includes(e.find)) throw new Error(`${e.file}: the text "${e.find.split('\n')[0]}" of "${e.subject}" is not in this tree`);
    writeFileSync(p, text.replace(e.find, e.replace));
    git(repo, ['commit', '-qam', `${e.subject}\n\nBenchmark edit.\n\nSigned-off-by: Bench <bench@example.org>`]);
  }
  const patches = path.join(work, 'patches');
  git(repo, ['format-patch', '-q', `-${SERIES.length}`, '--subject-prefix=PATCH', '-o', patches]);
  const files = readdirSync(patches).sort().map((f) => path.join(patches, f));
  writeFileSync(path.join(work, 'series.mbox'), files.map((f) => readFileSync(f)).join(''));
  return { mbox: path.join(work, 'series.mbox'), patches: files };
}

function timed(cmd, args, options) {
  const t = performance.now();
  const r = spawnSync(cmd, args, { maxBuffer: 64 << 20, ...options });
  return { ms: performance.now() - t, status: r.status, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}

export function benchPatch({ repo, kernel, runs = 5 }) {
  const checkpatch = path.join(kernel, 'scripts/checkpatch.pl');
  if (!existsSync(checkpatch)) return { error: `${checkpatch} is missing (../shared/scripts/kernel-src extracts it)` };
  // As installed (bin/vfio-review): the CLI behind its code cache, which --no-cache turns off too.
  const cli = path.join(repo, 'dist/vfio-review.js');
  const work = mkdtempSync(path.join(tmpdir(), 'vr-bench-patch-'));
  const cache = path.join(work, 'cache');
  try {
    const { mbox, patches } = makeSeries(kernel, work);
    const vrWith = (cacheArgs) => (input) => timed(process.execPath, [cli, 'patch', input ? '-' : mbox, '--tree', kernel, '--format', input ? 'b4' : 'json', '--fail-on', 'never', ...cacheArgs], { input, cwd: kernel });
    const vr = vrWith(['--no-cache']);
    const vrWarm = vrWith(['--cache', cache]);
    const cp = (args, input) => timed('perl', [checkpatch, '-q', '--no-summary', ...args], { input, cwd: kernel });
    const series = { vfioReview: [], vfioReviewWarm: [], checkpatch: [] };
    const perPatch = { vfioReview: [], vfioReviewWarm: [], checkpatch: [] };
    let findings;
    let checkpatchLines = 0;
    // Fills the cache folder (untimed); the warm runs must print what the cold ones do.
    for (const input of [undefined, ...patches.map((p) => readFileSync(p))]) {
      const filling = vrWarm(input);
      if (filling.status !== 0) return { error: `vfio-review patch --cache exited ${filling.status}: ${filling.stderr.slice(0, 300)}` };
    }
    for (let i = 0; i < runs; i++) {
      const v = vr();
      if (v.status !== 0) return { error: `vfio-review patch exited ${v.status}: ${v.stderr.slice(0, 300)}` };
      findings ??= JSON.parse(v.stdout).findings;
      series.vfioReview.push(v.ms);
      const w = vrWarm();
      if (w.stdout !== v.stdout) return { error: 'vfio-review patch printed other findings with the cache than without it' };
      series.vfioReviewWarm.push(w.ms);
      const c = cp(patches);
      checkpatchLines = c.stdout.split('\n').filter((l) => /^(ERROR|WARNING|CHECK):/.test(l)).length;
      series.checkpatch.push(c.ms);
      let vSum = 0;
      let wSum = 0;
      let cSum = 0;
      for (const p of patches) {
        const mail = readFileSync(p);
        const v = vr(mail);
        const w = vrWarm(mail);
        if (w.stdout !== v.stdout) return { error: `vfio-review patch printed other findings for ${path.basename(p)} with the cache than without it` };
        vSum += v.ms;
        wSum += w.ms;
        // As b4 runs it: one mail on stdin, terse, mailback.
        cSum += cp(['--terse', '--mailback', '-'], mail).ms;
      }
      perPatch.vfioReview.push(vSum);
      perPatch.vfioReviewWarm.push(wSum);
      perPatch.checkpatch.push(cSum);
    }
    return {
      patches: patches.length,
      runs,
      findings: findings.length,
      findingRules: [...new Set(findings.map((f) => f.rule))].sort(),
      checkpatchMessages: checkpatchLines,
      // vfioReview: cold (--no-cache); vfioReviewWarm: with the cache folder filled.
      seriesMs: { vfioReview: median(series.vfioReview), vfioReviewWarm: median(series.vfioReviewWarm), checkpatch: median(series.checkpatch), ratio: median(series.vfioReview) / median(series.checkpatch), ratioWarm: median(series.vfioReviewWarm) / median(series.checkpatch) },
      perPatchMs: { vfioReview: median(perPatch.vfioReview), vfioReviewWarm: median(perPatch.vfioReviewWarm), checkpatch: median(perPatch.checkpatch), ratio: median(perPatch.vfioReview) / median(perPatch.checkpatch), ratioWarm: median(perPatch.vfioReviewWarm) / median(perPatch.checkpatch) },
    };
  } catch (error) {
    return { error: error.message };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// `node bench/patch.mjs [KERNEL] [RUNS]`: this row alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const repo = path.dirname(path.dirname(new URL(import.meta.url).pathname));
  const kernel = process.argv[2] ?? execFileSync(path.join(repo, '..', 'shared', 'scripts', 'kernel-src'), ['6.12']).toString().trim();
  console.log(JSON.stringify(benchPatch({ repo, kernel, runs: Number(process.argv[3] ?? 3) }), null, 2));
}
