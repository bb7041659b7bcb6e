/**
 * The MQTT bridge's repository on both engines: rid bindings, statuses acknowledged, answers
 * kept exactly once with a redemption or rotation (also when instances race for them), proof
 * ids and bridge heartbeats.
 */
import { describe, expect, it } from 'vitest';
import type { DeviceCodeRecord, MqttRequestRecord, NewMqttRequest, StoreEngine } from '../../server/src/store/port/index.js';
import { T0, aDeviceCode, aGrant, aRefreshToken, forEachEngine, hash, seed, seedDeviceCode, seedGrant, unique } from './engines.js';

const JWK = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' };

function aRequest(deviceCodeId: number, clientId: string, overrides: Partial<NewMqttRequest> = {}): NewMqttRequest {
  return { rid: unique('rid'), deviceCodeId, clientId, jwk: JWK, jwkThumbprint: 'thumb-1', createdAt: T0, ...overrides };
}

/** A pending device code held by a new rid. */
async function seedRequest(store: StoreEngine) {
  const { client, user, code } = await seedDeviceCode(store);
  const request = aRequest(code.id, client.id);
  expect(await store.mqtt.insert(request)).toBe(true);
  return { client, user, code, request };
}

/** A redemption of `code` by `rid`, with an answer of its own. */
function aRedemption(rid: string, deviceCodeId: number, clientId: string, userId: string) {
  const grant = aGrant(clientId, userId);
  return { rid, deviceCodeId, grant, refresh: aRefreshToken(grant.id, clientId), tokenAnswer: `jwe-${unique('answer')}` };
}

const approve = (store: StoreEngine, id: number, userId: string, at = T0 + 10) =>
  store.deviceCodes.decide(id, { status: 'approved', userId, grantedScopes: ['valuate:read'] }, at);

forEachEngine((engine) => {
  describe('mqtt requests', () => {
    it('binds a rid to a device code and reads it back with the code', async () => {
      const store = await engine.open();
      const { code, request } = await seedRequest(store);
      const expected: MqttRequestRecord = { ...request, notifiedStatus: null, tokenAnswer: null };
      const view = { ...expected, codeStatus: 'pending', expiresAt: code.expiresAt, userCode: code.userCode, interval: code.interval };
      expect(await store.mqtt.get(request.rid)).toEqual(view);
      expect(await store.mqtt.getByDeviceCodeId(code.id)).toEqual(view);
      expect(await store.mqtt.get('no-such-rid')).toBeUndefined();
      expect(await store.mqtt.getByDeviceCodeId(code.id + 1000)).toBeUndefined();
    });

    it('refuses a rid already taken, keeping the first binding', async () => {
      const store = await engine.open();
      const { request } = await seedRequest(store);
      const { client, code } = await seedDeviceCode(store);
      expect(await store.mqtt.insert(aRequest(code.id, client.id, { rid: request.rid, jwkThumbprint: 'thumb-2' }))).toBe(false);
      expect((await store.mqtt.get(request.rid))!.deviceCodeId).toBe(request.deviceCodeId);
      expect(await store.mqtt.getByDeviceCodeId(code.id)).toBeUndefined();
    });

    it('binds a rid once when instances bind it at once', async () => {
      const stores = await engine.instances(3);
      const { client } = await seed(stores[0]!);
      const codes: DeviceCodeRecord[] = [];
      for (let i = 0; i < stores.length; i++) codes.push((await stores[0]!.deviceCodes.insert(aDeviceCode(client.id), T0))!);
      const rid = unique('rid');
      const results = await Promise.all(stores.map((s, i) => s.mqtt.insert(aRequest(codes[i]!.id, client.id, { rid }))));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = codes[results.indexOf(true)]!;
      expect((await stores[1]!.mqtt.get(rid))!.deviceCodeId).toBe(winner.id);
    });

    it('lists the requests whose code was decided or had expired and whose status is not yet published', async () => {
      const store = await engine.open();
      const pending = await seedRequest(store);
      const approved = await seedRequest(store);
      const denied = await seedRequest(store);
      const expiring = await seedRequest(store);
      const published = await seedRequest(store);
      await approve(store, approved.code.id, approved.user.id);
      await store.deviceCodes.decide(denied.code.id, { status: 'denied', userId: denied.user.id }, T0 + 10);
      await approve(store, published.code.id, published.user.id);
      await store.mqtt.markNotifiedMany([{ rid: published.request.rid, status: 'approved' }]);

      const before = await store.mqtt.listUnnotified(T0 + 20, 100);
      expect(before.map((v) => v.rid).sort()).toEqual([approved.request.rid, denied.request.rid].sort());
      expect(before.find((v) => v.rid === denied.request.rid)!.codeStatus).toBe('denied');

      // At the expiry, the pending codes are due too (expired, not decided).
      const atExpiry = await store.mqtt.listUnnotified(expiring.code.expiresAt, 100);
      expect(atExpiry.map((v) => v.rid).sort()).toEqual([pending.request.rid, approved.request.rid, denied.request.rid, expiring.request.rid].sort());
      expect(await store.mqtt.listUnnotified(expiring.code.expiresAt, 2)).toHaveLength(2);
    });

    it('records the acknowledged statuses of many requests at once', async () => {
      const store = await engine.open();
      const a = await seedRequest(store);
      const b = await seedRequest(store);
      const c = await seedRequest(store);
      await store.mqtt.markNotifiedMany([]);
      await store.mqtt.markNotifiedMany([
        { rid: a.request.rid, status: 'approved' },
        { rid: b.request.rid, status: 'expired' },
        { rid: a.request.rid, status: 'denied' },
        { rid: 'no-such-rid', status: 'denied' },
      ]);
      expect((await store.mqtt.get(a.request.rid))!.notifiedStatus).toBe('denied');
      expect((await store.mqtt.get(b.request.rid))!.notifiedStatus).toBe('expired');
      expect((await store.mqtt.get(c.request.rid))!.notifiedStatus).toBeNull();
    });
  });

  describe('redemption with its answer', () => {
    it('spends an approved code and keeps the answer with it', async () => {
      const store = await engine.open();
      const { client, user, code, request } = await seedRequest(store);
      await approve(store, code.id, user.id);
      const r = aRedemption(request.rid, code.id, client.id, user.id);
      expect(await store.mqtt.redeemWithAnswer(r)).toBe(true);

      const view = (await store.mqtt.get(request.rid))!;
      expect(view.codeStatus).toBe('redeemed');
      expect(view.tokenAnswer).toBe(r.tokenAnswer);
      expect((await store.deviceCodes.getById(code.id))!.grantId).toBe(r.grant.id);
      expect(await store.grants.get(r.grant.id)).toEqual(r.grant);
      expect(await store.refreshTokens.getByHash(r.refresh.tokenHash)).toEqual(r.refresh);
    });

    it('writes nothing for a code that is not approved (pending, or spent already)', async () => {
      const store = await engine.open();
      const { client, user, code, request } = await seedRequest(store);
      const early = aRedemption(request.rid, code.id, client.id, user.id);
      expect(await store.mqtt.redeemWithAnswer(early)).toBe(false);
      expect(await store.grants.get(early.grant.id)).toBeUndefined();
      expect((await store.mqtt.get(request.rid))!.tokenAnswer).toBeNull();

      await approve(store, code.id, user.id);
      const first = aRedemption(request.rid, code.id, client.id, user.id);
      expect(await store.mqtt.redeemWithAnswer(first)).toBe(true);
      const again = aRedemption(request.rid, code.id, client.id, user.id);
      expect(await store.mqtt.redeemWithAnswer(again)).toBe(false);
      expect((await store.mqtt.get(request.rid))!.tokenAnswer).toBe(first.tokenAnswer);
      expect(await store.grants.get(again.grant.id)).toBeUndefined();
      expect(await store.refreshTokens.getByHash(again.refresh.tokenHash)).toBeUndefined();
    });

    it('rolls the redemption back when the answer cannot be kept (the rid does not hold the code)', async () => {
      const store = await engine.open();
      const { client, user, code } = await seedRequest(store);
      const other = await seedRequest(store);
      await approve(store, code.id, user.id);
      const r = aRedemption(other.request.rid, code.id, client.id, user.id);
      await expect(store.mqtt.redeemWithAnswer(r)).rejects.toThrow(/does not hold device code/);
      expect((await store.deviceCodes.getById(code.id))!.status).toBe('approved');
      expect(await store.grants.get(r.grant.id)).toBeUndefined();
      expect(await store.refreshTokens.getByHash(r.refresh.tokenHash)).toBeUndefined();
      expect((await store.mqtt.get(other.request.rid))!.tokenAnswer).toBeNull();
    });

    it('lets exactly one instance redeem a code and keep its answer when they race', async () => {
      const stores = await engine.instances(3);
      for (let round = 0; round < 5; round++) {
        const { client, user, code, request } = await seedRequest(stores[0]!);
        await approve(stores[1]!, code.id, user.id);
        const attempts = stores.flatMap(() => [aRedemption(request.rid, code.id, client.id, user.id), aRedemption(request.rid, code.id, client.id, user.id)]);
        const results = await Promise.all(attempts.map((r, i) => stores[i % stores.length]!.mqtt.redeemWithAnswer(r)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = attempts[results.indexOf(true)]!;
        expect((await stores[2]!.mqtt.get(request.rid))!.tokenAnswer).toBe(winner.tokenAnswer);
        expect((await stores[2]!.deviceCodes.getById(code.id))!.grantId).toBe(winner.grant.id);
        for (const loser of attempts.filter((r) => r !== winner)) expect(await stores[0]!.grants.get(loser.grant.id)).toBeUndefined();
      }
    });
  });

  describe('rotation with its answer', () => {
    const rotation = (oldHash: Buffer, grantId: string, clientId: string, now: number, jwkThumbprint = 'thumb-1') => ({
      oldHash,
      next: aRefreshToken(grantId, clientId, { createdAt: now }),
      now,
      jwkThumbprint,
      answer: `jwe-${unique('refresh')}`,
    });

    it('rotates the token, keeps the answer, and answers it again for the same token and key', async () => {
      const store = await engine.open();
      const { client, grant, refresh } = await seedGrant(store);
      const r = rotation(refresh.tokenHash, grant.id, client.id, T0 + 100);
      expect(await store.mqtt.rotateWithAnswer(r)).toBe(true);
      expect((await store.refreshTokens.getByHash(refresh.tokenHash))!.usedAt).toBe(T0 + 100);
      expect(await store.refreshTokens.getByHash(r.next.tokenHash)).toEqual(r.next);
      expect((await store.grants.get(grant.id))!.lastUsedAt).toBe(T0 + 100);

      expect(await store.mqtt.refreshAnswer(refresh.tokenHash, client.id, 'thumb-1', T0 + 200)).toBe(r.answer);
      // Another key, another client, another token: no answer.
      expect(await store.mqtt.refreshAnswer(refresh.tokenHash, client.id, 'thumb-2', T0 + 200)).toBeUndefined();
      expect(await store.mqtt.refreshAnswer(refresh.tokenHash, 'other-client', 'thumb-1', T0 + 200)).toBeUndefined();
      expect(await store.mqtt.refreshAnswer(hash(), client.id, 'thumb-1', T0 + 200)).toBeUndefined();
      // Not once the token inside has expired.
      expect(await store.mqtt.refreshAnswer(refresh.tokenHash, client.id, 'thumb-1', r.next.expiresAt)).toBeUndefined();
    });

    it('writes nothing for a spent token or a revoked grant', async () => {
      const store = await engine.open();
      const { client, grant, refresh } = await seedGrant(store);
      expect(await store.mqtt.rotateWithAnswer(rotation(refresh.tokenHash, grant.id, client.id, T0 + 100))).toBe(true);
      const reuse = rotation(refresh.tokenHash, grant.id, client.id, T0 + 200);
      expect(await store.mqtt.rotateWithAnswer(reuse)).toBe(false);
      expect(await store.refreshTokens.getByHash(reuse.next.tokenHash)).toBeUndefined();

      const other = await seedGrant(store);
      await store.grants.revoke(other.grant.id, T0 + 50);
      const revoked = rotation(other.refresh.tokenHash, other.grant.id, other.client.id, T0 + 100);
      expect(await store.mqtt.rotateWithAnswer(revoked)).toBe(false);
      expect(await store.refreshTokens.getByHash(revoked.next.tokenHash)).toBeUndefined();
      expect(await store.mqtt.refreshAnswer(other.refresh.tokenHash, other.client.id, 'thumb-1', T0 + 200)).toBeUndefined();
    });

    it('answers no longer once the token inside was used or its grant revoked, and purges such answers', async () => {
      const store = await engine.open();
      const { client, grant, refresh } = await seedGrant(store);
      const first = rotation(refresh.tokenHash, grant.id, client.id, T0 + 100);
      await store.mqtt.rotateWithAnswer(first);
      const second = rotation(first.next.tokenHash, grant.id, client.id, T0 + 200);
      await store.mqtt.rotateWithAnswer(second);
      // The first answer handed out the token now spent: gone with the second rotation.
      expect(await store.mqtt.refreshAnswer(refresh.tokenHash, client.id, 'thumb-1', T0 + 300)).toBeUndefined();
      expect(await store.mqtt.refreshAnswer(first.next.tokenHash, client.id, 'thumb-1', T0 + 300)).toBe(second.answer);

      // A rotation over HTTP spends the token inside the second answer: purged as used.
      const http = aRefreshToken(grant.id, client.id);
      expect(await store.refreshTokens.rotate(second.next.tokenHash, http, T0 + 300)).toBe(true);
      expect(await store.mqtt.refreshAnswer(first.next.tokenHash, client.id, 'thumb-1', T0 + 400)).toBeUndefined();
      expect(await store.mqtt.purgeRefreshAnswers(T0 + 400)).toBe(1);
      expect(await store.mqtt.purgeRefreshAnswers(T0 + 400)).toBe(0);

      // A live answer is purged once the token inside expires.
      const other = await seedGrant(store);
      const live = rotation(other.refresh.tokenHash, other.grant.id, other.client.id, T0 + 100);
      await store.mqtt.rotateWithAnswer(live);
      expect(await store.mqtt.purgeRefreshAnswers(live.next.expiresAt - 1)).toBe(0);
      expect(await store.mqtt.purgeRefreshAnswers(live.next.expiresAt)).toBe(1);

      // Revoked grant: the answer is no longer given (its tokens are gone with the family).
      const third = await seedGrant(store);
      const kept = rotation(third.refresh.tokenHash, third.grant.id, third.client.id, T0 + 100);
      await store.mqtt.rotateWithAnswer(kept);
      await store.grants.revoke(third.grant.id, T0 + 150);
      expect(await store.mqtt.refreshAnswer(third.refresh.tokenHash, third.client.id, 'thumb-1', T0 + 200)).toBeUndefined();
    });

    it('lets exactly one instance rotate a token and keep its answer when they race', async () => {
      const stores = await engine.instances(3);
      for (let round = 0; round < 5; round++) {
        const { client, grant, refresh } = await seedGrant(stores[0]!);
        const attempts = stores.flatMap(() => [0, 1].map(() => rotation(refresh.tokenHash, grant.id, client.id, T0 + 100)));
        const results = await Promise.all(attempts.map((r, i) => stores[i % stores.length]!.mqtt.rotateWithAnswer(r)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = attempts[results.indexOf(true)]!;
        expect(await stores[1]!.mqtt.refreshAnswer(refresh.tokenHash, client.id, 'thumb-1', T0 + 200)).toBe(winner.answer);
        for (const loser of attempts.filter((r) => r !== winner)) expect(await stores[2]!.refreshTokens.getByHash(loser.next.tokenHash)).toBeUndefined();
      }
    });
  });

  describe('proof ids', () => {
    it('remembers a proof id once per rid', async () => {
      const store = await engine.open();
      expect(await store.mqtt.hasProof('rid-1', 'jti-1')).toBe(false);
      expect(await store.mqtt.rememberProof('rid-1', 'jti-1', T0 + 300)).toBe(true);
      expect(await store.mqtt.rememberProof('rid-1', 'jti-1', T0 + 600)).toBe(false);
      expect(await store.mqtt.hasProof('rid-1', 'jti-1')).toBe(true);
      // The same jti under another rid is another proof.
      expect(await store.mqtt.rememberProof('rid-2', 'jti-1', T0 + 300)).toBe(true);
    });

    it('remembers many at once, skipping those already known', async () => {
      const store = await engine.open();
      await store.mqtt.rememberProof('rid-1', 'jti-1', T0 + 100);
      await store.mqtt.rememberProofs([]);
      await store.mqtt.rememberProofs([
        { rid: 'rid-1', jti: 'jti-1', expiresAt: T0 + 900 },
        { rid: 'rid-1', jti: 'jti-2', expiresAt: T0 + 200 },
        { rid: 'rid-2', jti: 'jti-1', expiresAt: T0 + 300 },
        { rid: 'rid-2', jti: 'jti-1', expiresAt: T0 + 300 },
      ]);
      for (const [rid, jti] of [['rid-1', 'jti-1'], ['rid-1', 'jti-2'], ['rid-2', 'jti-1']] as const) expect(await store.mqtt.hasProof(rid, jti)).toBe(true);
      // The known one kept its expiry: purged with those of T0 + 100.
      expect(await store.mqtt.purgeProofs(T0 + 101)).toBe(1);
      expect(await store.mqtt.hasProof('rid-1', 'jti-1')).toBe(false);
      expect(await store.mqtt.purgeProofs(T0 + 300)).toBe(1);
      expect(await store.mqtt.hasProof('rid-2', 'jti-1')).toBe(true);
      expect(await store.mqtt.purgeProofs(T0 + 301)).toBe(1);
    });

    it('lets exactly one instance remember a proof id presented to several at once', async () => {
      const stores = await engine.instances(3);
      for (let round = 0; round < 5; round++) {
        const jti = unique('jti');
        const results = await Promise.all(stores.flatMap((s) => [s.mqtt.rememberProof('rid-1', jti, T0 + 300), s.mqtt.rememberProof('rid-1', jti, T0 + 300)]));
        expect(results.filter(Boolean)).toHaveLength(1);
      }
    });
  });

  describe('bridges', () => {
    it('counts the other bridges seen since a time, and forgets a bridge that stopped', async () => {
      const [a, b] = await engine.instances(2);
      await a!.mqtt.markBridgeSeen('bridge-a', T0);
      await b!.mqtt.markBridgeSeen('bridge-b', T0 + 100);
      await b!.mqtt.markBridgeSeen('bridge-c', T0 + 50);
      expect(await a!.mqtt.countOtherBridges('bridge-a', T0 + 50)).toBe(2);
      expect(await a!.mqtt.countOtherBridges('bridge-a', T0 + 51)).toBe(1);
      expect(await b!.mqtt.countOtherBridges('bridge-b', T0)).toBe(2);
      // A heartbeat moves a bridge's time forward.
      await b!.mqtt.markBridgeSeen('bridge-c', T0 + 200);
      expect(await a!.mqtt.countOtherBridges('bridge-a', T0 + 150)).toBe(1);
      await b!.mqtt.forgetBridge('bridge-c');
      expect(await a!.mqtt.countOtherBridges('bridge-a', 0)).toBe(1);
      expect(await a!.mqtt.countOtherBridges('bridge-b', 0)).toBe(1);
    });
  });
});
