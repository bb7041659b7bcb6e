import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../../server/src/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { PageClient } from './verify-client.js';

// Behind a reverse proxy every request arrives from the proxy's address: per-address limits must
// count the client it forwards (X-Forwarded-For), and only when the proxy is one we trust.

/** Where a request comes from: the socket's local address and what it puts in X-Forwarded-For. */
interface From {
  localAddress?: string;
  forwardedFor?: string;
  /** Another URL of the same server (a dual-stack one is reached at 127.0.0.1, not at [::]). */
  baseUrl?: string;
}

function pageClient(server: TestServer, from: From): PageClient {
  const headers: Record<string, string> = from.forwardedFor ? { 'x-forwarded-for': from.forwardedFor } : {};
  return new PageClient(from.baseUrl ?? server.url, { ...(from.localAddress ? { localAddress: from.localAddress } : {}), headers });
}

/** Enter a wrong user code on the verification page from a fresh session; 400 while the budget lasts, then 429. */
async function wrongCode(server: TestServer, from: From): Promise<number> {
  const client = pageClient(server, from);
  return (await client.post('/device', { csrf_token: await client.csrf(), user_code: 'BCDF-GHJKC' })).status;
}

/** The address a device authorization was recorded with (shown as "network" on the consent page). */
async function recordedAddress(server: TestServer, from: From): Promise<string | null | undefined> {
  const { clientId } = await server.createClient();
  const client = pageClient(server, from);
  const res = await client.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' });
  expect(res.status).toBe(200);
  const { device_code } = JSON.parse(res.body) as { device_code: string };
  return (await server.core.deviceFlow.findByDeviceCode(device_code))?.requestIp;
}

describe('TRUST_PROXY parsing', () => {
  it('is off unless set, and reads 0 and false as off', () => {
    expect(configFromEnv({}).trustProxy).toBe(false);
    expect(configFromEnv({ TRUST_PROXY: '0' }).trustProxy).toBe(false);
    expect(configFromEnv({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
  });

  it('reads a hop count, and a list of addresses, CIDR ranges and proxy-addr names', () => {
    expect(configFromEnv({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(configFromEnv({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(configFromEnv({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1' }).trustProxy).toEqual(['127.0.0.1', '10.0.0.0/8', '::1']);
    expect(configFromEnv({ TRUST_PROXY: 'loopback,uniquelocal,192.168.0.0/255.255.0.0' }).trustProxy).toEqual([
      'loopback',
      'uniquelocal',
      '192.168.0.0/255.255.0.0',
    ]);
  });

  it('refuses true, a negative or huge hop count, a bad address, a bad range and an empty entry, naming TRUST_PROXY', () => {
    expect(() => configFromEnv({ TRUST_PROXY: 'true' })).toThrow(/TRUST_PROXY=true would believe any client's X-Forwarded-For/);
    for (const bad of ['-1', '33', 'nginx', '10.0.0.300', '10.0.0.0/33', '127.0.0.1,,10.0.0.1', '2001:db8::/129']) {
      expect(() => configFromEnv({ TRUST_PROXY: bad }), bad).toThrow(/^TRUST_PROXY must be/);
    }
  });

  it('stops kalm serve at start with that message and exit code 1', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-trust-'));
    try {
      const child = spawn(process.execPath, [path.resolve(import.meta.dirname, '../../server/bin/kalm.js'), 'serve'], {
        env: { ...process.env, DATA_DIR: dataDir, PORT: '0', TRUST_PROXY: '10.0.0.0/40' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(1);
      expect(stderr).toMatch(/^kalm: TRUST_PROXY must be a hop count or a list .*got "10\.0\.0\.0\/40"/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('without TRUST_PROXY', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('ignores X-Forwarded-For: the code-entry limiter counts the socket address, however the header varies', async () => {
    for (let i = 1; i <= 5; i++) expect(await wrongCode(server, { localAddress: '127.0.0.20', forwardedFor: `203.0.113.${i}` })).toBe(400);
    expect(await wrongCode(server, { localAddress: '127.0.0.20', forwardedFor: '203.0.113.6' })).toBe(429);
    expect(await wrongCode(server, { localAddress: '127.0.0.21', forwardedFor: '203.0.113.6' })).toBe(400);
  });

  it('records the socket address, not a forwarded one, on a device authorization', async () => {
    expect(await recordedAddress(server, { localAddress: '127.0.0.22', forwardedFor: '203.0.113.7' })).toBe('127.0.0.22');
  });
});

describe('TRUST_PROXY=1 (one proxy in front, whatever its address)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ config: { trustProxy: 1 } });
  });
  afterAll(() => server.stop());

  it('gives two clients forwarded by the same proxy separate code-entry budgets', async () => {
    const proxy = '127.0.0.30';
    for (let i = 0; i < 5; i++) expect(await wrongCode(server, { localAddress: proxy, forwardedFor: '198.51.100.1' })).toBe(400);
    expect(await wrongCode(server, { localAddress: proxy, forwardedFor: '198.51.100.1' })).toBe(429);
    expect(await wrongCode(server, { localAddress: proxy, forwardedFor: '198.51.100.2' })).toBe(400);
    // The proxy's own address has no budget of its own to exhaust: its clients are counted.
    expect(await wrongCode(server, { localAddress: proxy, forwardedFor: '198.51.100.3' })).toBe(400);
  });

  it('counts the address the proxy appended, not the ones a client wrote in front of it', async () => {
    for (let i = 1; i <= 5; i++) expect(await wrongCode(server, { forwardedFor: `192.0.2.${i}, 198.51.100.10` })).toBe(400);
    expect(await wrongCode(server, { forwardedFor: '192.0.2.6, 198.51.100.10' })).toBe(429);
    expect(await wrongCode(server, { forwardedFor: '192.0.2.6, 198.51.100.12' })).toBe(400);
    expect(await recordedAddress(server, { forwardedFor: '192.0.2.9, 198.51.100.11' })).toBe('198.51.100.11');
  });

  it('gives two forwarded clients separate sign-in budgets too', async () => {
    const user = await server.createUser();
    const wrongPassword = async (forwardedFor: string) => {
      const client = pageClient(server, { forwardedFor });
      const csrf = await client.csrf('/signin');
      return (await client.post('/signin', { csrf_token: csrf, username: user.username, password: 'wrong password' })).status;
    };
    for (let i = 0; i < 5; i++) expect(await wrongPassword('198.51.100.90')).toBe(401);
    expect(await wrongPassword('198.51.100.90')).toBe(429);
    expect(await wrongPassword('198.51.100.91')).toBe(401);
  });

  it('groups forwarded IPv6 clients by /64, as it does socket addresses', async () => {
    for (let i = 1; i <= 5; i++) expect(await wrongCode(server, { forwardedFor: `2001:db8:1:2::${i}` })).toBe(400);
    expect(await wrongCode(server, { forwardedFor: '2001:db8:1:2:ffff::6' })).toBe(429);
    expect(await wrongCode(server, { forwardedFor: '2001:db8:1:3::1' })).toBe(400);
  });
});

describe('TRUST_PROXY=127.0.0.1,10.0.0.0/8 (listed proxies only)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ config: { trustProxy: ['127.0.0.1', '10.0.0.0/8'] } });
  });
  afterAll(() => server.stop());

  it('gives two clients forwarded by a listed proxy separate code-entry budgets', async () => {
    for (let i = 0; i < 5; i++) expect(await wrongCode(server, { localAddress: '127.0.0.1', forwardedFor: '198.51.100.20' })).toBe(400);
    expect(await wrongCode(server, { localAddress: '127.0.0.1', forwardedFor: '198.51.100.20' })).toBe(429);
    expect(await wrongCode(server, { localAddress: '127.0.0.1', forwardedFor: '198.51.100.21' })).toBe(400);
  });

  it('walks back through a chain of listed proxies to the first address that is not one', async () => {
    expect(await recordedAddress(server, { localAddress: '127.0.0.1', forwardedFor: '192.0.2.1, 198.51.100.30, 10.1.2.3' })).toBe('198.51.100.30');
  });

  it('ignores X-Forwarded-For from a peer that is not listed: the limiter counts that peer', async () => {
    const stranger = '127.0.0.40';
    for (let i = 1; i <= 5; i++) expect(await wrongCode(server, { localAddress: stranger, forwardedFor: `198.51.100.${40 + i}` })).toBe(400);
    expect(await wrongCode(server, { localAddress: stranger, forwardedFor: '198.51.100.46' })).toBe(429);
    expect(await recordedAddress(server, { localAddress: stranger, forwardedFor: '198.51.100.47' })).toBe('127.0.0.40');
  });
});

describe('TRUST_PROXY=127.0.0.1 on a dual-stack socket (HOST=::)', () => {
  let server: TestServer;
  let baseUrl: string;
  beforeAll(async () => {
    server = await startTestServer({ config: { host: '::', trustProxy: ['127.0.0.1'] } });
    baseUrl = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.stop());

  it('trusts the listed IPv4 proxy when the socket reports it IPv4-mapped (::ffff:127.0.0.1)', async () => {
    expect(await recordedAddress(server, { baseUrl, forwardedFor: '198.51.100.60' })).toBe('198.51.100.60');
    for (let i = 0; i < 5; i++) expect(await wrongCode(server, { baseUrl, forwardedFor: '198.51.100.61' })).toBe(400);
    expect(await wrongCode(server, { baseUrl, forwardedFor: '198.51.100.61' })).toBe(429);
    expect(await wrongCode(server, { baseUrl, forwardedFor: '198.51.100.62' })).toBe(400);
  });

  it('still ignores X-Forwarded-For from an IPv4-mapped peer that is not listed', async () => {
    expect(await recordedAddress(server, { baseUrl, localAddress: '127.0.0.60', forwardedFor: '198.51.100.63' })).toBe('::ffff:127.0.0.60');
    for (let i = 1; i <= 5; i++) expect(await wrongCode(server, { baseUrl, localAddress: '127.0.0.61', forwardedFor: `198.51.100.${63 + i}` })).toBe(400);
    expect(await wrongCode(server, { baseUrl, localAddress: '127.0.0.61', forwardedFor: '198.51.100.70' })).toBe(429);
  });
});

describe('TRUST_PROXY as a hop count on every interface', () => {
  it('warns at start that a client connecting directly could choose its own address', async () => {
    const server = await startTestServer({ config: { host: '0.0.0.0', trustProxy: 1 } });
    try {
      const warning = server.logLines().find((l) => l.level === 40 && String(l.msg).startsWith('TRUST_PROXY is a hop count'));
      expect(warning).toMatchObject({ trustProxy: 1, host: '0.0.0.0' });
    } finally {
      await server.stop();
    }
  });

  it('does not warn for a list of proxies, or for a hop count on one interface', async () => {
    for (const config of [{ host: '0.0.0.0', trustProxy: ['127.0.0.1'] }, { host: '127.0.0.1', trustProxy: 1 }]) {
      const server = await startTestServer({ config });
      try {
        expect(server.logText()).not.toContain('TRUST_PROXY is a hop count');
      } finally {
        await server.stop();
      }
    }
  });
});
