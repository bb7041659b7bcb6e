/**
 * `npm run bench` runs every scenario; `npm run bench -- pending-poll refresh` runs some.
 * Servers and load generators each run in their own process on 127.0.0.1; every run is
 * bounded in time. Prints a table and writes bench/results/bench-<time>.json.
 */
import { SETTINGS } from './lib/alternate.js';
import { ENGINE, engineLabel, withEngine } from './lib/engine.js';
import { machineInfo } from './lib/machine.js';
import { formatTable, writeResults } from './lib/report.js';
import type { Scenario, ScenarioResult } from './lib/scenario.js';
import { approveToToken } from './scenarios/approve-to-token.js';
import { bundleSize } from './scenarios/bundle-size.js';
import { deviceAuthorization } from './scenarios/device-authorization.js';
import { pendingPoll } from './scenarios/pending-poll.js';
import { refresh } from './scenarios/refresh.js';

const SCENARIOS: Scenario[] = [deviceAuthorization, pendingPoll, approveToToken, refresh, bundleSize];

function pick(args: string[]): Scenario[] {
  if (args.length === 0) return SCENARIOS;
  return args.map((arg) => {
    const found = SCENARIOS.find((s) => s.name === arg || s.name.replace(/-/g, '_') === arg);
    if (!found) {
      console.error(`unknown scenario "${arg}"; one of: ${SCENARIOS.map((s) => s.name).join(', ')}`);
      process.exit(2);
    }
    return found;
  });
}

/** The store ours ran on, for the report's first line. */
function engineDescription(): string {
  if (ENGINE.store === 'sqlite') return 'ours on SQLite (WAL, group commit)';
  return `ours on PostgreSQL (fsync on), ${ENGINE.instances} instance${ENGINE.instances > 1 ? 's behind a round-robin TCP proxy' : ''}`;
}

const chosen = pick(process.argv.slice(2).filter((a) => a !== '--'));
const startedAt = new Date();
const machine = machineInfo();
console.error(
  `bench: ${chosen.map((s) => s.name).join(', ')} on ${machine.cpus}× ${machine.cpuModel}, Node ${machine.node}, load ${machine.loadAverage.join(' ')}; ` +
    `${SETTINGS.rounds} rounds × ${SETTINGS.seconds} s after a ${SETTINGS.warmupSeconds} s warm-up; ${engineLabel('ours')}`,
);
const results: ScenarioResult[] = [];
let failed = false;
await withEngine(async () => {
  for (const scenario of chosen) {
    const t0 = Date.now();
    console.error(`\n== ${scenario.name}: ${scenario.title}`);
    try {
      results.push(await scenario.run());
    } catch (err) {
      failed = true;
      console.error(`${scenario.name} failed:`, err);
      results.push({ scenario: scenario.name, title: scenario.title, variants: [], notes: [], skipped: `failed: ${(err as Error).message}` });
    }
    console.error(`== ${scenario.name} took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
});
const file = writeResults(machine, startedAt, results, { ...SETTINGS, engine: ENGINE });
console.log(`\nKalm benchmarks, ${startedAt.toISOString()}: ${machine.cpus}× ${machine.cpuModel}, Node ${machine.node}, ` +
  `kalm ${machine.versions.kalm}, oidc-provider ${machine.versions['oidc-provider']}; ${engineDescription()}`);
console.log(`medians of ${SETTINGS.rounds} alternating rounds of ${SETTINGS.seconds} s; ratios are medians of per-round ours/ref\n`);
console.log(formatTable(results));
for (const r of results) for (const note of r.notes) console.log(`\n${r.scenario}: ${note}`);
console.log(`\nall runs: ${file}`);
console.log(`total ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s`);
process.exitCode = failed ? 1 : 0;
