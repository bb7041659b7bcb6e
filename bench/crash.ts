/**
 * Crash safety under load (issue 9), the long run: `node --import tsx bench/crash.ts
 * --flows 1000 --kills 5 [--seed N] [--concurrency 8]`. Drives device flows against
 * `kalm serve` in a child process (approvals half through core in this process, half
 * through the verification page's forms as a person would), SIGKILLs it at seeded
 * random moments, restarts it on the same data dir and checks that no acknowledged approval, rotation or revocation was
 * lost, that no device code was redeemed twice and that SQLite's integrity check passes.
 * Exit code 1 when any promise was broken. The short version runs in `npm test`
 * (test/reliability/crash-safety.test.ts).
 */
import { parseArgs } from 'node:util';
import { runCrashScenario } from '../test/reliability/support/crash-run.js';
import { chooseSeed } from '../test/reliability/support/random.js';

const { values } = parseArgs({
  options: {
    flows: { type: 'string', default: '1000' },
    kills: { type: 'string', default: '5' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
  },
});
const seed = chooseSeed(values.seed);
console.log(`crash safety: ${values.flows} flows, ${values.kills} kills, seed ${seed} (replay with --seed ${seed})`);
const report = await runCrashScenario({
  flows: Number(values.flows),
  kills: Number(values.kills),
  concurrency: Number(values.concurrency),
  seed,
  log: (line) => console.log(`  ${line}`),
});
const { violations, restartMs, ...figures } = report;
console.log(JSON.stringify({ ...figures, restartMs, violations: violations.length }, null, 2));
for (const v of violations.slice(0, 50)) console.log(`VIOLATION ${v}`);
console.log(violations.length === 0 ? 'crash safety: every promise kept' : `crash safety: ${violations.length} broken promises`);
process.exitCode = violations.length === 0 ? 0 : 1;
