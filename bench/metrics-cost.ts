/**
 * Benchmark: what the Prometheus metrics (issue 15) add to each pending poll, per request.
 *
 * `npm run bench -- pending-poll` with metrics off and on (BENCH_METRICS=1, or =compare for both
 * in the same rounds) measures throughput over HTTP, which on a machine shared with other work
 * moves between runs, and between two identical server processes, by more than the few percent
 * at stake. This measures the part that runs per request instead: what the protocol router adds
 * when the metrics are on (two `performance.now()` reads and `HttpMetrics.protocolAnswered`: a
 * histogram slot and, for `/token`, a counter slot, from server/src/metrics/), against the same
 * counting through prom-client's own children (`labels(...)` made once, `observe()`/`inc()` per
 * request). Each is timed over `N` calls, `REPEATS` times; the fastest repeat is the figure (the
 * least disturbed by other processes). A pending poll itself calls no other metric.
 *
 *   node --import tsx bench/metrics-cost.ts     (BENCH_REPEATS default 15)
 */
import type { IncomingMessage } from 'node:http';
import { loadavg } from 'node:os';
import { Counter, Histogram, Registry } from 'prom-client';
import { GRANT_TYPES } from '../server/src/core/clients.js';
import { systemClock } from '../server/src/core/clock.js';
import { createLogger } from '../server/src/logger.js';
import { createMetrics } from '../server/src/metrics/index.js';
import { round } from './lib/stats.js';

const N = 1_000_000;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 15);
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Nanoseconds a call of `body`, the fastest of `REPEATS` runs of `N` calls. */
function nanosPerCall(body: (i: number) => void): number {
  let best = Infinity;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) body(i);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / N);
  }
  return best;
}

// A parsed poll, as the router hands it over: the form body parser leaves the form in `body`.
const req = { body: { grant_type: GRANT_TYPES.deviceCode } } as unknown as IncomingMessage;
const RESULTS = ['authorization_pending', 'slow_down'];

const metrics = createMetrics({ clock: systemClock, logger: createLogger('silent') });
const hooks = nanosPerCall((i) => {
  const started = performance.now();
  metrics.http.protocolAnswered('/token', 'POST', 400, (performance.now() - started) / 1000, req, RESULTS[i & 1]);
});

const registry = new Registry();
const histogram = new Histogram({ name: 'd_seconds', help: 'h', labelNames: ['route', 'method', 'status'], buckets: DURATION_BUCKETS, registers: [registry] });
const counter = new Counter({ name: 't_total', help: 'h', labelNames: ['grant_type', 'result'], registers: [registry] });
const durationChild = histogram.labels('/token', 'POST', '400');
const tokenChildren = RESULTS.map((result) => counter.labels(GRANT_TYPES.deviceCode, result));
const promClient = nanosPerCall((i) => {
  const started = performance.now();
  durationChild.observe((performance.now() - started) / 1000);
  tokenChildren[i & 1]!.inc();
});

const clockOnly = nanosPerCall(() => {
  const started = performance.now();
  if (performance.now() < started) throw new Error('clock went back');
});

console.log(`per pending poll, fastest of ${REPEATS} × ${N} calls, load average ${loadavg().map((l) => round(l, 2)).join(' ')}:`);
console.log(`  metrics hooks (slots): ${round(hooks, 0)} ns, of which the two performance.now() ${round(clockOnly, 0)} ns`);
console.log(`  the same through prom-client children: ${round(promClient, 0)} ns`);
