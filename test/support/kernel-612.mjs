// The Debian 6.12 kernel tree, for the tests that run on it when this machine has it.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));

/** The Debian 6.12 tree (../shared/scripts/kernel-src), or undefined when this machine has none. */
export function kernel612() {
  const script = path.join(repo, '..', 'shared', 'scripts', 'kernel-src');
  if (!existsSync(script)) return undefined;
  try {
    const dir = execFileSync(script, ['6.12'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dir && existsSync(path.join(dir, 'drivers/vfio/pci/vfio_pci_core.c')) ? dir : undefined;
  } catch {
    return undefined;
  }
}
