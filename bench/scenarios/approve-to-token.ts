import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ENGINE } from '../lib/engine.js';
import { BENCH_DIR } from '../lib/processes.js';
import type { Scenario, ScenarioResult } from '../lib/scenario.js';

/** The part of bench/push-latency.ts (the push issue's benchmark) this wrapper relies on. */
interface PushLatencyModule {
  runPushLatency(options: { devices: number; approvals: number; concurrency: number; log?: (line: string) => void }): Promise<{
    devices: number;
    latencyMs: { p50: number; p99: number };
    serverRss: { extraMb: number };
    targets: { met: boolean };
  }>;
  formatPushLatency(result: unknown): string;
}

const DEVICES = Number(process.env.BENCH_PUSH_DEVICES ?? 10_000);
const APPROVALS = Number(process.env.BENCH_PUSH_APPROVALS ?? 500);

/**
 * Scenario 3: from the approve call to the device holding tokens, with 10,000 idle devices
 * waiting on the push socket, and the server's extra RSS for them. The measurement is
 * bench/push-latency.ts (built with WebSocket push); this runs it when it is there.
 */
export const approveToToken: Scenario = {
  name: 'approve-to-token',
  title: `approve → device holds tokens, ${DEVICES} idle push sockets`,
  async run(): Promise<ScenarioResult> {
    const base = { scenario: 'approve-to-token', title: approveToToken.title, variants: [] };
    const script = `${BENCH_DIR}push-latency.ts`;
    if (!existsSync(script)) return { ...base, notes: [], skipped: 'bench/push-latency.ts is not there yet' };
    // It starts a server of its own (bench/push/server-child.ts), on SQLite only.
    if (ENGINE.store !== 'sqlite') return { ...base, notes: [], skipped: `runs on SQLite only, not on BENCH_ENGINE=${ENGINE.store}` };
    const mod = (await import(pathToFileURL(script).href)) as PushLatencyModule;
    const result = await mod.runPushLatency({ devices: DEVICES, approvals: APPROVALS, concurrency: 200, log: (line) => console.error(`  ${line}`) });
    return {
      ...base,
      notes: [`\n${mod.formatPushLatency(result)}`],
      extra: result,
      headline: {
        server: 'ours',
        p50: result.latencyMs.p50,
        p99: result.latencyMs.p99,
        text: `extra RSS ${result.serverRss.extraMb} MB for ${result.devices} sockets; targets (p99 ≤ 20 ms, ≤ 60 MB) ${result.targets.met ? 'met' : 'NOT met'}`,
      },
    };
  },
};
