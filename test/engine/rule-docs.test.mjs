// Every diagnostic links to its rule's page (codeDescription, SARIF helpUri): the page must exist,
// have a bad and a good example, and name the rule's default severity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RULES } from '../../dist/engine.js';

const docs = path.join(path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url)))), 'docs/rules');

test('every rule has a docs page with examples and its default severity', () => {
  const missing = [];
  for (const rule of RULES) {
    const page = path.join(docs, `${rule.id}.md`);
    if (!existsSync(page)) {
      missing.push(`${rule.id}: no page`);
      continue;
    }
    const text = readFileSync(page, 'utf8');
    if (!text.startsWith(`# ${rule.id}`)) missing.push(`${rule.id}: title`);
    if (!/```/.test(text)) missing.push(`${rule.id}: no example`);
    if (!new RegExp(`\\b${rule.defaultSeverity}\\b`, 'i').test(text)) missing.push(`${rule.id}: default severity ${rule.defaultSeverity} not stated`);
  }
  assert.deepEqual(missing, []);
});

test('the README lists every rule with its page', () => {
  const readme = readFileSync(path.join(docs, '..', '..', 'README.md'), 'utf8');
  assert.deepEqual(RULES.filter((r) => !readme.includes(`(docs/rules/${r.id}.md)`)).map((r) => r.id), []);
});
