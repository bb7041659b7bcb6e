/**
 * Issue 14 acceptance: two real `kalm serve` processes (real clocks) on one PostgreSQL
 * database, one issuer, as behind a load balancer. A device authorizes on instance 1 and waits
 * on push on instance 2; the person approves on the phone through instance 1; the device holds
 * tokens redeemed through instance 2 within 1 s of the approval; its refresh works on either
 * instance; revoking it on instance 2's My devices closes its push subscription on instance 1.
 */
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PrivatePostgres } from '../helpers/postgres.js';
import {
  answerOf,
  approveOnPhone,
  deviceAuthorization,
  openAdmin,
  pollToken,
  refreshToken,
  revokeOnMyDevices,
  startKalmServe,
  type Admin,
  type KalmServe,
  type Tokens,
} from '../helpers/cluster.js';
import { openPush } from '../push/push-client.js';


// Generous: these tests start clusters, processes and brokers, on machines that may be busy.
const TIMEOUT = 120_000;
let cluster: PrivatePostgres;
const started: KalmServe[] = [];
const admins: Admin[] = [];

beforeAll(async () => {
  cluster = await startPostgres();
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((k) => k.stop()));
  await Promise.all(admins.splice(0).map((a) => a.close()));
});
afterAll(() => cluster?.dispose());

const ws = (url: string) => `${url.replace(/^http/, 'ws')}/push`;

describe('two kalm serve processes on one PostgreSQL', () => {
  it('push on 2 hears an approval taken on 1, tokens come from 2 at once, refresh works on both, My devices on 2 revokes the socket on 1', { timeout: TIMEOUT }, async () => {
    const db = await cluster.createDatabase();
    const one = await startKalmServe(db);
    started.push(one);
    const two = await startKalmServe(db, { PUBLIC_URL: one.issuer });
    started.push(two);
    expect(two.issuer).toBe(one.issuer);
    const admin = await openAdmin(db);
    admins.push(admin);
    const clientId = await admin.createDeviceClient();
    const person = await admin.createUser('alice');

    // The device asks instance 1, then waits on instance 2's push channel.
    const auth = await deviceAuthorization(one.url, clientId);
    const waiting = await openPush(ws(two.url));
    waiting.send({ type: 'subscribe', device_code: auth.device_code });
    expect(await waiting.next()).toEqual({ type: 'subscribed', status: 'pending' });
    const pushed = waiting.next().then((message) => ({ message, at: performance.now() }));

    // The phone goes through instance 1.
    const { sentAt, answeredAt } = await approveOnPhone(one.url, auth.verification_uri_complete, person);
    const push = await pushed;
    expect(push.message).toEqual({ type: 'status', status: 'approved' });
    expect((await waiting.closed).code).toBe(1000);

    // Told by push, the device redeems at once, through instance 2.
    const redeemed = await answerOf(await pollToken(two.url, clientId, auth.device_code));
    const heldAt = performance.now();
    expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
    const tokens = redeemed.body as unknown as Tokens;
    console.log(
      `approval on instance 1 -> push on instance 2: ${(push.at - sentAt).toFixed(1)} ms from sending the consent form ` +
        `(${(push.at - answeredAt).toFixed(1)} ms from its answer); tokens held through instance 2 ${(heldAt - sentAt).toFixed(1)} ms after sending it`,
    );
    // The code is spent for every instance.
    expect((await answerOf(await pollToken(one.url, clientId, auth.device_code))).body.error).toBe('invalid_grant');

    // The refresh token rotates on either instance, one after the other.
    const onOne = await answerOf(await refreshToken(one.url, clientId, tokens.refresh_token));
    expect(onOne.status, JSON.stringify(onOne.body)).toBe(200);
    const onTwo = await answerOf(await refreshToken(two.url, clientId, onOne.body.refresh_token as string));
    expect(onTwo.status, JSON.stringify(onTwo.body)).toBe(200);
    const latest = onTwo.body as unknown as Tokens;
    const grantId = decodeJwt(latest.access_token).grant_id as string;
    expect(decodeJwt(tokens.access_token).grant_id).toBe(grantId);

    // The paired device watches its pairing on instance 1; the person revokes it on instance 2.
    const paired = await openPush(ws(one.url));
    paired.send({ type: 'subscribe', access_token: latest.access_token });
    expect(await paired.next()).toEqual({ type: 'subscribed', status: 'paired' });
    const told = paired.next().then((message) => ({ message, at: performance.now() }));
    const { sentAt: revokeSentAt } = await revokeOnMyDevices(two.url, person, grantId);
    const revoked = await told;
    expect(revoked.message).toEqual({ type: 'status', status: 'revoked' });
    expect((await paired.closed).code).toBe(1000);
    console.log(`revocation on instance 2's My devices -> push on instance 1: ${(revoked.at - revokeSentAt).toFixed(1)} ms from sending the confirmation`);
    // And the family is dead on both.
    for (const url of [one.url, two.url]) {
      expect((await answerOf(await refreshToken(url, clientId, latest.refresh_token))).body.error).toBe('invalid_grant');
    }
    // Nothing reached an error handler on either instance.
    for (const instance of [one, two]) expect(instance.lines.filter((l) => Number(l.level) >= 50)).toEqual([]);
  });
});
