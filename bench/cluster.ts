/**
 * Several instances on one PostgreSQL, seen running (issue 14):
 *
 *   node --import tsx bench/cluster.ts [--instances 3] [--flows 600] [--kills 3] [--seed N]
 *     [--concurrency 8] [--latency-flows 250] [--throughput-seconds 10] [--engine postgres|sqlite]
 *
 * Starts a private PostgreSQL (fsync on), a mosquitto, `--instances` `kalm serve` processes and a
 * round-robin TCP proxy in front of them; runs device flows through the proxy (push, polling and
 * MQTT devices, approvals and denials on the verification pages, refresh rotations, revocations by
 * the app and on My devices), SIGKILLs one instance at seeded moments while the others serve and
 * starts it again; then re-checks every acknowledged approval, rotation and revocation through a
 * store on the database and presents every redeemed code again. With nothing killed it measures
 * the cross-instance event latency (approval on instance A → `approved` on a push socket of
 * instance B) and throughput with 1..N instances behind the proxy (complete device flows per
 * second, saturating pending polls per second).
 *
 * Prints the figures and writes bench/results/cluster-<time>.json. Exit code 1 on any lost
 * approval, double redemption or other broken promise. The short version runs in `npm test`
 * (test/reliability/cluster-crash.test.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runClusterScenario, type LatencyFigures } from '../test/reliability/support/cluster-run.js';
import { chooseSeed } from '../test/reliability/support/random.js';
import { machineInfo } from './lib/machine.js';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '3' },
    flows: { type: 'string', default: '600' },
    kills: { type: 'string', default: '3' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    'latency-flows': { type: 'string', default: '250' },
    'throughput-seconds': { type: 'string', default: '10' },
    engine: { type: 'string', default: 'postgres' },
  },
});
const engine = values.engine === 'sqlite' ? 'sqlite' : 'postgres';
const seed = chooseSeed(values.seed);
const instances = Number(values.instances);
const throughputSeconds = Number(values['throughput-seconds']);
const started = new Date();
const machineBefore = machineInfo();
console.log(
  `cluster: ${instances} instances on ${engine}, ${values.flows} flows, ${values.kills} kills, seed ${seed} (replay with --seed ${seed}); load average ${machineBefore.loadAverage.join(' ')}`,
);
const t0 = Date.now();
const report = await runClusterScenario({
  instances,
  flows: Number(values.flows),
  kills: Number(values.kills),
  seed,
  concurrency: Number(values.concurrency),
  engine,
  latencyFlows: Number(values['latency-flows']),
  ...(throughputSeconds > 0 && { throughput: { seconds: throughputSeconds } }),
  log: (line) => console.log(`  [${((Date.now() - t0) / 1000).toFixed(0)} s] ${line}`),
});
const machine = machineInfo();

const ms = (f: LatencyFigures | undefined) => (f && f.samples ? `p50 ${f.p50} ms, p90 ${f.p90} ms, p99 ${f.p99} ms, max ${f.max} ms (${f.samples} flows)` : '—');
const k = report.completedByKind;
console.log('');
console.log(`flows completed         ${report.flowsCompleted}/${report.flows} (push ${k.push}, polling ${k.poll}, MQTT ${k.mqtt}) in ${report.mainRunSeconds} s with ${report.kills} kills`);
console.log(`approvals acknowledged  ${report.acknowledgedApprovals}, lost ${report.lostApprovals}; denials ${report.acknowledgedDenials}; decisions cut unacknowledged ${report.decisionsUnacknowledged}`);
console.log(`token sets              ${report.tokenSets}, double redemptions ${report.doubleRedemptions}; redemptions whose answer a kill cut ${report.spentUnseen}`);
console.log(`rotations               ${report.rotations} (families re-checked ${report.rotationsChecked})`);
console.log(`revocations             ${report.revocations} (re-checked ${report.revocationsChecked}, told to a paired push socket ${report.revocationsToldOverPush})`);
console.log(`pacing across instances ${report.paceChecks} back-to-back polls answered slow_down`);
console.log(`kills                   ${report.kills} (instances ${report.victims.join(', ')}): ${report.cutByKill} requests cut (retried), ${report.pushReconnects} push sockets re-opened, ${report.mqttResends} MQTT requests asked again; restarts ${report.restartMs.map((r) => `${(r / 1000).toFixed(1)} s`).join(', ')}`);
console.log(`proxy                   connections ${JSON.stringify(report.proxy.connections)}, refused (skipped) ${JSON.stringify(report.proxy.refused)}`);
if (report.eventLatency) {
  const { crossInstance: c, sameInstance: s, targetP99Ms } = report.eventLatency;
  console.log(`event latency, approval on instance A → push "approved" on instance B (target p99 ≤ ${targetP99Ms} ms):`);
  console.log(`  from the approving request  ${ms(c.fromApprovalRequest)}`);
  if (c.fromCommit) console.log(`  from its commit (NOTIFY)    ${ms(c.fromCommit)}`);
  console.log(`  from its HTTP answer        ${ms(c.fromApprovalAnswer)}`);
  console.log(`  same instance, from request ${ms(s.fromApprovalRequest)}`);
  if (s.fromCommit) console.log(`  same instance, from commit  ${ms(s.fromCommit)}`);
}
if (report.mainRunCrossInstance) console.log(`  main run (with kills), cross-instance, from request: ${ms(report.mainRunCrossInstance)}`);
if (report.throughput) {
  console.log('throughput through the proxy:');
  console.log('  instances  device flows/s  pending polls/s  poll p50 ms  poll p99 ms  poll answers');
  for (const row of report.throughput) {
    console.log(
      `  ${String(row.instances).padStart(9)}  ${String(row.flowsPerSec).padStart(14)}  ${String(row.pendingPollsPerSec).padStart(15)}  ${String(row.pollP50).padStart(11)}  ${String(row.pollP99).padStart(11)}  ${JSON.stringify(row.pollShapes)}`,
    );
  }
}
console.log(`machine                 ${machine.cpus} × ${machine.cpuModel}, load average before ${machineBefore.loadAverage.join(' ')}, after ${machine.loadAverage.join(' ')}`);

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
const file = path.join(resultsDir, `cluster-${started.toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify({ benchmark: 'cluster', startedAt: started.toISOString(), machineBefore, machine, ...report }, null, 2)}\n`);
console.log(`  ${file}`);
for (const v of report.violations.slice(0, 50)) console.log(`VIOLATION ${v}`);
const broken = report.lostApprovals > 0 || report.doubleRedemptions > 0 || report.violations.length > 0;
console.log(broken ? `cluster: ${report.lostApprovals} lost approvals, ${report.doubleRedemptions} double redemptions, ${report.violations.length} broken promises` : 'cluster: every promise kept');
process.exitCode = broken ? 1 : 0;
