import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuthError } from '../../server/src/core/errors.js';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { PageClient } from '../http/verify-client.js';

let server: TestServer;
let clientId: string;
let userId: string;

beforeAll(async () => {
  server = await startTestServer({ logLevel: 'warn' });
  ({ clientId } = await server.createClient());
  ({ id: userId } = await server.createUser());
});
afterAll(() => server.stop());

async function authorize() {
  const res = await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read billing:read' });
  expect(res.status).toBe(200);
  return (await res.json()) as { device_code: string; user_code: string };
}

async function answers(requests: Array<Promise<Response>>) {
  return Promise.all(requests.map(async (r) => {
    const res = await r;
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  }));
}

async function approvedTokens() {
  const auth = await authorize();
  await server.core.deviceFlow.approve(auth.user_code, userId, ['valuate:read', 'billing:read']);
  const res = await server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: auth.device_code, client_id: clientId });
  expect(res.status).toBe(200);
  return (await res.json()) as { access_token: string; refresh_token: string };
}

const refresh = (token: string) => server.post('/token', { grant_type: 'refresh_token', refresh_token: token, client_id: clientId });

describe('races', () => {
  it('answers exactly one of 50 concurrent redemptions of one approved device code with tokens', async () => {
    const auth = await authorize();
    await server.core.deviceFlow.approve(auth.user_code, userId, ['valuate:read']);
    const form = { grant_type: GRANT_TYPES.deviceCode, device_code: auth.device_code, client_id: clientId };
    const results = await answers(Array.from({ length: 50 }, () => server.post('/token', form)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const losers = results.filter((r) => r.status !== 200);
    expect(losers).toHaveLength(49);
    for (const r of losers) expect(r).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // The one grant behind the code is the one the winner's token carries.
    const record = await server.core.deviceFlow.findByDeviceCode(auth.device_code);
    expect(record).toMatchObject({ status: 'redeemed' });
    const winner = results.find((r) => r.status === 200)!;
    const claims = await server.core.tokens.verifyAccessToken(winner.body.access_token!);
    expect(claims?.grant_id).toBe(record!.grantId);
  });

  it('lets one of 20 concurrent refreshes with one refresh token win and ends the family for every later use', async () => {
    const tokens = await approvedTokens();
    const results = await answers(Array.from({ length: 20 }, () => refresh(tokens.refresh_token)));
    const winners = results.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) expect(r).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // RFC 9700 §4.14.2: the losers presented a spent token, so the whole family is revoked,
    // including what the winner just received.
    const next = winners[0]!.body;
    expect(await (await refresh(next.refresh_token!)).json()).toMatchObject({ error: 'invalid_grant' });
    expect(await (await refresh(tokens.refresh_token)).json()).toMatchObject({ error: 'invalid_grant' });
    expect(await server.core.tokens.verifyAccessToken(next.access_token!)).toBeUndefined();
    expect(await server.core.tokens.verifyAccessToken(tokens.access_token)).toBeUndefined();
  });

  it('lets exactly one of a racing approve and deny decide a code and tells the other it lost', async () => {
    for (let i = 0; i < 20; i++) {
      const auth = await authorize();
      const [approve, deny] = await Promise.allSettled([
        server.core.deviceFlow.approve(auth.user_code, userId, ['valuate:read']),
        server.core.deviceFlow.deny(auth.user_code, userId),
      ]);
      const settled = [approve!, deny!];
      expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
      const lost = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(OAuthError);
      expect((lost.reason as OAuthError).error).toBe('invalid_grant');
      // The device sees the decision that won, and only that one.
      const poll = await server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: auth.device_code, client_id: clientId });
      if (approve!.status === 'fulfilled') expect(poll.status).toBe(200);
      else expect(await poll.json()).toMatchObject({ error: 'access_denied' });
    }
  });

  it('lets exactly one of two phones deciding one code through the consent form win, and tells the other it was already used', async () => {
    const people = [await server.createUser(), await server.createUser()];
    const signedIn = await Promise.all(
      people.map(async (person, i) => {
        const phone = new PageClient(server.url, { localAddress: `127.0.8.${i + 2}` });
        const csrf = await phone.csrf('/signin');
        expect((await phone.post('/signin', { csrf_token: csrf, username: person.username, password: person.password })).status).toBe(303);
        return phone;
      }),
    );
    for (let round = 0; round < 5; round++) {
      const auth = await authorize();
      // Both phones have the code entered and the consent page open.
      const phones = await Promise.all(
        signedIn.map(async (phone) => {
          const csrf = await phone.csrf('/device');
          expect((await phone.post('/device', { csrf_token: csrf, user_code: auth.user_code })).location).toBe('/device/consent');
          return { phone, csrf };
        }),
      );
      const [a, b] = phones as [(typeof phones)[0], (typeof phones)[0]];
      const decisions = await Promise.all([
        a.phone.post('/device/consent', { csrf_token: a.csrf, decision: 'approve', scope: ['valuate:read'] }),
        b.phone.post('/device/consent', { csrf_token: b.csrf, decision: 'deny' }),
      ]);
      for (const d of decisions) expect(d.location).toBe('/device/done');
      const outcomes = await Promise.all([a.phone.get('/device/done'), b.phone.get('/device/done')]);
      const said = outcomes.map((o) => /result-(approved|denied|used|expired)/.exec(o.body)?.[1]);
      // One phone sees its own decision; the other is told the code was already used.
      expect(said.filter((x) => x === 'used')).toHaveLength(1);
      const winner = said[0] === 'used' ? 'denied' : 'approved';
      expect(said).toContain(winner);
      const poll = await server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: auth.device_code, client_id: clientId });
      if (winner === 'approved') expect(poll.status).toBe(200);
      else expect(await poll.json()).toMatchObject({ error: 'access_denied' });
    }
  });

  it('lets one of 10 concurrent approvals of one code win', async () => {
    const auth = await authorize();
    const settled = await Promise.allSettled(
      Array.from({ length: 10 }, () => server.core.deviceFlow.approve(auth.user_code, userId, ['billing:read'])),
    );
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
  });
});
