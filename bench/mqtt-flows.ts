/**
 * Benchmark: 1,000 concurrent device flows through a real mosquitto (issue 6).
 *
 * All flows authorize over MQTT and wait at once (devices in a child process, 50 MQTT 3.1.1
 * connections); then every code is approved through core: by default one at a time (the next
 * approval when the previous device holds its token: latency with 1,000 flows waiting), or
 * open loop at `--rate` approvals per second, or `--rate burst` all at once (throughput).
 * Measured per flow: from the approve call to the device holding the decrypted token response
 * (status push → signed proof → redemption → JWE answer → decrypt). Target: p99 ≤ 100 ms, 0 lost.
 *
 *   node --import tsx bench/mqtt-flows.ts [--flows 1000] [--connections 50] [--rate one-at-a-time|burst|N]
 *
 * Prints the figures; writes bench/results/mqtt-flows-<time>.json.
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../server/src/config.js';
import { GRANT_TYPES } from '../server/src/core/clients.js';
import { startServer } from '../server/src/server.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import type { ToParent } from './mqtt/devices-child.js';

const { values } = parseArgs({
  options: {
    flows: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '50' },
    rate: { type: 'string', default: 'one-at-a-time' },
  },
});
const flows = Number(values.flows);
const connections = Number(values.connections);
const mode = values.rate === 'one-at-a-time' || values.rate === 'burst' ? values.rate : 'paced';
const rate = mode === 'paced' ? Number(values.rate) : 0;
const modeLabel = mode === 'paced' ? `${rate}/s` : mode;
const now = () => performance.timeOrigin + performance.now();
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
const ms = (n: number) => Math.round(n * 10) / 10;

const broker = await startMosquitto();
const dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-bench-mqtt-'));
const server = await startServer(defaultConfig({ port: 0, dataDir, demo: false, logLevel: 'warn', mqttUrl: broker.url }));
try {
  await server.mqtt!.ready();
  const { client } = await server.core.clients.create({
    name: 'Bench sensor',
    type: 'public',
    grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken],
    scopes: ['valuate:read'],
  });
  const user = await server.core.users.create({ username: 'bench', password: 'bench password 1' });

  const child = fork(fileURLToPath(new URL('./mqtt/devices-child.ts', import.meta.url)), {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BROKER_URL: broker.url, CLIENT_ID: client.id, FLOWS: String(flows), CONNECTIONS: String(connections) },
  });
  const userCodes = new Map<string, string>();
  const approvedAt = new Map<string, number>();
  const latencies: number[] = [];
  const failures: string[] = [];
  const delivered = new Set<string>();
  const tokenWaiters = new Map<string, () => void>();
  let duplicates = 0;
  let allAuthorized!: () => void;
  let allDone!: () => void;
  const authorized = new Promise<void>((r) => (allAuthorized = r));
  const done = new Promise<void>((r) => (allDone = r));
  const setupStart = now();
  child.on('message', (m: ToParent) => {
    if (m.type === 'authorized') {
      userCodes.set(m.rid, m.userCode);
      if (userCodes.size === flows) allAuthorized();
    } else if (m.type === 'token') {
      if (delivered.has(m.rid)) return void duplicates++;
      delivered.add(m.rid);
      latencies.push(m.at - approvedAt.get(m.rid)!);
      tokenWaiters.get(m.rid)?.();
      if (latencies.length + failures.length === flows) allDone();
    } else if (m.type === 'failed') {
      failures.push(`${m.rid}: ${m.error}`);
      tokenWaiters.get(m.rid)?.();
      if (latencies.length + failures.length === flows) allDone();
    }
  });
  const deadline = (label: string, s: number) =>
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${label} not finished in ${s} s`)), s * 1000).unref());
  await Promise.race([authorized, deadline('authorize', 120)]);
  const setupSeconds = (now() - setupStart) / 1000;
  console.error(`${flows} flows authorized and waiting over MQTT in ${setupSeconds.toFixed(1)} s; approving ${modeLabel}`);

  const approvalsStart = now();
  let i = 0;
  for (const [rid, userCode] of userCodes) {
    const tokenHere = mode === 'one-at-a-time' ? new Promise<void>((r) => tokenWaiters.set(rid, r)) : undefined;
    if (mode === 'paced') {
      // Pace against the schedule, not against the previous approval, so slow ones do not drift.
      const due = approvalsStart + (i * 1000) / rate;
      const wait = due - now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    }
    approvedAt.set(rid, now());
    const approving = server.core.deviceFlow.approve(userCode, user.id, ['valuate:read']);
    if (mode === 'burst') approving.catch((err) => failures.push(`${rid}: approve ${err}`));
    else await approving;
    await tokenHere;
    i++;
  }
  await Promise.race([done, deadline('tokens', 120)]);
  child.send({ type: 'exit' });

  const sorted = [...latencies].sort((a, b) => a - b);
  const result = {
    benchmark: 'mqtt-flows',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadAverage: loadavg().map((l) => Math.round(l * 10) / 10) },
    flows,
    connections,
    approvals: modeLabel,
    setupSeconds: ms(setupSeconds),
    tokens: latencies.length,
    lost: flows - latencies.length,
    duplicateAnswers: duplicates,
    failures: failures.slice(0, 10),
    approvalToTokenMs: { p50: ms(quantile(sorted, 0.5)), p90: ms(quantile(sorted, 0.9)), p99: ms(quantile(sorted, 0.99)), max: ms(sorted.at(-1) ?? NaN) },
    targetP99Ms: 100,
  };
  console.log(`MQTT device flows through mosquitto: ${flows} concurrent flows over ${connections} connections, approvals ${modeLabel}`);
  console.log(`  tokens delivered ${result.tokens}, lost ${result.lost}, duplicate answers ${duplicates}`);
  console.log(
    `  approval → decrypted token: p50 ${result.approvalToTokenMs.p50} ms, p90 ${result.approvalToTokenMs.p90} ms, ` +
      `p99 ${result.approvalToTokenMs.p99} ms, max ${result.approvalToTokenMs.max} ms (target p99 ≤ 100 ms)`,
  );
  const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `mqtt-flows-${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`  ${file}`);
  process.exitCode = result.lost === 0 ? 0 : 1;
} finally {
  await server.close();
  await broker.dispose();
  rmSync(dataDir, { recursive: true, force: true });
}
