import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { LoadJob, LoadResult } from './load-types.js';
import { quantile } from './stats.js';
import { responseShape, tally } from './shapes.js';

/**
 * Open-loop load: `job.amount` form POSTs offered at `job.rate` per second, spread evenly
 * (a few per millisecond tick), over at most `job.connections` keep-alive sockets.
 *
 * Why not autocannon's `overallRate`: it hands each connection its quota at the start of
 * every second, so 2,000 req/s arrive as one burst per second and the latencies measure
 * the burst. Latency here runs from the moment a request was due, so time spent queued
 * behind a slow server (or a full socket pool) counts: no coordinated omission.
 */
export function runPaced(job: LoadJob, bodyFor: (i: number) => string): Promise<LoadResult> {
  const amount = job.amount ?? 0;
  const rate = job.rate ?? 1000;
  const target = new URL(job.path, job.url);
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
  const latencies: number[] = [];
  const shapes: Record<string, number> = {};
  let connectionErrors = 0;
  let timeouts = 0;
  let sent = 0;
  let settled = 0;
  const start = performance.now();
  let last = start;

  return new Promise((resolve) => {
    const finish = () => {
      clearInterval(ticker);
      clearTimeout(deadline);
      agent.destroy();
      latencies.sort((a, b) => a - b);
      const durationSec = (last - start) / 1000;
      resolve({
        requests: latencies.length,
        durationSec,
        rps: latencies.length / durationSec,
        p50: quantile(latencies, 0.5),
        p90: quantile(latencies, 0.9),
        p99: quantile(latencies, 0.99),
        max: latencies[latencies.length - 1] ?? Number.NaN,
        shapes,
        connectionErrors,
        timeouts: timeouts + (amount - settled),
      });
    };
    const settle = () => {
      settled++;
      if (settled === amount) finish();
    };
    const send = (i: number, due: number) => {
      const body = bodyFor(i);
      const req = request(target, {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
        timeout: 10_000,
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          last = performance.now();
          latencies.push(last - due);
          tally(shapes, responseShape(res.statusCode ?? 0, text));
          settle();
        });
      });
      req.on('timeout', () => {
        timeouts++;
        req.destroy(new Error('timeout'));
      });
      req.on('error', (err) => {
        if (err.message !== 'timeout') connectionErrors++;
        settle();
      });
      req.end(body);
    };
    // Send whatever has fallen due since the last tick, each stamped with the time it was due.
    const ticker = setInterval(() => {
      const now = performance.now();
      const due = Math.min(amount, Math.floor(((now - start) / 1000) * rate));
      while (sent < due) {
        send(sent, start + (sent * 1000) / rate);
        sent++;
      }
    }, 1);
    // Bounded even against a server that stops answering.
    const deadline = setTimeout(finish, (amount / rate) * 1000 * 3 + 15_000);
    if (amount === 0) finish();
  });
}
