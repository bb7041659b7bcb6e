/**
 * Issue 14 acceptance: state that one instance would keep for itself is shared through the
 * database. RFC 8628 §3.5 pacing holds when a device's polls are spread round-robin over three
 * instances, and the code-entry and sign-in limiters count attempts spread over two instances
 * as one instance counts them. In-process instances, fake clocks advanced together.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PrivatePostgres } from '../helpers/postgres.js';
import { answerOf, deviceAuthorization, pollToken, startInstances, type Instances } from '../helpers/cluster.js';
import type { TestServer } from '../helpers/server.js';
import { PageClient, csrfOf } from '../http/verify-client.js';


// Generous: these tests start clusters, processes and brokers, on machines that may be busy.
const TIMEOUT = 60_000;
let cluster: PrivatePostgres;
let instances: Instances | undefined;

beforeAll(async () => {
  cluster = await startPostgres();
});
afterEach(async () => {
  await instances?.stop();
  instances = undefined;
});
afterAll(() => cluster?.dispose());

async function start(count: number): Promise<{ servers: TestServer[]; advance(ms: number): void }> {
  instances = await startInstances(await cluster.createDatabase(), count);
  return instances;
}

describe('RFC 8628 §3.5 pacing across instances', () => {
  it('answers slow_down to a device polling 3 instances in turn at a third of its interval', { timeout: TIMEOUT }, async () => {
    const { servers, advance } = await start(3);
    const { clientId } = await servers[0]!.createClient();
    const auth = await deviceAuthorization(servers[0]!.url, clientId);
    expect(auth.interval).toBe(5);
    const step = Math.floor((auth.interval * 1000) / 3);
    const answers: unknown[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await answerOf(await pollToken(servers[i % 3]!.url, clientId, auth.device_code));
      answers.push({ on: i % 3, error: res.body.error, interval: res.body.interval });
      advance(step);
    }
    // Each instance alone saw one poll every full interval, never early: only shared pacing
    // sees that the device polls at a third of it. The interval grows by 5 s each time (§3.5).
    expect(answers).toEqual([
      { on: 0, error: 'authorization_pending', interval: undefined },
      { on: 1, error: 'slow_down', interval: 10 },
      { on: 2, error: 'slow_down', interval: 15 },
      { on: 0, error: 'slow_down', interval: 20 },
      { on: 1, error: 'slow_down', interval: 25 },
      { on: 2, error: 'slow_down', interval: 30 },
    ]);
  });

  it('answers authorization_pending to a device that keeps to its interval, whichever instance each poll reaches', { timeout: TIMEOUT }, async () => {
    const { servers, advance } = await start(3);
    const { clientId } = await servers[0]!.createClient();
    const auth = await deviceAuthorization(servers[1]!.url, clientId);
    for (let i = 0; i < 6; i++) {
      const res = await answerOf(await pollToken(servers[i % 3]!.url, clientId, auth.device_code));
      expect(res.body.error, `poll ${i}`).toBe('authorization_pending');
      advance(auth.interval * 1000);
    }
  });

  it('keeps the interval a slow_down raised on every instance', { timeout: TIMEOUT }, async () => {
    const { servers, advance } = await start(2);
    const { clientId } = await servers[0]!.createClient();
    const auth = await deviceAuthorization(servers[0]!.url, clientId);
    expect((await answerOf(await pollToken(servers[0]!.url, clientId, auth.device_code))).body.error).toBe('authorization_pending');
    advance(1_000);
    expect((await answerOf(await pollToken(servers[1]!.url, clientId, auth.device_code))).body).toMatchObject({ error: 'slow_down', interval: 10 });
    // 6 s later: enough for the old 5 s interval, not for the 10 s one now in force.
    advance(6_000);
    expect((await answerOf(await pollToken(servers[0]!.url, clientId, auth.device_code))).body).toMatchObject({ error: 'slow_down', interval: 15 });
    advance(15_000);
    expect((await answerOf(await pollToken(servers[1]!.url, clientId, auth.device_code))).body.error).toBe('authorization_pending');
  });
});

/** One attempt of `kind` from a fresh browser at `address`, on `server`: the HTTP status. */
async function attempt(server: TestServer, kind: 'code' | 'signin', address: string, options: { client?: PageClient; username?: string } = {}): Promise<number> {
  const browser = options.client ?? new PageClient(server.url, { localAddress: address });
  if (kind === 'code') {
    const csrf = await browser.csrf('/device');
    return (await browser.post('/device', { csrf_token: csrf, user_code: 'BCDF-GHJKC' })).status;
  }
  const page = await browser.get('/signin');
  return (await browser.post('/signin', { csrf_token: csrfOf(page.body), username: options.username ?? 'nobody', password: 'wrong password' })).status;
}

/** A browser on `server` that carries `from`'s session cookie (the same browser, another instance). */
function sameBrowserOn(server: TestServer, from: PageClient, address: string): PageClient {
  const browser = new PageClient(server.url, { localAddress: address });
  for (const [k, v] of from.cookies) browser.cookies.set(k, v);
  return browser;
}

describe('attempt limiters across instances', () => {
  it('limits wrong codes from one address at the same count whether they go to one instance or alternate over two', { timeout: TIMEOUT }, async () => {
    const { servers } = await start(2);
    const [a, b] = servers as [TestServer, TestServer];
    const alone: number[] = [];
    for (let i = 0; i < 8; i++) alone.push(await attempt(a, 'code', '127.0.0.21'));
    const spread: number[] = [];
    for (let i = 0; i < 8; i++) spread.push(await attempt(i % 2 === 0 ? a : b, 'code', '127.0.0.22'));
    expect(alone).toEqual([400, 400, 400, 400, 400, 429, 429, 429]);
    expect(spread).toEqual(alone);
  });

  it('limits wrong codes from one browser roaming over addresses and instances', { timeout: TIMEOUT }, async () => {
    const { servers } = await start(2);
    const [a, b] = servers as [TestServer, TestServer];
    const first = new PageClient(a.url, { localAddress: '127.0.0.30' });
    const statuses: number[] = [await attempt(a, 'code', '127.0.0.30', { client: first })];
    for (let i = 1; i < 7; i++) {
      const address = `127.0.0.${30 + i}`;
      statuses.push(await attempt(i % 2 === 0 ? a : b, 'code', address, { client: sameBrowserOn(i % 2 === 0 ? a : b, first, address) }));
    }
    expect(statuses).toEqual([400, 400, 400, 400, 400, 429, 429]);
  });

  it('limits wrong passwords from one address at the same count whether they go to one instance or alternate over two', { timeout: TIMEOUT }, async () => {
    const { servers } = await start(2);
    const [a, b] = servers as [TestServer, TestServer];
    const user = await a.createUser('carol');
    const alone: number[] = [];
    for (let i = 0; i < 7; i++) alone.push(await attempt(a, 'signin', '127.0.0.41', { username: user.username }));
    const spread: number[] = [];
    for (let i = 0; i < 7; i++) spread.push(await attempt(i % 2 === 0 ? a : b, 'signin', '127.0.0.42', { username: user.username }));
    expect(alone).toEqual([401, 401, 401, 401, 401, 429, 429]);
    expect(spread).toEqual(alone);
  });
});
