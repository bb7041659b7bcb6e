// DPoP (RFC 9449) from the device's side, end to end against the real server on 127.0.0.1:
// the device flow yields a DPoP token bound to the key in the 0600 file, a refresh from a new
// device process (the key read back from that file) keeps the binding, the nonce round trip
// when the server requires nonces, and fetchWithToken against a resource server that checks
// the token and its proof with jose.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, createLocalJWKSet, EmbeddedJWK, jwtVerify, type JSONWebKeySet, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { accessTokenClaims } from '../../device-client/src/claims.js';
import { createDpop, type Dpop } from '../../device-client/src/dpop.js';
import { getAccessToken, PairingLostError, startDeviceAuthorization, type Pairing, type TokenStore } from '../../device-client/src/index.js';
import { FileTokenStore } from '../../device-client/src/node/index.js';
import { watchPairing, webSocketPush, type PushStatus, type WebSocketConstructor } from '../../device-client/src/push.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { manualTimers } from './manual-timers.js';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'kalm-dpop-flow-'));
let server: TestServer;
let nonceServer: TestServer;
let clientId: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ clientId } = await server.createClient({ name: 'Living-room TV' }));
  nonceServer = await startTestServer({ config: { dpopNonce: true } });
  await nonceServer.createClient({ id: clientId, name: 'Living-room TV' });
});
afterAll(async () => {
  await server?.stop();
  await nonceServer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Pair `store` through the device flow with DPoP, approved through core after the first poll. */
async function pairWithDpop(on: TestServer, store: TokenStore, dpop: Dpop): Promise<Pairing> {
  const timers = manualTimers(on.clock);
  const auth = await startDeviceAuthorization({ issuer: on.url, clientId, scope: 'valuate:read', store, timers, push: false, fetch: dpop.fetch });
  const pairing = auth.wait();
  (await timers.next()).fire(); // a pending poll, with a proof
  await on.core.deviceFlow.approve(auth.userCode, (await on.createUser()).id, ['valuate:read']);
  (await timers.next()).fire(); // the redemption
  return pairing;
}

const jktOf = (accessToken: string) => (accessTokenClaims(accessToken)?.cnf as { jkt?: string } | undefined)?.jkt;

// A device process: loads the pairing and the key from the files and forces a refresh, with the
// test server's (fake) clock for the proof's iat. Prints the new pairing's token and jkt.
const DEVICE_PROCESS = `
import { createDpop } from ${JSON.stringify(path.resolve('device-client/src/dpop.ts'))};
import { FileTokenStore } from ${JSON.stringify(path.resolve('device-client/src/node/index.ts'))};
const store = new FileTokenStore(process.argv[2]);
const dpop = await createDpop(store, { timers: { now: () => Number(process.argv[3]) } });
const accessToken = await dpop.getAccessToken({ force: true });
console.log(JSON.stringify({ accessToken, jkt: dpop.jkt }));
`;

describe('DPoP device flow against the real server', () => {
  it('pairs with token_type DPoP bound to the stored key, and refreshes from a restarted device process with the key read back from its 0600 file', async () => {
    const file = path.join(dir, 'tv', 'pairing.json');
    const store = new FileTokenStore(file);
    const dpop = await createDpop(store, { timers: server.clock });
    const pairing = await pairWithDpop(server, store, dpop);

    expect(pairing.tokenType).toBe('DPoP');
    const keyFile = JSON.parse(readFileSync(store.dpopKeyFile, 'utf8')) as JWK;
    expect(statSync(store.dpopKeyFile).mode & 0o777).toBe(0o600);
    const { kty, crv, x, y } = keyFile;
    const thumbprint = await calculateJwkThumbprint({ kty, crv, x, y } as JWK);
    expect(jktOf(pairing.accessToken)).toBe(thumbprint);
    expect(dpop.jkt).toBe(thumbprint);

    // The device restarts: a new process, nothing in memory, the key only in the file.
    const script = path.join(dir, 'device.mts');
    writeFileSync(script, DEVICE_PROCESS);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', script, file, String(server.clock.now())], { cwd: path.resolve('.') });
    const restarted = JSON.parse(stdout) as { accessToken: string; jkt: string };
    expect(restarted.jkt).toBe(thumbprint);
    expect(jktOf(restarted.accessToken)).toBe(thumbprint);
    const saved = (await store.load())!;
    expect(saved.accessToken).toBe(restarted.accessToken);
    expect(saved.refreshToken).not.toBe(pairing.refreshToken);
    expect(statSync(store.dpopKeyFile).mode & 0o777).toBe(0o600);

    // And again from this process: the same key keeps refreshing the rotated token.
    expect(jktOf(await dpop.getAccessToken({ force: true }))).toBe(thumbprint);
  });

  it('loses a bound pairing that is refreshed without a proof, or with another key', async () => {
    const store = new FileTokenStore(path.join(dir, 'unbound', 'pairing.json'));
    const dpop = await createDpop(store, { timers: server.clock });
    const pairing = await pairWithDpop(server, store, dpop);

    // Another device's key on a copy of the pairing: the server refuses the refresh token.
    const thief = new FileTokenStore(path.join(dir, 'thief', 'pairing.json'));
    await thief.save(pairing);
    const other = await createDpop(thief, { timers: server.clock });
    await expect(other.getAccessToken({ force: true })).rejects.toBeInstanceOf(PairingLostError);
    // The core's getAccessToken alone sends no proof: refused the same way.
    await expect(getAccessToken(store, { force: true, timers: server.clock })).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await store.load()).toBeUndefined();
  });

  it('answers the server nonce challenge: use_dpop_nonce, then one retry with the DPoP-Nonce, and later proofs carry the latest nonce', async () => {
    const answers: Array<{ status: number; error?: unknown; nonce: string | null }> = [];
    // The real answers at the HTTP boundary, recorded on their way to the client.
    const recording: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const body = (await res
        .clone()
        .json()
        .catch(() => ({}))) as { error?: unknown };
      if (String(input).endsWith('/token')) answers.push({ status: res.status, error: body.error, nonce: res.headers.get('dpop-nonce') });
      return res;
    };
    const store = new FileTokenStore(path.join(dir, 'nonce', 'pairing.json'));
    const dpop = await createDpop(store, { timers: nonceServer.clock, fetch: recording });
    const pairing = await pairWithDpop(nonceServer, store, dpop);

    expect(pairing.tokenType).toBe('DPoP');
    expect(answers[0]).toEqual({ status: 400, error: 'use_dpop_nonce', nonce: expect.any(String) });
    // The retry with that nonce is a normal pending poll; the redemption needs no challenge.
    expect(answers.slice(1).map((a) => a.error ?? a.status)).toEqual(['authorization_pending', 200]);
    expect(answers.every((a) => a.nonce)).toBe(true);
    await dpop.getAccessToken({ force: true });
    expect(answers.at(-1)!.status).toBe(200);
    expect(answers).toHaveLength(4);
  });
});

describe('watching a DPoP pairing over push', () => {
  /** The statuses watchPairing reports until the first one, and a way to stop it. */
  function watch(store: TokenStore, dpop: Dpop, withProof: boolean) {
    const plain = webSocketPush(WebSocket as unknown as WebSocketConstructor);
    return new Promise<PushStatus | 'closed'>((resolve) => {
      const stop = watchPairing(store, {
        push: withProof ? dpop.push(plain) : plain,
        fetch: dpop.fetch,
        timers: manualTimers(server.clock),
        onRevoked: () => {},
        onStatus: (status) => {
          stop();
          resolve(status);
        },
      });
    });
  }

  it('subscribes with a proof of the key (htm GET, htu the push URL, ath), and is refused without one', async () => {
    const store = new FileTokenStore(path.join(dir, 'push', 'pairing.json'));
    const dpop = await createDpop(store, { timers: server.clock });
    await pairWithDpop(server, store, dpop);
    expect(await watch(store, dpop, true)).toBe('paired');
    expect(await watch(store, dpop, false)).toBe('closed');
  });
});

describe('fetchWithToken against a resource server', () => {
  let resource: Server;
  let resourceUrl: string;
  const seenJtis = new Set<string>();
  let nonce: string | undefined;

  // A resource server as RFC 9449 §7 asks: the access token must be a JWT of our issuer whose
  // cnf.jkt is the thumbprint of the key that signed the proof; the proof must name this
  // request (htm, htu), this token (ath), be fresh (iat), unused (jti) and carry our nonce.
  beforeAll(async () => {
    const jwks = createLocalJWKSet((await (await fetch(`${server.url}/jwks.json`)).json()) as JSONWebKeySet);
    resource = createServer(async (req, res) => {
      const refuse = (error: string, extra: Record<string, string> = {}) => {
        res.writeHead(401, { 'www-authenticate': `DPoP error="${error}"`, ...extra }).end();
      };
      try {
        const [scheme, token] = (req.headers.authorization ?? '').split(' ');
        if (scheme !== 'DPoP' || !token) return refuse('invalid_token');
        const { payload: claims } = await jwtVerify(token, jwks, { issuer: server.url, currentDate: new Date(server.clock.now()) });
        const { payload: proof, protectedHeader } = await jwtVerify(String(req.headers.dpop), EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
        const htu = new URL(req.url!, resourceUrl);
        htu.search = '';
        const ath = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))).toString('base64url');
        if (proof.htm !== req.method || proof.htu !== htu.href || proof.ath !== ath) return refuse('invalid_dpop_proof');
        if (Math.abs(proof.iat! - server.clock.now() / 1000) > 60 || seenJtis.has(proof.jti!)) return refuse('invalid_dpop_proof');
        seenJtis.add(proof.jti!);
        if ((claims.cnf as { jkt?: string }).jkt !== (await calculateJwkThumbprint(protectedHeader.jwk!))) return refuse('invalid_token');
        if (proof.nonce !== nonce) {
          nonce = `rs-${seenJtis.size}`;
          return refuse('use_dpop_nonce', { 'dpop-nonce': nonce });
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: claims.sub, method: req.method }));
      } catch (error) {
        refuse('invalid_token', { 'x-reason': String((error as Error).message).slice(0, 100) });
      }
    });
    await new Promise<void>((resolve) => resource.listen(0, '127.0.0.1', resolve));
    resourceUrl = `http://127.0.0.1:${(resource.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise((resolve) => resource.close(resolve)));

  it('calls with Authorization: DPoP and an ath proof the resource server accepts, retrying once on its nonce challenge', async () => {
    const store = new FileTokenStore(path.join(dir, 'rs', 'pairing.json'));
    const dpop = await createDpop(store, { timers: server.clock });
    await pairWithDpop(server, store, dpop);
    nonce = 'first';

    const res = await dpop.fetchWithToken(`${resourceUrl}/v1/valuations?page=1`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sub: expect.any(String), method: 'POST' });
    expect(seenJtis.size).toBe(2);
    // The nonce is kept: the next call is accepted at once.
    expect((await dpop.fetchWithToken(`${resourceUrl}/v1/me`)).status).toBe(200);
    expect(seenJtis.size).toBe(3);

    // Stale after an hour and a half: refreshed first (with a proof), then accepted.
    server.clock.advance(90 * 60_000);
    const before = (await store.load())!.accessToken;
    expect((await dpop.fetchWithToken(`${resourceUrl}/v1/me`)).status).toBe(200);
    expect((await store.load())!.accessToken).not.toBe(before);

    // Another key presenting this token is refused by the resource server.
    const thief = await createDpop(new FileTokenStore(path.join(dir, 'rs-thief', 'pairing.json')), { timers: server.clock });
    const stolen = await fetch(`${resourceUrl}/v1/me`, {
      headers: { authorization: `DPoP ${(await store.load())!.accessToken}`, dpop: await thief.proof('GET', `${resourceUrl}/v1/me`, (await store.load())!.accessToken) },
    });
    expect(stolen.status).toBe(401);
    expect(stolen.headers.get('www-authenticate')).toBe('DPoP error="invalid_token"');
  });
});

describe('fetchWithToken against the README resource-server recipe', () => {
  it('is accepted by the recipe as written, on the real clock (the default one)', async () => {
    // The recipe reads the real clock: a server whose clock is now, and a handle with the default clock.
    const live = await startTestServer({ clockStart: Date.now() });
    const moduleDir = path.resolve('node_modules/.cache/kalm-dpop-client-recipe');
    try {
      await live.createClient({ id: clientId, name: 'Living-room TV' });
      const recipe = /### Resource server: verifying a DPoP-bound token[\s\S]*?```js\n([\s\S]*?)```/.exec(readFileSync('README.md', 'utf8'))![1]!;
      // Inside the repository, so the module resolves jose from node_modules.
      mkdirSync(moduleDir, { recursive: true });
      const file = path.join(moduleDir, `verify-dpop-${process.pid}.mjs`);
      writeFileSync(file, recipe.replaceAll('http://localhost:8080', live.url));
      const { verifyDpopRequest } = (await import(pathToFileURL(file).href)) as {
        verifyDpopRequest: (method: string, url: string, headers: Record<string, string | string[] | undefined>) => Promise<Record<string, unknown>>;
      };
      const api = createServer((req, res) => {
        verifyDpopRequest(req.method!, `${apiUrl}${req.url}`, req.headers).then(
          (claims) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(claims)),
          (err: Error) => res.writeHead(401, { 'www-authenticate': 'DPoP error="invalid_dpop_proof"' }).end(err.message),
        );
      });
      await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
      const apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
      try {
        const store = new FileTokenStore(path.join(dir, 'recipe', 'pairing.json'));
        const dpop = await createDpop(store);
        await pairWithDpop(live, store, dpop);
        const res = await dpop.fetchWithToken(`${apiUrl}/valuations?page=1`);
        expect(await res.text()).toContain(`"jkt":"${dpop.jkt}"`);
        expect(res.status).toBe(200);
      } finally {
        await new Promise((resolve) => api.close(resolve));
      }
    } finally {
      await live.stop();
      rmSync(moduleDir, { recursive: true, force: true });
    }
  });
});
