// Unit tests of the output formats on constructed findings and layouts, through the bundled CLI
// (dist/cli.js re-exports the pure format functions). SARIF is validated against the SARIF 2.1.0
// JSON schema as shipped by @microsoft/jest-sarif, with ajv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';

const require = createRequire(import.meta.url);
const cli = require('../dist/cli.js');

const base = path.resolve('/work/tree');
const at = (file) => path.join(base, file);
const range = (line, character, endLine, endCharacter) => ({
  start: { line, character },
  end: { line: endLine, character: endCharacter },
});

/** Findings as the engine hands them over: absolute files, 0-based positions. */
const findings = [
  {
    file: at('include/uapi/linux/vfio.h'),
    range: range(16, 7, 16, 8),
    severity: 'error',
    rule: 'uapi-arch-dependent-layout',
    message: "member 'b' is at offset 8 on x86_64, 4 on i386",
    related: [{ file: at('include/uapi/linux/types.h'), range: range(2, 0, 2, 10), message: '__u64 is defined here' }],
  },
  {
    file: at('drivers/vfio/pci/vfio_pci_core.c'),
    range: range(0, 0, 0, 5),
    severity: 'warning',
    rule: 'uapi-implicit-padding',
    message: '100% of 4 bytes: hole\r\nsecond line',
  },
  {
    file: at('odd, name: x.h'),
    range: range(3, 2, 4, 1),
    severity: 'info',
    rule: 'input-skipped',
    message: 'Not analysed: binary file.',
  },
];

const rules = [
  { id: 'uapi-arch-dependent-layout', defaultSeverity: 'error', summary: 'Layout differs between ABIs.' },
  { id: 'uapi-implicit-padding', defaultSeverity: 'warning', summary: 'Implicit padding.' },
  { id: 'input-skipped', defaultSeverity: 'info', summary: 'Input not analysed.' },
  { id: 'disabled-rule', defaultSeverity: 'off', summary: 'Off by default.' },
];

test('json: version 1, files relative to the base, 1-based positions, related locations', () => {
  const doc = JSON.parse(cli.formatJson(findings, base));
  assert.equal(doc.version, 1);
  assert.deepEqual(Object.keys(doc), ['version', 'findings']);
  assert.deepEqual(doc.findings[0], {
    file: 'include/uapi/linux/vfio.h',
    line: 17,
    column: 8,
    endLine: 17,
    endColumn: 9,
    severity: 'error',
    rule: 'uapi-arch-dependent-layout',
    message: "member 'b' is at offset 8 on x86_64, 4 on i386",
    related: [{ file: 'include/uapi/linux/types.h', line: 3, column: 1, message: '__u64 is defined here' }],
  });
  assert.deepEqual(doc.findings[1].related, [], 'related is always present');
  assert.equal(doc.findings[2].endLine, 5);
  assert.equal(doc.findings[2].endColumn, 2);
});

test('json: files outside the base directory get a relative path with ..', () => {
  const doc = JSON.parse(cli.formatJson([{ ...findings[0], related: [] }], path.join(base, 'drivers')));
  assert.equal(doc.findings[0].file, '../include/uapi/linux/vfio.h');
});

test('json: no findings is an empty list', () => {
  assert.deepEqual(JSON.parse(cli.formatJson([], base)), { version: 1, findings: [] });
});

test('gcc: file:line:col: level: message [rule], notes for related locations', () => {
  const lines = cli.formatGcc(findings, base).split('\n');
  assert.equal(lines[0], "include/uapi/linux/vfio.h:17:8: error: member 'b' is at offset 8 on x86_64, 4 on i386 [uapi-arch-dependent-layout]");
  assert.equal(lines[1], 'include/uapi/linux/types.h:3:1: note: __u64 is defined here');
  // A line break in a message must not start a new diagnostic line.
  assert.equal(lines[2], 'drivers/vfio/pci/vfio_pci_core.c:1:1: warning: 100% of 4 bytes: hole second line [uapi-implicit-padding]');
  // gcc knows no "info": it becomes a note.
  assert.equal(lines[3], 'odd, name: x.h:4:3: note: Not analysed: binary file. [input-skipped]');
  assert.equal(lines[4], '');
  assert.equal(lines.length, 5);
  assert.equal(cli.formatGcc([], base), '');
});

test('github: escaping of data and of property values', () => {
  assert.equal(cli.escapeData('100% a\r\nb: c, d'), '100%25 a%0D%0Ab: c, d');
  assert.equal(cli.escapeProperty('100% a\r\nb: c, d'), '100%25 a%0D%0Ab%3A c%2C d');
});

test('github: one workflow command per finding with 1-based positions', () => {
  const lines = cli.formatGithub(findings, base).trimEnd().split('\n');
  assert.equal(lines.length, 3, 'related locations and line breaks never add lines');
  assert.equal(
    lines[0],
    "::error file=include/uapi/linux/vfio.h,line=17,col=8,endLine=17,endColumn=9,title=uapi-arch-dependent-layout::member 'b' is at offset 8 on x86_64, 4 on i386%0Ainclude/uapi/linux/types.h:3:1: __u64 is defined here",
  );
  assert.equal(
    lines[1],
    '::warning file=drivers/vfio/pci/vfio_pci_core.c,line=1,col=1,endLine=1,endColumn=6,title=uapi-implicit-padding::100%25 of 4 bytes: hole%0D%0Asecond line',
  );
  assert.equal(lines[2], '::notice file=odd%2C name%3A x.h,line=4,col=3,endLine=5,endColumn=2,title=input-skipped::Not analysed: binary file.');
});

function sarifValidator() {
  const schemaPath = require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
  // The schema is draft-04 and one of its patterns is not valid as a Unicode-mode RegExp.
  const ajv = new Ajv04({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  return ajv.compile(schema);
}

test('sarif: valid against the SARIF 2.1.0 schema', () => {
  const validate = sarifValidator();
  const log = JSON.parse(cli.formatSarif(findings, { baseDir: base, rules, toolVersion: '1.2.3', docsBase: 'https://example.org/docs/rules/' }));
  assert.ok(validate(log), JSON.stringify(validate.errors, null, 2));
  const empty = JSON.parse(cli.formatSarif([], { baseDir: base, rules: [], toolVersion: '1.2.3' }));
  assert.ok(validate(empty), JSON.stringify(validate.errors, null, 2));
});

test('sarif: the validator does reject a broken log', () => {
  const validate = sarifValidator();
  const log = cli.toSarifLog(findings, { baseDir: base, rules, toolVersion: '1.2.3' });
  log.runs[0].results[0].level = 'fatal';
  log.runs[0].results[0].locations[0].physicalLocation.region.startLine = 0;
  assert.equal(validate(log), false);
  assert.equal(validate.errors.length, 2);
});

test('sarif: driver, rules, results, 1-based regions, %SRCROOT%-relative URIs', () => {
  const log = cli.toSarifLog(findings, { baseDir: base, rules, toolVersion: '1.2.3', docsBase: 'https://example.org/docs/rules/' });
  assert.equal(log.version, '2.1.0');
  const [run] = log.runs;
  assert.equal(run.tool.driver.name, 'vfio-review');
  assert.equal(run.tool.driver.version, '1.2.3');
  assert.deepEqual(run.tool.driver.rules[0], {
    id: 'uapi-arch-dependent-layout',
    shortDescription: { text: 'Layout differs between ABIs.' },
    defaultConfiguration: { level: 'error' },
    helpUri: 'https://example.org/docs/rules/uapi-arch-dependent-layout.md',
  });
  assert.deepEqual(run.tool.driver.rules[2].defaultConfiguration, { level: 'note' });
  assert.deepEqual(run.tool.driver.rules[3].defaultConfiguration, { enabled: false, level: 'none' });
  assert.equal(run.originalUriBaseIds['%SRCROOT%'].uri, 'file:///work/tree/');

  const [first, second, third] = run.results;
  assert.equal(first.ruleId, 'uapi-arch-dependent-layout');
  assert.equal(first.ruleIndex, 0);
  assert.equal(first.level, 'error');
  assert.deepEqual(first.message, { text: "member 'b' is at offset 8 on x86_64, 4 on i386" });
  assert.deepEqual(first.locations, [
    {
      physicalLocation: {
        artifactLocation: { uri: 'include/uapi/linux/vfio.h', uriBaseId: '%SRCROOT%' },
        region: { startLine: 17, startColumn: 8, endLine: 17, endColumn: 9 },
      },
    },
  ]);
  assert.deepEqual(first.relatedLocations, [
    {
      id: 0,
      physicalLocation: {
        artifactLocation: { uri: 'include/uapi/linux/types.h', uriBaseId: '%SRCROOT%' },
        region: { startLine: 3, startColumn: 1, endLine: 3, endColumn: 11 },
      },
      message: { text: '__u64 is defined here' },
    },
  ]);
  assert.equal(second.level, 'warning');
  assert.equal(second.relatedLocations, undefined);
  assert.equal(third.level, 'note');
  assert.equal(third.locations[0].physicalLocation.artifactLocation.uri, 'odd%2C%20name%3A%20x.h');
});

test('sarif: a file outside the base directory keeps an absolute file URI', () => {
  const log = cli.toSarifLog([{ ...findings[1], file: '/elsewhere/a.c' }], { baseDir: base, rules, toolVersion: '1' });
  assert.deepEqual(log.runs[0].results[0].locations[0].physicalLocation.artifactLocation, { uri: 'file:///elsewhere/a.c' });
  assert.equal(log.runs[0].results[0].ruleIndex, 1);
});

// A layout report as the engine produces it: absolute files, 0-based lines, bit offsets counted
// from the start of the type.
const member = (path, type, offset, size, extra = {}) => ({ path, type, offset, size, align: size, line: 10, character: 1, depth: 0, ...extra });
const layoutType = (name, size, align, members, holes, extra = {}) => ({
  name,
  kind: 'struct',
  file: at('include/uapi/linux/vfio.h'),
  line: 41,
  character: 7,
  endLine: 50,
  size,
  align,
  packed: false,
  members,
  holes,
  unknown: [],
  ...extra,
});
const report = {
  version: 1,
  arches: {
    x86_64: {
      types: [
        layoutType('struct vfio_x', 24, 8, [
          member('a', '__u32', 0, 4),
          member('b', '__u64', 8, 8),
          member('flags', '__u32', 16, 4, { bitOffset: 16 * 8 + 3, bitSize: 5 }),
          member('data', '__u8[]', 20, 0, { flexible: true }),
        ], [
          { offset: 4, size: 4, after: 'a' },
          { offset: 20, size: 4, tail: true },
        ]),
        layoutType('struct vfio_opaque', null, null, [member('p', 'struct unknown_thing', null, null, { unknown: "'struct unknown_thing' is not defined" })], [], {
          unknown: ["'struct unknown_thing' is not defined"],
        }),
      ],
    },
    i386: {
      types: [
        layoutType('struct vfio_x', 20, 4, [
          member('a', '__u32', 0, 4),
          member('b', '__u64', 4, 8),
          member('flags', '__u32', 12, 4, { bitOffset: 12 * 8 + 3, bitSize: 5 }),
          member('data', '__u8[]', 16, 0, { flexible: true }),
        ], [{ offset: 16, size: 4, tail: true }]),
      ],
    },
  },
};

test('layout json: the documented contract, optional fields only when set', () => {
  const doc = JSON.parse(cli.formatLayoutJson(report, base));
  assert.equal(doc.version, 1);
  assert.deepEqual(Object.keys(doc.arches), ['x86_64', 'i386']);
  const x = doc.arches.x86_64.types[0];
  assert.deepEqual(x, {
    name: 'struct vfio_x',
    kind: 'struct',
    file: 'include/uapi/linux/vfio.h',
    line: 42,
    size: 24,
    align: 8,
    members: [
      { path: 'a', type: '__u32', offset: 0, size: 4 },
      { path: 'b', type: '__u64', offset: 8, size: 8 },
      { path: 'flags', type: '__u32', offset: 16, size: 4, bitOffset: 131, bitSize: 5 },
      { path: 'data', type: '__u8[]', offset: 20, size: 0, flexible: true },
    ],
    holes: [
      { offset: 4, size: 4 },
      { offset: 20, size: 4, tail: true },
    ],
  });
  const opaque = doc.arches.x86_64.types[1];
  assert.equal(opaque.size, null);
  assert.deepEqual(opaque.unknown, ["'struct unknown_thing' is not defined"]);
  assert.equal(opaque.members[0].unknown, "'struct unknown_thing' is not defined");
  assert.equal(doc.arches.i386.types[0].members[1].offset, 4);
});

test('layout text: members, holes, bit-fields, summary and differences between ABIs', () => {
  const text = cli.formatLayoutText(report, base);
  const sections = text.split('/* arch: ');
  assert.equal(sections.length, 3);
  const x86 = sections[1];
  assert.match(x86, /^x86_64 \*\//);
  assert.match(x86, /\/\* include\/uapi\/linux\/vfio\.h:42 \*\/\nstruct vfio_x \{\n/);
  assert.match(x86, /\t__u32 +a; +\/\* +0 +4 \*\/\n\t\/\* XXX 4 bytes hole, try to pack \*\/\n\t__u64 +b; +\/\* +8 +8 \*\//);
  assert.match(x86, /\/\* differs: x86_64 offset 8, i386 offset 4 \*\//);
  assert.match(x86, /\t__u32 +flags:5; +\/\* +16:3 +4 \*\//);
  assert.match(x86, /\t__u8 +data\[\]; +\/\* +20 +0 flexible array \*\//);
  assert.match(x86, /\/\* size: 24, align: 8, members: 4, holes: 1, sum holes: 4, padding: 4 \*\//);
  assert.match(x86, /\/\* differs: x86_64 size 24, i386 size 20 \*\//);
  assert.match(x86, /\/\* differs: x86_64 align 8, i386 align 4 \*\//);
  assert.match(x86, /\/\* +\? +\? unknown: 'struct unknown_thing' is not defined \*\//);
  assert.match(x86, /\/\* size: unknown \('struct unknown_thing' is not defined\), align: \?/);
  const i386 = sections[2];
  assert.doesNotMatch(i386, /XXX/);
  assert.match(i386, /\/\* size: 20, align: 4, members: 4, holes: 0, sum holes: 0, padding: 4 \*\//);
  assert.match(i386, /\/\* differs: x86_64 offset 8, i386 offset 4 \*\//);
});

test('layout text: a single ABI has no differences to report', () => {
  const text = cli.formatLayoutText({ version: 1, arches: { i386: report.arches.i386 } }, base);
  assert.doesNotMatch(text, /differs/);
  const empty = cli.formatLayoutText({ version: 1, arches: { arm: { types: [] } } }, base);
  assert.equal(empty, '/* arch: arm */\n/* no struct or union types */\n');
});
