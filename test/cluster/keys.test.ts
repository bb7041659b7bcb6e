/**
 * Issue 14 acceptance: signing keys live in the database, so `kalm keys rotate` (the CLI on
 * DATABASE_URL, beside the running instances) reaches every instance within 30 s: each caches
 * its keys that long (core/keys.ts). Two in-process instances on fake clocks that start at the
 * real time (the CLI stamps the keys with the real clock), advanced together.
 */
import { decodeProtectedHeader } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PrivatePostgres } from '../helpers/postgres.js';
import { answerOf, deviceAuthorization, kalmOn, pollToken, postForm, startInstances, type Instances, type Tokens } from '../helpers/cluster.js';
import type { TestServer } from '../helpers/server.js';


// Generous: these tests start clusters, processes and brokers, on machines that may be busy.
const TIMEOUT = 90_000;
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

interface Jwk {
  kid: string;
  alg: string;
  use: string;
}

async function jwks(server: TestServer): Promise<Jwk[]> {
  const res = await fetch(`${server.url}/jwks.json`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { keys: Jwk[] }).keys;
}

const kids = (keys: Jwk[]) => keys.map((k) => k.kid).sort();

let people = 0;

async function accessTokenFrom(server: TestServer, clientId: string): Promise<string> {
  const auth = await deviceAuthorization(server.url, clientId);
  // Users are shared by the instances: one name each.
  await server.core.deviceFlow.approve(auth.user_code, (await server.createUser(`person${++people}`)).id, ['valuate:read']);
  const res = await answerOf(await pollToken(server.url, clientId, auth.device_code));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body as unknown as Tokens).access_token;
}

describe('kalm keys rotate with several instances', () => {
  it('is seen by every instance within 30 s: both JWKS list the new keys, and a token one signs with them introspects on the other', { timeout: TIMEOUT }, async () => {
    const db = await cluster.createDatabase();
    instances = await startInstances(db, 2, { clockStart: Date.now() });
    const [a, b] = instances.servers as [TestServer, TestServer];
    const { clientId } = await a.createClient();
    const rs = await a.createClient({ type: 'confidential', grantTypes: ['refresh_token'] });
    const before = await jwks(a);
    expect(kids(await jwks(b))).toEqual(kids(before));
    const oldToken = await accessTokenFrom(a, clientId);
    expect(before.map((k) => k.kid)).toContain(decodeProtectedHeader(oldToken).kid);

    const { stdout } = await kalmOn(db, 'keys', 'rotate');
    expect(stdout).toMatch(/^new keys created; published now: /);
    // Until their caches expire the instances still sign with the old key (no read per token).
    expect(decodeProtectedHeader(await accessTokenFrom(b, clientId)).kid).toBe(decodeProtectedHeader(oldToken).kid);

    instances.advance(30_000);
    const [afterA, afterB] = [await jwks(a), await jwks(b)];
    expect(kids(afterB)).toEqual(kids(afterA));
    const added = afterA.filter((k) => !before.some((old) => old.kid === k.kid));
    // One new key per algorithm (ES256, RS256 and the JWE key), and the old ones stay published.
    expect(added.map((k) => k.alg).sort()).toEqual(['ECDH-ES+A256KW', 'ES256', 'RS256']);
    for (const old of before) expect(kids(afterA)).toContain(old.kid);

    for (const [signer, verifier] of [[a, b], [b, a]] as const) {
      const token = await accessTokenFrom(signer, clientId);
      expect(added.map((k) => k.kid)).toContain(decodeProtectedHeader(token).kid);
      const answer = await (await postForm(verifier.url, '/introspect', { token }, [rs.clientId, rs.clientSecret!])).json();
      expect(answer).toMatchObject({ active: true, client_id: clientId });
    }
    // A token signed before the rotation still verifies on both while its key is published.
    for (const s of [a, b]) expect(await (await postForm(s.url, '/introspect', { token: oldToken }, [rs.clientId, rs.clientSecret!])).json()).toMatchObject({ active: true });
  });
});
