// gcc-style diagnostics, one per line, which editors and `make` wrappers already know how to
// jump to: `file:line:col: warning: message [rule]`, related locations as `note:` lines after it.
import type { Finding, Severity } from '../engine/types';
import { oneBased, relativePath } from './json';

// gcc has no "info" or "hint" level; "note" is what it prints for supplementary messages.
const GCC_LEVEL: Record<Severity, string> = { error: 'error', warning: 'warning', info: 'note', hint: 'note' };

// A message must stay on its line, or the next line would read as a new diagnostic.
const oneLine = (text: string) => text.replace(/\r?\n/g, ' ');

export function formatGcc(findings: Finding[], baseDir: string): string {
  const lines: string[] = [];
  for (const finding of findings) {
    const start = oneBased(finding.range.start);
    const file = relativePath(finding.file, baseDir);
    lines.push(`${file}:${start.line}:${start.column}: ${GCC_LEVEL[finding.severity]}: ${oneLine(finding.message)} [${finding.rule}]`);
    for (const related of finding.related ?? []) {
      const at = oneBased(related.range.start);
      lines.push(`${relativePath(related.file, baseDir)}:${at.line}:${at.column}: note: ${oneLine(related.message)}`);
    }
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}
