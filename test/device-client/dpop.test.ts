// The DPoP proofs the device client makes (RFC 9449 §4.2), checked by the receiving side over
// real HTTP: a small token endpoint and resource server on 127.0.0.1 that verify every proof
// with jose (jwtVerify + EmbeddedJWK), ask for nonces, and record what they saw. The key's
// storage on Node (a 0600 JWK file) is checked on disk. End to end against the Kalm server:
// dpop-flow.test.ts.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDpop } from '../../device-client/src/dpop.js';
import { getAccessToken, MemoryTokenStore, OAuthResponseError, type Pairing } from '../../device-client/src/index.js';
import { FileTokenStore } from '../../device-client/src/node/index.js';
import { fakeClock } from '../helpers/clock.js';

interface Seen {
  method: string;
  path: string;
  authorization?: string;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  body: string;
}

const clock = fakeClock();
const dir = mkdtempSync(path.join(tmpdir(), 'kalm-dpop-'));
let server: Server;
let base: string;
let seen: Seen[] = [];
// The nonce the server wants next; undefined: none asked for.
let wanted: string | undefined;
let issued = 0;

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
};

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = await readBody(req);
    const proof = req.headers.dpop as string | undefined;
    if (!proof) return json(res, 400, { error: 'invalid_dpop_proof', error_description: 'no proof' });
    // The receiving side's check: signature by the embedded key, typ and alg.
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
    const url = new URL(req.url!, base);
    seen.push({ method: req.method!, path: url.pathname, authorization: req.headers.authorization, header: protectedHeader, claims: payload, body });
    const next = `n-${seen.length}`;
    if (wanted && payload.nonce !== wanted) {
      wanted = next;
      if (url.pathname === '/token') return json(res, 400, { error: 'use_dpop_nonce' }, { 'dpop-nonce': next });
      res.writeHead(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"', 'dpop-nonce': next }).end();
      return;
    }
    if (wanted) wanted = next;
    const nonce: Record<string, string> = wanted ? { 'dpop-nonce': next } : {};
    if (url.pathname === '/token') {
      const { jkt } = { jkt: await calculateJwkThumbprint(protectedHeader.jwk!) };
      return json(res, 200, { access_token: `at-${++issued}-${jkt}`, token_type: 'DPoP', expires_in: 3600, refresh_token: `rt-${issued}` }, nonce);
    }
    json(res, 200, { ok: true, authorization: req.headers.authorization }, nonce);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function reset(nonce?: string) {
  seen = [];
  wanted = nonce;
}

const paired = (over: Partial<Pairing> = {}): Pairing => ({
  accessToken: 'at-0',
  tokenType: 'DPoP',
  expiresAt: clock.now() + 3_600_000,
  refreshToken: 'rt-0',
  scope: 'valuate:read',
  clientId: 'tv',
  tokenEndpoint: `${base}/token`,
  ...over,
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

describe('DPoP proofs on token requests', () => {
  it('signs an ES256 dpop+jwt proof with the public key only, htm and htu without query or fragment, a fresh jti and iat from the clock', async () => {
    reset();
    const store = new MemoryTokenStore();
    await store.save(paired({ expiresAt: clock.now() - 1 }));
    const dpop = await createDpop(store, { timers: clock });
    const token = await dpop.getAccessToken();
    await dpop.getAccessToken({ force: true });

    expect(seen).toHaveLength(2);
    const [first, second] = seen as [Seen, Seen];
    expect(first.header).toEqual({ alg: 'ES256', typ: 'dpop+jwt', jwk: dpop.publicJwk });
    expect(Object.keys(dpop.publicJwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(first.claims).toEqual({ jti: expect.any(String), htm: 'POST', htu: `${base}/token`, iat: Math.floor(clock.now() / 1000) });
    expect(first.claims.jti).not.toBe(second.claims.jti);
    expect(new URLSearchParams(first.body).get('grant_type')).toBe('refresh_token');
    // The token the server bound to the key came back, and the store holds the rotated pair.
    expect(token).toBe(`at-1-${dpop.jkt}`);
    expect(dpop.jkt).toBe(await calculateJwkThumbprint(first.header.jwk as JWK));
    expect(await store.load()).toMatchObject({ accessToken: `at-2-${dpop.jkt}`, refreshToken: 'rt-2', tokenType: 'DPoP' });
  });

  it('leaves requests that are not token requests alone', async () => {
    reset();
    const dpop = await createDpop(new MemoryTokenStore(), { timers: clock });
    const res = await dpop.fetch(`${base}/device_authorization`, { method: 'POST', body: new URLSearchParams({ client_id: 'tv' }) });
    expect(res.status).toBe(400);
    expect((await res.json()) as unknown).toMatchObject({ error_description: 'no proof' });
  });

  it('retries once with the nonce of a use_dpop_nonce answer, and keeps the nonce of every answer for the next proof', async () => {
    reset('first-nonce');
    const store = new MemoryTokenStore();
    await store.save(paired());
    const dpop = await createDpop(store, { timers: clock });
    await dpop.getAccessToken({ force: true });
    expect(seen.map((s) => s.claims.nonce)).toEqual([undefined, 'n-1']);
    // The success answer carried a new nonce: the next refresh uses it at once, no retry.
    await dpop.getAccessToken({ force: true });
    expect(seen.map((s) => s.claims.nonce)).toEqual([undefined, 'n-1', 'n-2']);
  });

  it('gives up after one retry: a second use_dpop_nonce reaches the caller as an OAuth error', async () => {
    reset();
    const store = new MemoryTokenStore();
    await store.save(paired());
    // A server that changes its mind every time: always a new nonce, never satisfied.
    const stubborn: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      wanted = 'never-this';
      return res;
    };
    wanted = 'never-this';
    const dpop = await createDpop(store, { timers: clock, fetch: stubborn });
    const error = await dpop.getAccessToken({ force: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthResponseError);
    expect((error as OAuthResponseError).error).toBe('use_dpop_nonce');
    expect(seen).toHaveLength(2);
    // Not invalid_grant: the pairing is kept.
    expect(await store.load()).toBeDefined();
  });
});

describe('fetchWithToken', () => {
  it('sends Authorization: DPoP and a proof with ath, and answers a resource nonce challenge with one retry', async () => {
    reset('rs-nonce');
    const store = new MemoryTokenStore();
    await store.save(paired());
    const dpop = await createDpop(store, { timers: clock });
    const res = await dpop.fetchWithToken(`${base}/v1/valuations?page=2#top`, { method: 'post', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(2);
    for (const s of seen) {
      expect(s.authorization).toBe('DPoP at-0');
      expect(s.claims).toMatchObject({ htm: 'POST', htu: `${base}/v1/valuations`, ath: sha256('at-0') });
      expect(s.body).toBe('{"a":1}');
    }
    expect(seen.map((s) => s.claims.nonce)).toEqual([undefined, 'n-1']);
  });

  it('refreshes a stale access token first, with a proof, then calls with the new one', async () => {
    reset();
    const store = new MemoryTokenStore();
    await store.save(paired({ expiresAt: clock.now() + 30_000 }));
    const dpop = await createDpop(store, { timers: clock });
    await dpop.fetchWithToken(`${base}/v1/me`);
    expect(seen.map((s) => [s.method, s.path])).toEqual([
      ['POST', '/token'],
      ['GET', '/v1/me'],
    ]);
    const token = (await store.load())!.accessToken;
    expect(seen[1]!.authorization).toBe(`DPoP ${token}`);
    expect(seen[1]!.claims.ath).toBe(sha256(token));
  });

  it('resolves a URL relative to the page, as fetch does, and names the absolute URL in htu', async () => {
    reset();
    const store = new MemoryTokenStore();
    await store.save(paired());
    const dpop = await createDpop(store, { timers: clock });
    // A page at base/app/ (the only browser global the client reads for this).
    vi.stubGlobal('location', { href: `${base}/app/index.html` });
    try {
      const res = await dpop.fetchWithToken('../v1/me');
      expect(res.status).toBe(200);
      expect(seen[0]!.claims.htu).toBe(`${base}/v1/me`);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('uses one key per store: a second handle on the same store signs with the same key', async () => {
    const store = new MemoryTokenStore();
    const [a, b] = await Promise.all([createDpop(store), createDpop(store)]);
    expect(a.jkt).toBe(b.jkt);
    expect((await createDpop(new MemoryTokenStore())).jkt).not.toBe(a.jkt);
  });
});

describe('the DPoP key in a FileTokenStore', () => {
  it('is written once as a private P-256 JWK with mode 0600 beside the pairing, and read back as a non-extractable key', async () => {
    const file = path.join(dir, 'device', 'pairing.json');
    const store = new FileTokenStore(file);
    expect(store.dpopKeyFile).toBe(path.join(dir, 'device', 'pairing.dpop-key.json'));
    const dpop = await createDpop(store);
    expect(statSync(store.dpopKeyFile).mode & 0o777).toBe(0o600);
    const jwk = JSON.parse(readFileSync(store.dpopKeyFile, 'utf8')) as JWK;
    expect(Object.keys(jwk).sort()).toEqual(['crv', 'd', 'kty', 'x', 'y']);
    expect(await calculateJwkThumbprint(jwk)).toBe(dpop.jkt);
    const { privateKey } = await store.dpopKey();
    expect(privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('jwk', privateKey)).rejects.toThrow();

    // Another process (a new store on the same file) finds the same key; clear() keeps it.
    await store.clear();
    const again = await createDpop(new FileTokenStore(file));
    expect(again.jkt).toBe(dpop.jkt);
    const proof = await again.proof('GET', 'https://rs.example/x');
    expect(decodeProtectedHeader(proof).jwk).toEqual(dpop.publicJwk);
  });

  it('ends up with one key when two stores create it at the same time', async () => {
    const file = path.join(dir, 'race', 'pairing.json');
    const handles = await Promise.all([1, 2, 3].map(() => createDpop(new FileTokenStore(file))));
    expect(new Set(handles.map((h) => h.jkt)).size).toBe(1);
    expect(await calculateJwkThumbprint(JSON.parse(readFileSync(`${path.dirname(file)}/pairing.dpop-key.json`, 'utf8')) as JWK)).toBe(handles[0]!.jkt);
  });

  it('refuses a key file that is not a P-256 private key', async () => {
    const file = path.join(dir, 'bad', 'pairing.json');
    const store = new FileTokenStore(file);
    await store.dpopKey();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(store.dpopKeyFile, JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }));
    await expect(createDpop(new FileTokenStore(file))).rejects.toThrow(/P-256 private JWK/);
  });
});

describe('a plain getAccessToken on a DPoP pairing', () => {
  it('sends no proof (so the core stays DPoP-free): the server refuses, which is why the handle has its own getAccessToken', async () => {
    reset();
    const store = new MemoryTokenStore();
    await store.save(paired());
    const error = await getAccessToken(store, { force: true }).catch((e: unknown) => e);
    expect((error as OAuthResponseError).error).toBe('invalid_dpop_proof');
    expect(seen).toHaveLength(0);
  });
});
