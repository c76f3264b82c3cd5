// The CLI's JSON findings format (version 1): positions 1-based, files relative to a base
// directory. `endColumn` is exclusive, like SARIF's: the column just after the last character.
import path from 'node:path';
import type { Finding, Position } from '../engine/types';

export interface JsonRelated {
  file: string;
  line: number;
  column: number;
  message: string;
}

export interface JsonFinding {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: Finding['severity'];
  rule: string;
  message: string;
  related: JsonRelated[];
}

export interface JsonFindings {
  version: 1;
  findings: JsonFinding[];
}

/** A path as shown to the user: relative to `baseDir` with `/` separators. */
export function relativePath(file: string, baseDir: string): string {
  const relative = path.relative(baseDir, file) || '.';
  return relative.split(path.sep).join('/');
}

export const oneBased = (position: Position) => ({ line: position.line + 1, column: position.character + 1 });

export function toJsonFinding(finding: Finding, baseDir: string): JsonFinding {
  const start = oneBased(finding.range.start);
  const end = oneBased(finding.range.end);
  return {
    file: relativePath(finding.file, baseDir),
    line: start.line,
    column: start.column,
    endLine: end.line,
    endColumn: end.column,
    severity: finding.severity,
    rule: finding.rule,
    message: finding.message,
    related: (finding.related ?? []).map((related) => ({
      file: relativePath(related.file, baseDir),
      ...oneBased(related.range.start),
      message: related.message,
    })),
  };
}

export function formatJson(findings: Finding[], baseDir: string): string {
  const document: JsonFindings = { version: 1, findings: findings.map((finding) => toJsonFinding(finding, baseDir)) };
  return JSON.stringify(document, null, 2) + '\n';
}
