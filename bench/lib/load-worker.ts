/**
 * The load generator, in a process of its own so that it never shares an event loop with
 * a server under test. Receives one `LoadJob` from bench/run.ts, runs it, sends the
 * `LoadResult` back and exits.
 */
import autocannon, { type AutocannonRequest } from 'autocannon';
import type { LoadJob, LoadResult } from './load-types.js';
import { runPaced } from './paced.js';
import { jsonField, responseShape, tally } from './shapes.js';

const FORM_HEADERS = { 'content-type': 'application/x-www-form-urlencoded' };

async function runClosed(job: LoadJob): Promise<LoadResult> {
  const base = new URLSearchParams(job.form).toString();
  const shapes: Record<string, number> = {};
  const collected: string[] = [];
  let cursor = job.cycle?.start ?? 0;
  const pool = job.chain ? [...job.chain.pool] : [];
  const chainMisses = { count: 0 };

  const request: AutocannonRequest = {
    method: 'POST',
    path: job.path,
    headers: FORM_HEADERS,
    body: base,
    setupRequest(req) {
      let body = base;
      if (job.cycle) {
        const { param, values } = job.cycle;
        body += `&${param}=${encodeURIComponent(values[cursor % values.length]!)}`;
        cursor++;
      }
      if (job.chain) {
        // Each request spends one token and its answer brings the next one, so the pool
        // stays as large as it started minus failed requests.
        const token = pool.shift();
        if (token === undefined) chainMisses.count++;
        body += `&${job.chain.param}=${encodeURIComponent(token ?? 'pool-ran-dry')}`;
      }
      return { ...req, body };
    },
    onResponse(status, body) {
      tally(shapes, responseShape(status, body));
      if (job.chain && status === 200) {
        const next = jsonField(body, job.chain.responseField);
        if (next) pool.push(next);
      }
      if (job.collect && status === 200) {
        const value = jsonField(body, job.collect);
        if (value) collected.push(value);
      }
    },
  };
  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    ...(job.amount ? { amount: job.amount } : { duration: job.durationSec ?? 5 }),
    timeout: 10,
    requests: [request],
  });
  if (chainMisses.count) tally(shapes, 'pool ran dry', chainMisses.count);
  const responses = Object.values(shapes).reduce((a, b) => a + b, 0);
  return {
    requests: responses,
    durationSec: result.duration,
    rps: responses / result.duration,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    shapes,
    connectionErrors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    ...(job.cycle && { nextCycleStart: cursor % job.cycle.values.length }),
    ...(job.chain && { leftover: pool }),
    ...(job.collect && { collected }),
  };
}

async function runJob(job: LoadJob): Promise<LoadResult> {
  if (job.mode === 'closed') return runClosed(job);
  const base = new URLSearchParams(job.form).toString();
  const start = job.cycle?.start ?? 0;
  const result = await runPaced(job, (i) => {
    if (!job.cycle) return base;
    const { param, values } = job.cycle;
    return `${base}&${param}=${encodeURIComponent(values[(start + i) % values.length]!)}`;
  });
  if (job.cycle) result.nextCycleStart = (start + (job.amount ?? 0)) % job.cycle.values.length;
  return result;
}

process.once('message', (msg: { type: string; job: LoadJob }) => {
  runJob(msg.job).then(
    (result) => process.send!({ type: 'done', result }, () => process.exit(0)),
    (err: unknown) => process.send!({ type: 'failed', error: String((err as Error)?.stack ?? err) }, () => process.exit(1)),
  );
});
