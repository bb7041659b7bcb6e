/**
 * DPoP (RFC 9449) with the unmodified oauth4webapi (v3) as the device: the device flow and a
 * refresh with `oauth.DPoP(client, keyPair)`, against a server with nonces off and one with
 * nonces on (the use_dpop_nonce round trip as oauth4webapi does it: it keeps the nonce it was
 * sent and the caller retries once), and its resource-server validation of the bound token.
 */
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { startTestServer, type TestServer } from '../helpers/server.js';

const http = { [oauth.allowInsecureRequests]: true } as const;

interface Deployment {
  server: TestServer;
  as: oauth.AuthorizationServer;
}

async function deploy(dpopNonce: boolean): Promise<Deployment> {
  const server = await startTestServer({ config: { dpopNonce } });
  // oauth4webapi dates its proofs with the real clock.
  server.clock.set(Date.now());
  const issuer = new URL(server.url);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...http }));
  return { server, as };
}

let plain: Deployment;
let nonces: Deployment;

beforeAll(async () => {
  [plain, nonces] = await Promise.all([deploy(false), deploy(true)]);
});
afterAll(async () => {
  await plain?.server.stop();
  await nonces?.server.stop();
});

/** Run a request, retrying once when the server asks for a nonce, as oauth4webapi's docs say. */
async function withNonceRetry<T>(attempt: () => Promise<T>, seen: { nonceErrors: number }): Promise<T> {
  try {
    return await attempt();
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    seen.nonceErrors++;
    return attempt();
  }
}

async function deviceFlowWithDpop({ server, as }: Deployment) {
  const registered = await server.createClient();
  const client: oauth.Client = { client_id: registered.clientId };
  const auth = oauth.None();
  const keyPair = await oauth.generateKeyPair('ES256');
  const DPoP = oauth.DPoP(client, keyPair);
  const seen = { nonceErrors: 0 };

  const authorization = await oauth.processDeviceAuthorizationResponse(
    as,
    client,
    await oauth.deviceAuthorizationRequest(as, client, auth, { scope: 'valuate:read' }, http),
  );
  await server.core.deviceFlow.approve(authorization.user_code, (await server.createUser()).id, ['valuate:read']);
  const tokens = await withNonceRetry(
    async () => oauth.processDeviceCodeResponse(as, client, await oauth.deviceCodeGrantRequest(as, client, auth, authorization.device_code, { DPoP, ...http })),
    seen,
  );
  const refreshed = await withNonceRetry(
    async () => oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, { DPoP, ...http })),
    seen,
  );
  return { server, as, client, auth, keyPair, DPoP, tokens, refreshed, seen };
}

/** The resource server's side, as oauth4webapi does it: the bound JWT and the request's proof. */
async function validateAtResourceServer({ server, as }: Deployment, accessToken: string, keyPair: CryptoKeyPair, client: oauth.Client) {
  const url = 'https://api.example.test/valuations';
  // Build the request as oauth4webapi's protectedResourceRequest would send it (DPoP header and scheme).
  let sent: Request | undefined;
  await oauth.protectedResourceRequest(accessToken, 'GET', new URL(url), new Headers(), null, {
    DPoP: oauth.DPoP(client, keyPair),
    [oauth.customFetch]: async (input, init) => {
      sent = new Request(input, { method: init.method, headers: init.headers });
      return new Response('{}', { status: 200 });
    },
  });
  return oauth.validateJwtAccessToken(as, sent!, server.core.config.accessTokenAudience, { requireDPoP: true, ...http });
}

describe('interop: oauth4webapi v3 with DPoP', () => {
  it('completes the device flow and a refresh with DPoP-bound tokens, nonces off', async () => {
    const run = await deviceFlowWithDpop(plain);
    expect(run.seen.nonceErrors).toBe(0);
    expect(run.tokens.token_type).toBe('dpop');
    expect(run.refreshed.token_type).toBe('dpop');
    expect(run.refreshed.refresh_token).not.toBe(run.tokens.refresh_token);
    const claims = await validateAtResourceServer(plain, run.refreshed.access_token, run.keyPair, run.client);
    expect(claims.cnf).toEqual({ jkt: await calculateJwkThumbprint(await exportJWK(run.keyPair.publicKey)) });
    // The refresh token is bound: oauth4webapi without the handle gets invalid_grant.
    const unbound = oauth.refreshTokenGrantRequest(plain.as, run.client, run.auth, run.refreshed.refresh_token!, http).then((res) => oauth.processRefreshTokenResponse(plain.as, run.client, res));
    await expect(unbound).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('completes the device flow and a refresh with the use_dpop_nonce round trip, nonces on', async () => {
    const run = await deviceFlowWithDpop(nonces);
    // One nonce error on the first token request; the handle keeps the nonce for the refresh.
    expect(run.seen.nonceErrors).toBe(1);
    expect(run.tokens.token_type).toBe('dpop');
    expect(run.refreshed.token_type).toBe('dpop');
    await validateAtResourceServer(nonces, run.refreshed.access_token, run.keyPair, run.client);
  });
});
