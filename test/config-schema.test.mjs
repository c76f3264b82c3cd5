// schemas/vfio-review.schema.json and the hand-written validation of .vfio-review.json
// (config-file.ts, parseProjectConfig) must agree on what is valid: each configuration below is
// checked by both. Checks across entries (conflicts, a key given twice) cannot be said in a JSON
// schema: those configurations are valid for the schema and reported by vfio-review only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import { parseProjectConfig } from '../dist/engine.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const schema = JSON.parse(readFileSync(path.join(here, '../schemas/vfio-review.schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
const FILE = '/tree/.vfio-review.json';
const parse = (config) => parseProjectConfig(JSON.stringify(config, null, 2), FILE);

const field = 'struct vfio_pci_hot_reset_info.flags';
const disc = { union: 'struct vfio_pci_dependent_device', member: 'devid', flag: 'VFIO_PCI_HOT_RESET_FLAG_DEV_ID', field };

const valid = {
  'empty object': {},
  '$schema only': { $schema: './schemas/vfio-review.schema.json' },
  'every key': {
    $schema: 'x',
    flags: {
      bindings: { 'VFIO_PCI_HOT_RESET_FLAG_*': field, VFIO_IRQ_INFO_EVENTFD: 'struct vfio_irq_info.flags', '*_X': 'union u.a.b' },
      dependencies: { VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED: 'VFIO_PCI_HOT_RESET_FLAG_DEV_ID', A: ['B', 'C'] },
    },
    unions: { discriminants: [disc, { ...disc, member: 'group_id', when: 'clear' }] },
    rules: { 'flag-overlap': 'warning', 'uapi-implicit-padding': 'off', 'not-a-rule-yet': 'hint' },
    ignore: ['drivers/vfio/pci/mlx5/**', 'include/uapi/linux/vfio_ccw.h'],
  },
  'empty sections': { flags: {}, unions: {}, rules: {}, ignore: [] },
  'empty maps': { flags: { bindings: {}, dependencies: {} }, unions: { discriminants: [] } },
  'when set': { unions: { discriminants: [{ ...disc, when: 'set' }] } },
  'nested member path': { flags: { bindings: { X_Y: 'struct s.u.flags' } } },
};

const invalid = {
  'not an object': [],
  'a string': 'flags',
  'null': null,
  'unknown top-level key': { run: 'make' },
  'unknown key in flags': { flags: { extra: 1 } },
  'unknown key in unions': { unions: { members: [] } },
  'unknown key in a discriminant': { unions: { discriminants: [{ ...disc, note: 'x' }] } },
  'flags not an object': { flags: [] },
  'bindings not an object': { flags: { bindings: ['X'] } },
  'binding to a bare member': { flags: { bindings: { X: 'flags' } } },
  'binding to an enum': { flags: { bindings: { X: 'enum e.flags' } } },
  'binding key not a name': { flags: { bindings: { 'X-Y': field } } },
  'binding key with a space': { flags: { bindings: { 'X Y': field } } },
  'binding not a string': { flags: { bindings: { X: 3 } } },
  'binding with two spaces': { flags: { bindings: { X: 'struct  s.flags' } } },
  'dependencies not an object': { flags: { dependencies: 'A' } },
  'dependency on a number': { flags: { dependencies: { A: 1 } } },
  'dependency list empty': { flags: { dependencies: { A: [] } } },
  'dependency list with a bad name': { flags: { dependencies: { A: ['B', 'C D'] } } },
  'dependency key a glob': { flags: { dependencies: { 'A*': 'B' } } },
  'unions not an object': { unions: 1 },
  'discriminants not a list': { unions: { discriminants: disc } },
  'discriminant not an object': { unions: { discriminants: ['x'] } },
  'discriminant without field': { unions: { discriminants: [{ union: disc.union, member: 'devid', flag: 'F' }] } },
  'discriminant union without tag': { unions: { discriminants: [{ ...disc, union: 'vfio_pci_dependent_device' }] } },
  'discriminant member a path': { unions: { discriminants: [{ ...disc, member: 'a.b' }] } },
  'discriminant when other': { unions: { discriminants: [{ ...disc, when: 'true' }] } },
  'rules not an object': { rules: ['flag-overlap'] },
  'rules with a bad severity': { rules: { 'flag-overlap': 'loud' } },
  'rules with a number': { rules: { 'flag-overlap': 2 } },
  'ignore not a list': { ignore: 'drivers/**' },
  'ignore with an empty glob': { ignore: [''] },
  'ignore with a number': { ignore: [1] },
};

// Valid for the schema, reported by vfio-review: checks across entries.
const crossEntry = {
  'exact name and glob bound to different members': [{ flags: { bindings: { 'X_*': 'struct a.flags', X_Y: 'struct b.flags' } } }, 'flags.bindings.X_Y'],
  'a flag requiring itself': [{ flags: { dependencies: { A: 'A' } } }, 'flags.dependencies.A'],
  'two flags requiring each other': [{ flags: { dependencies: { A: 'B', B: ['A'] } } }, 'flags.dependencies.A'],
  'one union member selected by two flags': [{ unions: { discriminants: [disc, { ...disc, flag: 'OTHER' }] } }, 'unions.discriminants[1]'],
};

for (const [name, config] of Object.entries(valid)) {
  test(`valid for both: ${name}`, () => {
    assert.equal(validate(config), true, JSON.stringify(validate.errors));
    assert.deepEqual(parse(config).problems, []);
  });
}

for (const [name, config] of Object.entries(invalid)) {
  test(`invalid for both: ${name}`, () => {
    assert.equal(validate(config), false, 'the schema accepts it');
    const problems = parse(config).problems;
    assert.ok(problems.length > 0, 'parseProjectConfig accepts it');
    for (const p of problems) assert.equal(p.file, FILE);
  });
}

test('unknown keys: both reject them, at every level, and vfio-review names the dotted key', () => {
  const cases = [
    [{ severities: { 'flag-overlap': 'off' } }, 'severities'],
    [{ flags: { binding: {} } }, 'flags.binding'],
    [{ unions: { discriminant: [] } }, 'unions.discriminant'],
    [{ unions: { discriminants: [{ ...disc, active: 'set' }] } }, 'unions.discriminants[0].active'],
  ];
  for (const [config, key] of cases) {
    assert.equal(validate(config), false, key);
    assert.ok(validate.errors.some((e) => e.keyword === 'additionalProperties'), key);
    const problems = parse(config).problems;
    assert.deepEqual(problems.map((p) => p.key), [key]);
    assert.match(problems[0].message, /^unknown key '/);
  }
});

for (const [name, [config, key]] of Object.entries(crossEntry)) {
  test(`across entries, vfio-review only: ${name}`, () => {
    assert.equal(validate(config), true, 'a JSON schema cannot compare entries');
    assert.deepEqual(parse(config).problems.map((p) => p.key), [key]);
    assert.match(parse(config).problems[0].message, /conflicts|cannot require itself/);
  });
}

test('the schema names every key config-file.ts knows', () => {
  assert.deepEqual(Object.keys(schema.properties).sort(), ['$schema', 'flags', 'ignore', 'rules', 'unions']);
  assert.deepEqual(Object.keys(schema.properties.flags.properties).sort(), ['bindings', 'dependencies']);
  assert.deepEqual(Object.keys(schema.properties.unions.properties), ['discriminants']);
  assert.deepEqual(Object.keys(schema.properties.unions.properties.discriminants.items.properties).sort(), ['field', 'flag', 'member', 'union', 'when']);
});
