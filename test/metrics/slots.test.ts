// The hot-path slots (server/src/metrics/slots.ts) against prom-client's own metrics: the same
// observations must give the same text, line for line, whatever the order of scrapes.
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterSlots, HistogramSlots } from '../../server/src/metrics/slots.js';

const BOUNDS = [0.001, 0.01, 0.1, 1];
// Below, on and between the bounds, above them all; some label values need escaping.
const OBSERVATIONS: Array<[string, string, number, number]> = [
  ['/token', 'POST', 400, 0.0004],
  ['/token', 'POST', 400, 0.001],
  ['/token', 'POST', 200, 0.05],
  ['/device', 'GET', 200, 3],
  ['/token', 'POST', 400, 0.0099],
  ['quote"back\\slash', 'GET', 404, 0.2],
];

describe('hot-path slots', () => {
  it('write a histogram exactly as prom-client\'s Histogram does', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const slots = new HistogramSlots(ours, 'h_seconds', 'help', ['route', 'method', 'status'], BOUNDS);
    const reference = new Histogram({ name: 'h_seconds', help: 'help', labelNames: ['route', 'method', 'status'], buckets: BOUNDS, registers: [theirs] });
    for (const [i, [route, method, status, value]] of OBSERVATIONS.entries()) {
      slots.slot(route, method, status).observe(value);
      reference.labels(route, method, String(status)).observe(value);
      if (i === 2) expect(await ours.metrics()).toBe(await theirs.metrics());
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    ours.resetMetrics();
    theirs.resetMetrics();
    // prom-client forgets the series on reset; the slots keep them at zero.
    expect(await ours.metrics()).toContain('h_seconds_count{route="/token",method="POST",status="400"} 0');
  });

  it('write counters exactly as prom-client\'s Counter does, each slot handed over once', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const labelled = new CounterSlots(ours, 'c_total', 'help', ['grant_type', 'result']);
    const plain = new CounterSlots(ours, 'p_total', 'help').slot();
    const referenceLabelled = new Counter({ name: 'c_total', help: 'help', labelNames: ['grant_type', 'result'], registers: [theirs] });
    const referencePlain = new Counter({ name: 'p_total', help: 'help', registers: [theirs] });
    expect(await ours.metrics()).toBe(await theirs.metrics());
    for (const result of ['authorization_pending', 'slow_down', 'authorization_pending', 'ok']) {
      labelled.slot('device_code', result).n++;
      referenceLabelled.labels('device_code', result).inc();
      plain.n++;
      referencePlain.inc();
      expect(await ours.metrics()).toBe(await theirs.metrics());
    }
    // A scrape with nothing new changes nothing.
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
