// The command line reports a bad .vfio-review.json once, as findings on that file, and goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

test('config problems are findings on .vfio-review.json; valid parts and other checks still apply', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'vfio-review-cli-config-'));
  try {
    mkdirSync(path.join(root, 'include/uapi/linux'), { recursive: true });
    writeFileSync(path.join(root, 'Kbuild'), '');
    writeFileSync(path.join(root, 'include/uapi/linux/a.h'), 'struct a {\n\tint\tx;\n};\nstruct b {\n\tint\ty;\n};\n');
    writeFileSync(path.join(root, '.vfio-review.json'), '{ "rules": { "uapi-non-fixed-type": "error", "parse-incomplete": "loud" }, "colour": 1 }');
    const out = JSON.parse(execFileSync(process.execPath, [CLI, 'check', root, '--root', root, '--arch', 'x86_64', '--format', 'json', '--fail-on', 'never'], { cwd: root }).toString());
    const config = out.findings.filter((f) => f.rule === 'config-invalid');
    assert.deepEqual(config.map((f) => f.file), ['.vfio-review.json', '.vfio-review.json']);
    assert.ok(config.some((f) => f.message.startsWith('colour:')));
    assert.ok(config.some((f) => f.message.startsWith('rules.parse-incomplete:')));
    assert.deepEqual(out.findings.filter((f) => f.rule === 'uapi-non-fixed-type').map((f) => f.severity), ['error', 'error'], 'the valid severity applies');
  } finally {
    rmSync(root, { recursive: true });
  }
});
