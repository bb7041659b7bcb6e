/**
 * DPoP (RFC 9449) at the token endpoint, black box over HTTP with the fake clock: proofs are
 * checked (§4.3), tokens bound (§5, §6), public clients' refresh tokens bound to the key (§5.0),
 * replays refused (§11.1), `dpop_jkt` honoured (§10), and clients that must use DPoP held to it (§5.2).
 */
import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { csrfOf, PageClient, pkce } from '../authcode/support.js';
import { errorOf, introspect, createResourceServer, type Tokens } from './flow.js';
import { dpopKey, proof, type DpopKey, type ProofOptions } from './dpop-proofs.js';

let server: TestServer;
let tokenUrl: string;
let key: DpopKey;

beforeAll(async () => {
  server = await startTestServer();
  tokenUrl = `${server.url}/token`;
  key = await dpopKey();
});
afterAll(() => server.stop());

/** POST /token with a DPoP header made of `proofOf` (or none). */
function token(form: Record<string, string>, dpop?: string, init: { basic?: [string, string] } = {}) {
  return server.post('/token', form, { ...init, headers: dpop === undefined ? {} : { dpop } });
}

function proofFor(k: DpopKey = key, options: ProofOptions = {}) {
  return proof(k, server.clock, tokenUrl, options);
}

/** A device flow approved through core, its code not yet redeemed. */
async function approvedCode(clientId: string, auth: { basic?: [string, string] } = {}): Promise<string> {
  const res = await server.post('/device_authorization', auth.basic ? { scope: 'valuate:read' } : { client_id: clientId, scope: 'valuate:read' }, auth);
  const flow = (await res.json()) as { device_code: string; user_code: string };
  await server.core.deviceFlow.approve(flow.user_code, (await server.createUser()).id, ['valuate:read']);
  return flow.device_code;
}

async function redeemWithProof(clientId: string, k: DpopKey = key): Promise<Tokens> {
  const deviceCode = await approvedCode(clientId);
  const res = await token({ grant_type: GRANT_TYPES.deviceCode, device_code: deviceCode, client_id: clientId }, await proofFor(k));
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Tokens;
}

async function expectProofError(res: Response, error = 'invalid_dpop_proof') {
  const { status, body } = await errorOf(res);
  expect({ status, error: body.error }).toEqual({ status: 400, error });
  return body.error_description as string;
}

describe('DPoP at /token', () => {
  it('binds the device flow tokens to the proof key: token_type DPoP, cnf.jkt, and introspection says so', async () => {
    const { clientId } = await server.createClient();
    const tokens = await redeemWithProof(clientId);
    expect(tokens.token_type).toBe('DPoP');
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt: key.jkt });
    const rs = await createResourceServer(server, 'basic');
    expect(await introspect(server, rs, tokens.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
    expect(await introspect(server, rs, tokens.refresh_token!, 'refresh_token')).toMatchObject({ active: true, cnf: { jkt: key.jkt } });
  });

  it('checks the proof on a pending poll too, and answers authorization_pending to a good one', async () => {
    const { clientId } = await server.createClient();
    const flow = (await (await server.post('/device_authorization', { client_id: clientId })).json()) as { device_code: string };
    const form = { grant_type: GRANT_TYPES.deviceCode, device_code: flow.device_code, client_id: clientId };
    expect((await errorOf(await token(form, await proofFor()))).body.error).toBe('authorization_pending');
    await expectProofError(await token(form, 'not-a-proof'));
  });

  it('refuses a refresh of a public client bound token without a proof, or with a proof of another key, and leaves the family alive', async () => {
    const { clientId } = await server.createClient();
    const tokens = await redeemWithProof(clientId);
    const form = { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId };
    const missing = await errorOf(await token(form));
    expect(missing).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const other = await errorOf(await token(form, await proofFor(await dpopKey())));
    expect(other).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const refreshed = await token(form, await proofFor());
    expect(refreshed.status, await refreshed.clone().text()).toBe(200);
    const next = (await refreshed.json()) as Tokens;
    expect(next.token_type).toBe('DPoP');
    expect(decodeJwt(next.access_token).cnf).toEqual({ jkt: key.jkt });
    // The rotated token stays bound to the same key.
    expect((await errorOf(await token({ ...form, refresh_token: next.refresh_token! }))).body.error).toBe('invalid_grant');
  });

  it('leaves a confidential client refresh token unbound (bound by client authentication, RFC 9449 §5.0)', async () => {
    const { clientId, clientSecret } = await server.createClient({ type: 'confidential' });
    const basic: [string, string] = [clientId, clientSecret!];
    const deviceCode = await approvedCode(clientId, { basic });
    const res = await token({ grant_type: GRANT_TYPES.deviceCode, device_code: deviceCode }, await proofFor(), { basic });
    const tokens = (await res.json()) as Tokens;
    expect(tokens.token_type).toBe('DPoP');
    const plain = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, undefined, { basic });
    expect(plain.status).toBe(200);
    const next = (await plain.json()) as Tokens;
    expect(next.token_type).toBe('Bearer');
    expect(decodeJwt(next.access_token).cnf).toBeUndefined();
    // With a proof of a new key the new access token is bound to that key.
    const other = await dpopKey('RS256');
    const bound = (await (await token({ grant_type: 'refresh_token', refresh_token: next.refresh_token! }, await proofFor(other), { basic })).json()) as Tokens;
    expect(decodeJwt(bound.access_token).cnf).toEqual({ jkt: other.jkt });
  });

  it('refuses a replayed proof (same jti) within the window', async () => {
    const { clientId } = await server.createClient();
    const tokens = await redeemWithProof(clientId);
    const once = await proofFor();
    const form = { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId };
    const first = await token(form, once);
    expect(first.status).toBe(200);
    const next = (await first.json()) as Tokens;
    expect(await expectProofError(await token({ ...form, refresh_token: next.refresh_token! }, once))).toContain('jti');
    // A new proof with the same jti but another key is another proof.
    const other = await dpopKey();
    const flow = (await (await server.post('/device_authorization', { client_id: clientId })).json()) as { device_code: string };
    const sameJti = await proofFor(other, { jti: decodeJwt(once).jti as string });
    expect((await errorOf(await token({ grant_type: GRANT_TYPES.deviceCode, device_code: flow.device_code, client_id: clientId }, sameJti))).body.error).toBe('authorization_pending');
  });

  it('refuses a proof for another URL or method, and accepts htu with a query, in other letter case or with the default port', async () => {
    const { clientId } = await server.createClient();
    const deviceCode = await approvedCode(clientId);
    const form = { grant_type: GRANT_TYPES.deviceCode, device_code: deviceCode, client_id: clientId };
    expect(await expectProofError(await token(form, await proof(key, server.clock, `${server.url}/revoke`)))).toContain('htu');
    expect(await expectProofError(await token(form, await proof(key, server.clock, 'https://elsewhere.example/token')))).toContain('htu');
    expect(await expectProofError(await token(form, await proofFor(key, { htm: 'GET' })))).toContain('htm');
    expect(await expectProofError(await token(form, await proofFor(key, { claims: { htu: 42 } })))).toContain('htu');
    const url = new URL(server.url);
    const variant = `HTTP://${url.hostname.toUpperCase()}:${url.port}/./token?x=1#f`;
    const res = await token(form, await proof(key, server.clock, variant));
    expect(res.status, await res.clone().text()).toBe(200);
  });

  it('refuses a stale or future iat outside the 60 s window, and accepts one at its edges', async () => {
    const { clientId } = await server.createClient();
    const flow = (await (await server.post('/device_authorization', { client_id: clientId })).json()) as { device_code: string };
    const form = { grant_type: GRANT_TYPES.deviceCode, device_code: flow.device_code, client_id: clientId };
    const now = Math.floor(server.clock.now() / 1000);
    expect(await expectProofError(await token(form, await proofFor(key, { iat: now - 61 })))).toContain('too old');
    expect(await expectProofError(await token(form, await proofFor(key, { iat: now + 61 })))).toContain('future');
    expect(await expectProofError(await token(form, await proofFor(key, { claims: { iat: 'now' } })))).toMatch(/iat/);
    for (const iat of [now - 60, now + 60]) {
      server.clock.advance(10_000); // past the poll interval: no slow_down
      expect((await errorOf(await token(form, await proofFor(key, { iat: iat + 10 })))).body.error).toBe('authorization_pending');
    }
    // A proof made now and presented after the window is stale.
    const made = await proofFor();
    server.clock.advance(61_000);
    expect(await expectProofError(await token(form, made))).toContain('too old');
  });

  it('refuses bad algorithms, types, private keys in the jwk, missing claims, and several DPoP headers', async () => {
    const { clientId } = await server.createClient();
    const flow = (await (await server.post('/device_authorization', { client_id: clientId })).json()) as { device_code: string };
    const form = { grant_type: GRANT_TYPES.deviceCode, device_code: flow.device_code, client_id: clientId };
    const secret = new TextEncoder().encode('a shared secret of thirty-two bytes!');
    const hs256 = await new SignJWT({ jti: 'x', htm: 'POST', htu: tokenUrl, iat: Math.floor(server.clock.now() / 1000) })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: Buffer.from(secret).toString('base64url') } } as never)
      .sign(secret);
    expect(await expectProofError(await token(form, hs256))).toMatch(/alg|public/);
    const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
    const unsigned = `${encode({ alg: 'none', typ: 'dpop+jwt', jwk: key.publicJwk })}.${encode({ jti: 'y', htm: 'POST', htu: tokenUrl, iat: Math.floor(server.clock.now() / 1000) })}.`;
    expect(await expectProofError(await token(form, unsigned))).toContain('alg');
    const es384 = await dpopKey('ES384');
    expect(await expectProofError(await token(form, await proofFor(es384)))).toContain('alg');
    expect(await expectProofError(await token(form, await proofFor(key, { header: { typ: 'JWT' } })))).toContain('typ');
    const { exportJWK } = await import('jose');
    const privateJwk = await exportJWK(key.privateKey);
    expect(await expectProofError(await token(form, await proofFor(key, { header: { jwk: privateJwk } })))).toContain('public');
    expect(await expectProofError(await token(form, await proofFor(key, { header: { jwk: (await dpopKey()).publicJwk } })))).toContain('verify');
    expect(await expectProofError(await token(form, await proofFor(key, { claims: { jti: undefined } })))).toMatch(/jti/);
    const good = await proofFor();
    const twice = await fetch(tokenUrl, {
      method: 'POST',
      headers: [['content-type', 'application/x-www-form-urlencoded'], ['dpop', good], ['dpop', await proofFor()]],
      body: new URLSearchParams(form),
    });
    expect(await expectProofError(twice)).toContain('one DPoP header');
    // RS256 proofs are accepted as well.
    server.clock.advance(10_000);
    expect((await errorOf(await token(form, await proofFor(await dpopKey('RS256'))))).body.error).toBe('authorization_pending');
  });

  it('answers every malformed proof invalid_dpop_proof, never a 5xx', async () => {
    const { clientId } = await server.createClient();
    const flow = (await (await server.post('/device_authorization', { client_id: clientId })).json()) as { device_code: string };
    const form = { grant_type: GRANT_TYPES.deviceCode, device_code: flow.device_code, client_id: clientId };
    const encode = (part: unknown) => Buffer.from(typeof part === 'string' ? part : JSON.stringify(part)).toString('base64url');
    const claims = encode({ jti: 'z', htm: 'POST', htu: tokenUrl, iat: Math.floor(server.clock.now() / 1000) });
    const garbage = [
      '', '..', 'a.b.c', `${encode('not json')}.${claims}.sig`, `${encode([1])}.${claims}.sig`,
      `${encode({ alg: 'ES256', typ: 'dpop+jwt', jwk: [] })}.${claims}.sig`,
      `${encode({ alg: 'ES256', typ: 'dpop+jwt', jwk: { kty: 'EC', x: 'AA' } })}.${claims}.sig`,
      `${encode({ alg: 'RS256', typ: 'dpop+jwt', jwk: { kty: 'RSA', n: 'AQAB', e: 'AQAB' } })}.${claims}.sig`,
      `${encode({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk })}.${encode('[]')}.sig`,
      'x'.repeat(9000),
    ];
    for (const value of garbage) await expectProofError(await token(form, value));
  });

  it('holds a client registered with require_dpop to a proof on every grant', async () => {
    const { clientId } = await server.createClient({ requireDpop: true });
    const deviceCode = await approvedCode(clientId);
    const form = { grant_type: GRANT_TYPES.deviceCode, device_code: deviceCode, client_id: clientId };
    expect(await expectProofError(await token(form))).toContain('must send a DPoP proof');
    const tokens = (await (await token(form, await proofFor())).json()) as Tokens;
    expect(tokens.token_type).toBe('DPoP');
  });

  it('binds client credentials tokens too', async () => {
    const { clientId, clientSecret } = await server.createClient({ type: 'confidential', grantTypes: [GRANT_TYPES.clientCredentials] });
    const res = await token({ grant_type: 'client_credentials', scope: 'valuate:read' }, await proofFor(), { basic: [clientId, clientSecret!] });
    const tokens = (await res.json()) as Tokens;
    expect(tokens.token_type).toBe('DPoP');
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt: key.jkt });
  });

  it('advertises the proof algorithms, lets browsers send DPoP and read DPoP-Nonce', async () => {
    const metadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(metadata.dpop_signing_alg_values_supported).toEqual(['ES256', 'RS256']);
    const preflight = await fetch(tokenUrl, { method: 'OPTIONS', headers: { origin: 'https://tv.example', 'access-control-request-headers': 'dpop' } });
    expect(preflight.headers.get('access-control-allow-headers')).toContain('DPoP');
    const answer = await token({ grant_type: 'refresh_token', refresh_token: 'x', client_id: 'nobody' });
    expect(answer.headers.get('access-control-expose-headers')).toBe('DPoP-Nonce');
  });
});

describe('DPoP with authorization codes (dpop_jkt, RFC 9449 §10)', () => {
  const REDIRECT = 'http://127.0.0.1:7777/callback';
  let spa: string;
  let browser: PageClient;

  beforeAll(async () => {
    ({ clientId: spa } = await server.createClient({ grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT] }));
    const user = await server.createUser();
    browser = new PageClient(server);
    await browser.signIn(user.username, user.password);
  });

  /** The code of an authorization request naming `dpopJkt`, approved on the consent page. */
  async function codeFor(dpopJkt: string | undefined): Promise<{ code: string; verifier: string }> {
    const { verifier, challenge } = pkce();
    const query = new URLSearchParams({ response_type: 'code', client_id: spa, redirect_uri: REDIRECT, scope: 'valuate:read', code_challenge: challenge, code_challenge_method: 'S256', prompt: 'consent' });
    if (dpopJkt !== undefined) query.set('dpop_jkt', dpopJkt);
    const path = `/authorize?${query}`;
    const page = await browser.get(path);
    expect(page.status).toBe(200);
    const res = await browser.post(path, new URLSearchParams({ csrf_token: csrfOf(await page.text()), decision: 'approve', scope: 'valuate:read' }));
    const location = new URL(res.headers.get('location')!);
    return { code: location.searchParams.get('code')!, verifier };
  }

  function redeem(code: string, verifier: string, dpop?: string) {
    return token({ grant_type: 'authorization_code', client_id: spa, code, code_verifier: verifier, redirect_uri: REDIRECT }, dpop);
  }

  it('redeems a code whose request named the key only with a proof of that key', async () => {
    const named = await codeFor(key.jkt);
    expect((await errorOf(await redeem(named.code, named.verifier))).body.error).toBe('invalid_grant');
    expect((await errorOf(await redeem(named.code, named.verifier, await proofFor(await dpopKey())))).body.error).toBe('invalid_grant');
    const res = await redeem(named.code, named.verifier, await proofFor());
    expect(res.status, await res.clone().text()).toBe(200);
    const tokens = (await res.json()) as Tokens;
    expect(tokens.token_type).toBe('DPoP');
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt: key.jkt });
  });

  it('redeems a code without dpop_jkt with or without a proof, and refuses a malformed dpop_jkt', async () => {
    const plain = await codeFor(undefined);
    expect(((await (await redeem(plain.code, plain.verifier)).json()) as Tokens).token_type).toBe('Bearer');
    const { challenge } = pkce();
    const query = new URLSearchParams({ response_type: 'code', client_id: spa, redirect_uri: REDIRECT, scope: 'valuate:read', code_challenge: challenge, code_challenge_method: 'S256', dpop_jkt: 'short' });
    const res = await browser.get(`/authorize?${query}`);
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
  });
});
