// GitHub Actions workflow commands: `::warning file=...,line=...::message` lines that the runner
// turns into annotations on the pull request. Escaping follows the runner's own rules: data
// escapes %, \r and \n; property values additionally escape : and , (they delimit properties).
import type { Finding, Severity } from '../engine/types';
import { oneBased, relativePath } from './json';

const COMMAND: Record<Severity, string> = { error: 'error', warning: 'warning', info: 'notice', hint: 'notice' };

export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

export function formatGithub(findings: Finding[], baseDir: string): string {
  const lines = findings.map((finding) => {
    const start = oneBased(finding.range.start);
    const end = oneBased(finding.range.end);
    const properties = [
      `file=${escapeProperty(relativePath(finding.file, baseDir))}`,
      `line=${start.line}`,
      `col=${start.column}`,
      `endLine=${end.line}`,
      `endColumn=${end.column}`,
      `title=${escapeProperty(finding.rule)}`,
    ].join(',');
    // Related locations have no place in an annotation; they go into its text.
    const related = (finding.related ?? []).map((r) => {
      const at = oneBased(r.range.start);
      return `\n${relativePath(r.file, baseDir)}:${at.line}:${at.column}: ${r.message}`;
    });
    return `::${COMMAND[finding.severity]} ${properties}::${escapeData(finding.message + related.join(''))}`;
  });
  return lines.length ? lines.join('\n') + '\n' : '';
}
