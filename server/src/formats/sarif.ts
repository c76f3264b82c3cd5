// SARIF 2.1.0, the format code-scanning services (GitHub, Azure DevOps, IDE viewers) import.
// Files under the base directory get URIs relative to %SRCROOT% so the log does not depend on
// where the tree was checked out; the others keep an absolute file: URI.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Sarif from 'sarif';
import type { RuleInfo } from '../engine/api';
import { ruleDocUrl } from '../engine/rules/rule';
import type { Finding, Range, Severity, SeveritySetting } from '../engine/types';

export interface SarifOptions {
  baseDir: string;
  /** Every rule the tool can report, in the order they are to be listed. */
  rules: RuleInfo[];
  toolVersion: string;
  /** Base URI of the rule pages (`<docsBase>/<rule>.md`); no helpUri without it. */
  docsBase?: string;
}

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
const SRCROOT = '%SRCROOT%';

const LEVEL: Record<Severity, Sarif.Result.level> = { error: 'error', warning: 'warning', info: 'note', hint: 'note' };

function defaultConfiguration(severity: SeveritySetting): Sarif.ReportingConfiguration {
  return severity === 'off' ? { enabled: false, level: 'none' } : { level: LEVEL[severity] };
}

function artifactLocation(file: string, baseDir: string): Sarif.ArtifactLocation {
  const relative = path.relative(baseDir, file);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
    return { uri: pathToFileURL(file).href };
  }
  return { uri: relative.split(path.sep).map(encodeURIComponent).join('/'), uriBaseId: SRCROOT };
}

// SARIF regions are 1-based with an exclusive end column, i.e. LSP positions plus one.
function region(range: Range): Sarif.Region {
  return {
    startLine: range.start.line + 1,
    startColumn: range.start.character + 1,
    endLine: range.end.line + 1,
    endColumn: range.end.character + 1,
  };
}

function ruleDescriptor(rule: RuleInfo, docsBase: string | undefined): Sarif.ReportingDescriptor {
  const descriptor: Sarif.ReportingDescriptor = {
    id: rule.id,
    shortDescription: { text: rule.summary },
    defaultConfiguration: defaultConfiguration(rule.defaultSeverity),
  };
  // `(?<!\/)`: only the first slash of a run is tried, so a long run is not rescanned from each slash.
  if (docsBase) descriptor.helpUri = ruleDocUrl(docsBase, rule.id);
  return descriptor;
}

export function toSarifLog(findings: Finding[], options: SarifOptions): Sarif.Log {
  const ruleIndex = new Map(options.rules.map((rule, index) => [rule.id, index]));
  const results = findings.map((finding): Sarif.Result => {
    const result: Sarif.Result = {
      ruleId: finding.rule,
      level: LEVEL[finding.severity],
      message: { text: finding.message },
      locations: [{ physicalLocation: { artifactLocation: artifactLocation(finding.file, options.baseDir), region: region(finding.range) } }],
    };
    const index = ruleIndex.get(finding.rule);
    if (index !== undefined) result.ruleIndex = index;
    if (finding.related?.length) {
      result.relatedLocations = finding.related.map((related, id) => ({
        id,
        physicalLocation: { artifactLocation: artifactLocation(related.file, options.baseDir), region: region(related.range) },
        message: { text: related.message },
      }));
    }
    return result;
  });
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'vfio-review',
            version: options.toolVersion,
            rules: options.rules.map((rule) => ruleDescriptor(rule, options.docsBase)),
          },
        },
        // `(?<!\/)`: only the first slash of a run is tried, so a long run is not rescanned from each slash.
        originalUriBaseIds: { [SRCROOT]: { uri: pathToFileURL(options.baseDir.replace(/(?<!\/)\/*$/, '/')).href } },
        columnKind: 'utf16CodeUnits',
        results,
      },
    ],
  };
}

export function formatSarif(findings: Finding[], options: SarifOptions): string {
  return JSON.stringify(toSarifLog(findings, options), null, 2) + '\n';
}
