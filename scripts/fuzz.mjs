// npm run fuzz -- --seconds N [--seed S] [--target T[,T...]] [--guard-ms MS] [--no-save]
//
// Fuzzes each target (all by default) for N seconds, longer than the test suite does, and saves
// each failing input as a regression fixture, test/fixtures/fuzz/<target>/<hash>.<c|h|patch>, which
// test/fuzz.test.mjs replays on every run. Exit status 1 when an input failed.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FIXTURES_DIR, DEFAULT_GUARD_MS, fuzzTarget } from '../test/fuzz/harness.mjs';
import { seedFromEnv } from '../test/fuzz/mutate.mjs';
import { TARGET_NAMES } from '../test/fuzz/targets.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    seed: { type: 'string' },
    target: { type: 'string', multiple: true },
    'guard-ms': { type: 'string' },
    'no-save': { type: 'boolean', default: false },
  },
});

const seconds = Number(values.seconds);
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, not ${values.seconds}`);
const seed = values.seed !== undefined ? seedFromEnv({ VFIO_REVIEW_FUZZ_SEED: values.seed }) : seedFromEnv();
const targets = values.target?.flatMap((t) => t.split(',')) ?? TARGET_NAMES;
const guardMs = values['guard-ms'] ? Number(values['guard-ms']) : DEFAULT_GUARD_MS;

console.log(`fuzzing ${targets.join(', ')} for ${seconds} s each; seed ${seed} (VFIO_REVIEW_FUZZ_SEED=${seed} or --seed ${seed} replays it)`);
let failed = 0;
for (const target of targets) {
  const result = await fuzzTarget(target, {
    seed,
    seconds,
    guardMs,
    log: (line) => console.log(line),
    onFailure(failure) {
      if (values['no-save']) return;
      const dir = path.join(FIXTURES_DIR, target);
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${failure.hash}${failure.ext}`);
      writeFileSync(file, failure.bytes);
      console.log(`  saved ${path.relative(process.cwd(), file)}`);
    },
  });
  failed += result.failures.length;
  console.log(
    `${target}: ${result.inputs} inputs (${result.fixtures} fixtures), ${result.calls} calls in ${result.seconds.toFixed(1)} s; ` +
      `${result.failures.length} failing; slowest call ${result.slowestMs.toFixed(0)} ms (${result.slowestCall}, input: ${result.slowestInput})`,
  );
}
process.exitCode = failed ? 1 : 0;
