// b4's two check protocols (https://b4.docs.kernel.org):
//  - `b4.am-perpatch-check-cmd` (and prep-/review-perpatch-check-cmd): the command reads one patch
//    mail on stdin; every stdout line is a finding, 'fail' when it contains `ERROR:`, else
//    'warning'; nothing on stdout and exit 0 means the patch passed. Anything on stderr is a
//    failure, so this format never writes there.
//  - `b4 review`'s external check tools: a JSON array of { tool, status: pass|warn|fail, summary,
//    url?, details? } on stdout.
// Notes (info, hint) are left out of both: b4 would show every note as a warning.
import { ruleDocUrl } from '../engine/rules/rule';
import type { Finding } from '../engine/types';

const TOOL = 'vfio-review';

function reported(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.severity === 'error' || f.severity === 'warning');
}

function oneLine(text: string): string {
  // Each blank run holding a line break becomes one space (matching runs whole: a `\s*` before the
  // break would rescan a long run of spaces from each of them).
  return text.replace(/\s+/g, (blank) => (/[\r\n]/.test(blank) ? ' ' : blank));
}

/** checkpatch-like terse lines: `ERROR: rule: message` (the message starts with the patched file:line). */
export function formatB4(findings: Finding[]): string {
  return reported(findings).map((f) => `${f.severity === 'error' ? 'ERROR' : 'WARNING'}: ${f.rule}: ${oneLine(f.message)}\n`).join('');
}

export interface B4ReviewResult {
  tool: string;
  status: 'pass' | 'warn' | 'fail';
  summary: string;
  url?: string;
  details?: string;
}

export function toB4Review(findings: Finding[], docsBase?: string): B4ReviewResult[] {
  const list = reported(findings);
  const errors = list.filter((f) => f.severity === 'error').length;
  const warnings = list.length - errors;
  if (list.length === 0) return [{ tool: TOOL, status: 'pass', summary: 'no new ABI, lock, flag or union problems' }];
  const parts = [];
  if (errors) parts.push(`${errors} error${errors === 1 ? '' : 's'}`);
  if (warnings) parts.push(`${warnings} warning${warnings === 1 ? '' : 's'}`);
  const result: B4ReviewResult = {
    tool: TOOL,
    status: errors ? 'fail' : 'warn',
    summary: `${parts.join(', ')}: ${oneLine(list[0].message)}`,
    details: list.map((f) => `${f.severity}: ${oneLine(f.message)} [${f.rule}]`).join('\n'),
  };
  if (docsBase) result.url = ruleDocUrl(docsBase, list[0].rule);
  return [result];
}

export function formatB4Review(findings: Finding[], docsBase?: string): string {
  return JSON.stringify(toB4Review(findings, docsBase), null, 2) + '\n';
}
