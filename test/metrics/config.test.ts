// METRICS_PORT and METRICS_HOST as an operator sets them: read from the environment, refused when
// malformed, equal to PORT or taken, and `kalm serve` (a child process on a real database: the
// data dir's file, or its database on the test cluster in the postgres project) serving them.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../../server/src/config.js';
import { engineEnv, ensureDatabaseFor } from '../helpers/engine.js';
import { freePort, startTestServer } from '../helpers/server.js';
import { startChildServer, type ChildServer } from '../reliability/support/child-server.js';
import { scrape } from './scrape.js';

/** The first match of `line` in what the child printed, waiting for its output (never a sleep). */
function printed(child: ChildServer, line: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const look = () => {
      const match = line.exec(child.output());
      if (!match) return false;
      child.process.stdout!.off('data', onData);
      child.process.off('exit', onExit);
      resolve(match);
      return true;
    };
    // The child's own listener appends each chunk to output() before this one runs.
    const onData = () => void look();
    const onExit = () => reject(new Error(`kalm serve exited without printing ${line}:\n${child.output()}`));
    if (look()) return;
    child.process.stdout!.on('data', onData);
    child.process.once('exit', onExit);
  });
}

describe('METRICS_PORT and METRICS_HOST', () => {
  it('are off and loopback by default, and read from the environment', () => {
    expect(configFromEnv({})).toMatchObject({ metricsPort: undefined, metricsHost: '127.0.0.1' });
    expect(configFromEnv({ METRICS_PORT: '9464', METRICS_HOST: '10.0.0.5' })).toMatchObject({ metricsPort: 9464, metricsHost: '10.0.0.5' });
  });

  it('refuse a port that is not one, and the public port itself', () => {
    expect(() => configFromEnv({ METRICS_PORT: 'nine' })).toThrow('METRICS_PORT must be an integer from 0 to 65535, got "nine"');
    expect(() => configFromEnv({ METRICS_PORT: '8080' })).toThrow('METRICS_PORT must differ from PORT (8080)');
    expect(() => configFromEnv({ PORT: '9000', METRICS_PORT: '9000' })).toThrow('METRICS_PORT must differ from PORT (9000)');
  });

  it('make `kalm serve` answer scrapes on their own port, and 404 on the public one', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-metrics-'));
    await ensureDatabaseFor(dataDir);
    // Port 0: a port picked beforehand could be taken by a parallel test before the child binds it.
    const child = await startChildServer(dataDir, { ...engineEnv(dataDir), METRICS_PORT: '0', DEMO: '1' });
    try {
      const metricsUrl = await printed(child, /^ {2}metrics +(http:\/\/127\.0\.0\.1:(\d+)\/metrics)$/m);
      expect(Number(metricsUrl[2])).not.toBe(Number(new URL(child.url).port));
      const res = await fetch(`${child.url}/device_authorization`, { method: 'POST', body: new URLSearchParams({ client_id: 'tv-demo' }) });
      expect(res.status).toBe(200);
      const metrics = await scrape(metricsUrl[1]!);
      expect(metrics.value('kalm_device_authorizations_total', { client_id: 'tv-demo' })).toBe(1);
      expect(metrics.value('kalm_pending_device_codes')).toBe(1);
      expect((await fetch(`${child.url}/metrics`)).status).toBe(404);
    } finally {
      await child.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('make the server fail at start, saying so, when the metrics port is taken, and leave nothing open', async () => {
    const taken = await startTestServer();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-metrics-'));
    try {
      const port = await freePort();
      const failed = startTestServer({ dataDir, config: { port, metricsPort: taken.port } });
      await expect(failed).rejects.toThrow(`METRICS_PORT ${taken.port} on 127.0.0.1: listen EADDRINUSE`);
      // Its public listener is closed again: the port can be bound.
      const probe = createServer();
      await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(port, '127.0.0.1', resolve));
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      expect((await fetch(`${taken.url}/healthz`)).status).toBe(200);
    } finally {
      await taken.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
