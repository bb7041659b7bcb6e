// Behaviours our server never shows, from a tiny scripted server on 127.0.0.1.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ExpiredTokenError, getAccessToken, MemoryTokenStore, OAuthResponseError, startDeviceAuthorization, discover, type WaitStatus } from '../../device-client/src/index.js';
import { fakeClock } from '../helpers/clock.js';
import { manualTimers } from './manual-timers.js';

type Answer = { status: number; body?: unknown; headers?: Record<string, string> };
type Handler = (req: IncomingMessage, form: URLSearchParams) => Answer;

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A server answering each request with `handler`; `token` answers are taken in order. */
async function fakeServer(device: Answer, tokenAnswers: Answer[], extra: Record<string, Handler> = {}) {
  const seen: string[] = [];
  const forms: URLSearchParams[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const form = new URLSearchParams(raw);
      seen.push(`${req.method} ${req.url}`);
      forms.push(form);
      const answer =
        req.url === '/device' ? device : req.url === '/token' ? (tokenAnswers.shift() ?? { status: 500 }) : (extra[req.url!]?.(req, form) ?? { status: 404 });
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, seen, forms, endpoints: { deviceAuthorizationEndpoint: `${base}/device`, tokenEndpoint: `${base}/token` } };
}

const codes = (extra: Record<string, unknown> = {}): Answer => ({
  status: 200,
  body: { device_code: 'dc', user_code: 'ABCD-EFGH', verification_uri: 'https://example.test/device', expires_in: 900, ...extra },
});
const tokens: Answer = { status: 200, body: { access_token: 'at', token_type: 'Bearer', expires_in: 60, refresh_token: 'rt' } };
const pending: Answer = { status: 400, body: { error: 'authorization_pending' } };

async function start(fake: Awaited<ReturnType<typeof fakeServer>>) {
  const timers = manualTimers(fakeClock());
  const auth = await startDeviceAuthorization({ endpoints: fake.endpoints, clientId: 'tv', scope: 'a b', timers, push: false });
  return { auth, timers };
}

describe('device client against servers that behave differently', () => {
  it('polls every 5 s when the server sends no interval, and keeps the requested scope when the answer omits it', async () => {
    const fake = await fakeServer(codes(), [pending, tokens]);
    const { auth, timers } = await start(fake);
    expect(auth.interval).toBe(5);
    expect(auth.verificationUriComplete).toBeUndefined();
    const result = auth.wait();
    const first = await timers.next();
    expect(first.ms).toBe(5_000);
    first.fire();
    const second = await timers.next();
    expect(second.ms).toBe(5_000);
    second.fire();
    expect(await result).toMatchObject({ accessToken: 'at', refreshToken: 'rt', scope: 'a b' });
    expect(fake.seen).toEqual(['POST /device', 'POST /token', 'POST /token']);
  });

  it('sends a scope list space-separated, and keeps using an access token that came without expires_in', async () => {
    const lasting: Answer = { status: 200, body: { access_token: 'lasting', token_type: 'Bearer', refresh_token: 'rt' } };
    const fake = await fakeServer(codes({ interval: 1 }), [lasting]);
    const clock = fakeClock();
    const timers = manualTimers(clock);
    const store = new MemoryTokenStore();
    const auth = await startDeviceAuthorization({ endpoints: fake.endpoints, clientId: 'tv', scope: ['a', 'b'], timers, store, push: false });
    expect(fake.forms[0]!.get('scope')).toBe('a b');
    const result = auth.wait();
    (await timers.next()).fire();
    expect(await result).toMatchObject({ accessToken: 'lasting', expiresAt: undefined });
    // A year on, the token is still handed out as it is: only the resource server can say it ended.
    clock.advance(365 * 24 * 3600_000);
    expect(await getAccessToken(store, { timers })).toBe('lasting');
    expect(fake.seen).toEqual(['POST /device', 'POST /token']);
  });

  it('waits for Retry-After on a 503, then backs off without ever polling faster than the interval', async () => {
    const fake = await fakeServer(codes({ interval: 3 }), [
      { status: 503, body: 'busy', headers: { 'retry-after': '30', 'content-type': 'text/plain' } },
      { status: 503 },
      { status: 503 },
      pending,
      tokens,
    ]);
    const { auth, timers } = await start(fake);
    const statuses: WaitStatus[] = [];
    const result = auth.wait({ onStatus: (s) => statuses.push(s) });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const timer = await timers.next();
      delays.push(timer.ms);
      timer.fire();
    }
    await result;
    // 3 s first; Retry-After 30 s; then doubling backoff from the interval (6 s, 12 s); pending resets to 3 s.
    expect(delays).toEqual([3_000, 30_000, 6_000, 12_000, 3_000]);
    expect(statuses.filter((s) => s.type === 'retry')).toHaveLength(3);
  });

  it('honours an HTTP-date Retry-After on a 429', async () => {
    const clock = fakeClock();
    const fake = await fakeServer(codes(), [{ status: 429, headers: { 'retry-after': new Date(clock.now() + 65_000).toUTCString() } }, tokens]);
    const timers = manualTimers(clock);
    const auth = await startDeviceAuthorization({ endpoints: fake.endpoints, clientId: 'tv', timers, push: false });
    const result = auth.wait();
    (await timers.next()).fire();
    const retry = await timers.next();
    expect(retry.ms).toBe(60_000); // 65 s after the request, which was sent 5 s in
    retry.fire();
    await result;
  });

  it('takes the larger interval a slow_down names', async () => {
    const fake = await fakeServer(codes(), [{ status: 400, body: { error: 'slow_down', interval: 30 } }, { status: 400, body: { error: 'slow_down' } }, tokens]);
    const { auth, timers } = await start(fake);
    const result = auth.wait();
    (await timers.next()).fire();
    const afterNamed = await timers.next();
    expect(afterNamed.ms).toBe(30_000);
    afterNamed.fire();
    const afterBare = await timers.next();
    expect(afterBare.ms).toBe(35_000);
    afterBare.fire();
    await result;
  });

  it('retries while the server is unreachable, backing off, until the codes expire', async () => {
    const fake = await fakeServer(codes({ expires_in: 60 }), []);
    const { auth, timers } = await start(fake);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    const statuses: WaitStatus[] = [];
    const result = auth.wait({ onStatus: (s) => statuses.push(s) }).catch((e: unknown) => e);
    const delays: number[] = [];
    for (;;) {
      const timer = await Promise.race([timers.next(), result.then(() => undefined)]);
      if (!timer) break;
      delays.push(timer.ms);
      timer.fire();
    }
    expect(await result).toBeInstanceOf(ExpiredTokenError);
    // 5 s, then 5, 10, 20 s of backoff; the last sleep stops at the 60 s expiry.
    expect(delays).toEqual([5_000, 5_000, 10_000, 20_000, 20_000]);
    expect(statuses.every((s) => s.type === 'retry')).toBe(true);
  });

  it('stops with the server’s error on an unexpected refusal', async () => {
    const fake = await fakeServer(codes(), [{ status: 400, body: { error: 'invalid_grant', error_description: 'unknown device code' } }]);
    const { auth, timers } = await start(fake);
    const result = auth.wait().catch((e: unknown) => e);
    (await timers.next()).fire();
    expect(await result).toMatchObject({ error: 'invalid_grant', description: 'unknown device code', status: 400 });
  });

  it('reads verification_url from servers that use the draft name, and refuses an answer without expires_in', async () => {
    const legacy = await fakeServer({ status: 200, body: { device_code: 'dc', user_code: 'U', verification_url: 'https://example.test/d', expires_in: 60 } }, []);
    expect((await start(legacy)).auth.verificationUri).toBe('https://example.test/d');
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    const broken = await fakeServer({ status: 200, body: { device_code: 'dc', user_code: 'U', verification_uri: 'https://example.test/d' } }, []);
    const error = await start(broken).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthResponseError);
    expect(error).toMatchObject({ error: 'invalid_response' });
  });

  it('discovers metadata at the RFC 8414 well-known path of an issuer with a path, and refuses another issuer', async () => {
    let metadata: Record<string, unknown> = {};
    const fake = await fakeServer(codes(), [], { '/.well-known/oauth-authorization-server/tenant': () => ({ status: 200, body: metadata }) });
    const issuer = `${fake.base}/tenant`;
    metadata = { issuer, device_authorization_endpoint: `${fake.base}/device`, token_endpoint: `${fake.base}/token`, device_push_endpoint: 'ws://x/push' };
    expect(await discover(issuer)).toEqual({ deviceAuthorizationEndpoint: `${fake.base}/device`, tokenEndpoint: `${fake.base}/token` });
    metadata = { ...metadata, issuer: 'https://attacker.test' };
    await expect(discover(issuer)).rejects.toMatchObject({ error: 'invalid_response' });
  });
});
