/**
 * The writes that record their own audit event (AuditOnWrite in store/port/audit.ts), on both
 * engines: the event is written with the write, in its transaction, only when the write took
 * effect; and an event the table refuses (an actor type its CHECK does not know) takes the write
 * down with it, so a change is never committed without its event.
 */
import { describe, expect, it } from 'vitest';
import type { AuditEventRecord, NewAuditEvent, StoreEngine } from '../../server/src/store/port/index.js';
import { aClient, aDeviceCode, aGrant, aRefreshToken, forEachEngine, seed, seedDeviceCode, seedGrant, T0, unique } from './engines.js';

function anEvent(type: string, overrides: Partial<NewAuditEvent> = {}): NewAuditEvent {
  return {
    at: T0,
    type,
    actorType: 'system',
    actorId: null,
    actorName: null,
    userId: null,
    username: null,
    clientId: null,
    grantId: null,
    deviceCodeId: null,
    ip: '198.51.100.4',
    scopes: null,
    details: {},
    ...overrides,
  };
}

/** An event the table refuses: its CHECK knows no such actor. */
const refused = (type: string) => anEvent(type, { actorType: 'robot' as NewAuditEvent['actorType'] });

const eventsOf = async (store: StoreEngine, type: string): Promise<AuditEventRecord[]> => store.audit.list({ types: [type], limit: 100 });

const approval = (userId: string) => ({ status: 'approved' as const, userId, grantedScopes: ['valuate:read'] });

forEachEngine((engine) => {
  describe('device codes', () => {
    it('records device.requested with the new code, naming its id', async () => {
      const store = await engine.open();
      const { client } = await seed(store);
      const code = await store.deviceCodes.insert(aDeviceCode(client.id), T0, anEvent('device.requested', { clientId: client.id }));
      expect(await eventsOf(store, 'device.requested')).toEqual([expect.objectContaining({ deviceCodeId: code!.id, clientId: client.id, ip: '198.51.100.4' })]);
    });

    it('records nothing for a code it did not insert (user code taken), and inserts no code when the event is refused', async () => {
      const store = await engine.open();
      const { client } = await seed(store);
      await store.deviceCodes.insert(aDeviceCode(client.id, { userCode: 'BCDFGHJK' }), T0);
      expect(await store.deviceCodes.insert(aDeviceCode(client.id, { userCode: 'BCDFGHJK' }), T0, anEvent('device.requested'))).toBeUndefined();
      expect(await eventsOf(store, 'device.requested')).toEqual([]);

      const request = aDeviceCode(client.id);
      await expect(store.deviceCodes.insert(request, T0, refused('device.requested'))).rejects.toThrow();
      expect(await store.deviceCodes.getByUserCode(request.userCode)).toBeUndefined();
    });

    it('records a decision once, with the decision that took effect', async () => {
      const store = await engine.open();
      const { code, user } = await seedDeviceCode(store);
      expect(await store.deviceCodes.decide(code.id, approval(user.id), T0 + 1, anEvent('device.approved', { deviceCodeId: code.id }))).toBe(true);
      expect(await store.deviceCodes.decide(code.id, { status: 'denied', userId: user.id }, T0 + 2, anEvent('device.denied', { deviceCodeId: code.id }))).toBe(false);
      expect((await eventsOf(store, 'device.approved')).map((e) => e.deviceCodeId)).toEqual([code.id]);
      expect(await eventsOf(store, 'device.denied')).toEqual([]);
    });

    it('leaves the code pending when the decision event is refused', async () => {
      const store = await engine.open();
      const { code, user } = await seedDeviceCode(store);
      await expect(store.deviceCodes.decide(code.id, approval(user.id), T0 + 1, refused('device.approved'))).rejects.toThrow();
      expect((await store.deviceCodes.getById(code.id))!.status).toBe('pending');
    });

    it('records device.redeemed with the redemption, and redeems nothing when the event is refused', async () => {
      const store = await engine.open();
      const { client, user, code } = await seedDeviceCode(store);
      await store.deviceCodes.decide(code.id, approval(user.id), T0 + 1);
      const refusedGrant = aGrant(client.id, user.id);
      await expect(store.deviceCodes.redeem(code.id, refusedGrant, aRefreshToken(refusedGrant.id, client.id), refused('device.redeemed'))).rejects.toThrow();
      expect((await store.deviceCodes.getById(code.id))!.status).toBe('approved');
      expect(await store.grants.get(refusedGrant.id)).toBeUndefined();

      const grant = aGrant(client.id, user.id);
      expect(await store.deviceCodes.redeem(code.id, grant, aRefreshToken(grant.id, client.id), anEvent('device.redeemed', { grantId: grant.id }))).toBe(true);
      expect(await store.deviceCodes.redeem(code.id, aGrant(client.id, user.id), undefined, anEvent('device.redeemed', { grantId: 'second' }))).toBe(false);
      expect((await eventsOf(store, 'device.redeemed')).map((e) => e.grantId)).toEqual([grant.id]);
    });
  });

  describe('refresh tokens and grants', () => {
    it('records refresh.rotated with the rotation, not for a spent token, and rotates nothing when the event is refused', async () => {
      const store = await engine.open();
      const { client, grant, refresh } = await seedGrant(store);
      const next = aRefreshToken(grant.id, client.id);
      await expect(store.refreshTokens.rotate(refresh.tokenHash, next, T0 + 5, refused('refresh.rotated'))).rejects.toThrow();
      expect((await store.refreshTokens.getByHash(refresh.tokenHash))!.usedAt).toBeNull();
      expect(await store.refreshTokens.getByHash(next.tokenHash)).toBeUndefined();

      expect(await store.refreshTokens.rotate(refresh.tokenHash, next, T0 + 6, anEvent('refresh.rotated', { grantId: grant.id }))).toBe(true);
      expect(await store.refreshTokens.rotate(refresh.tokenHash, aRefreshToken(grant.id, client.id), T0 + 7, anEvent('refresh.rotated', { grantId: 'reuse' }))).toBe(false);
      expect((await eventsOf(store, 'refresh.rotated')).map((e) => e.grantId)).toEqual([grant.id]);
    });

    it('records a revocation once, and keeps the grant live when its event is refused', async () => {
      const store = await engine.open();
      const { grant } = await seedGrant(store);
      await expect(store.grants.revoke(grant.id, T0 + 5, refused('grant.revoked'))).rejects.toThrow();
      expect((await store.grants.get(grant.id))!.revokedAt).toBeNull();

      expect(await store.grants.revoke(grant.id, T0 + 6, anEvent('grant.revoked', { grantId: grant.id }))).toBe(true);
      expect(await store.grants.revoke(grant.id, T0 + 7, anEvent('grant.revoked', { grantId: grant.id }))).toBe(false);
      expect(await eventsOf(store, 'grant.revoked')).toHaveLength(1);
    });
  });

  describe('clients and keys', () => {
    it('records each client change with it, none for an unknown client, and changes nothing when the event is refused', async () => {
      const store = await engine.open();
      const client = aClient({ type: 'confidential', secretHash: 'scrypt$old' });
      await expect(store.clients.create(client, refused('client.created'))).rejects.toThrow();
      expect(await store.clients.get(client.id)).toBeUndefined();

      await store.clients.create(client, anEvent('client.created', { clientId: client.id }));
      expect(await store.clients.update({ ...client, name: 'Kitchen TV' }, anEvent('client.updated', { clientId: client.id }))).toBe(true);
      expect(await store.clients.update(aClient(), anEvent('client.updated', { clientId: 'unknown' }))).toBe(false);
      await expect(store.clients.updateSecretHash(client.id, 'scrypt$new', refused('client.secret_rotated'))).rejects.toThrow();
      expect((await store.clients.get(client.id))!.secretHash).toBe('scrypt$old');
      expect(await store.clients.updateSecretHash(client.id, 'scrypt$new', anEvent('client.secret_rotated', { clientId: client.id }))).toBe(true);
      await expect(store.clients.delete(client.id, refused('client.deleted'))).rejects.toThrow();
      expect(await store.clients.get(client.id)).toBeDefined();
      expect(await store.clients.delete(client.id, anEvent('client.deleted', { clientId: client.id }))).toBe(true);
      expect(await store.clients.delete(client.id, anEvent('client.deleted', { clientId: client.id }))).toBe(false);

      const trail = await store.audit.list({ clientId: client.id, limit: 100 });
      expect(trail.map((e) => e.type).reverse()).toEqual(['client.created', 'client.updated', 'client.secret_rotated', 'client.deleted']);
      expect(await store.audit.list({ clientId: 'unknown', limit: 100 })).toEqual([]);
    });

    it('records keys.rotated with the rotation, and keeps the old keys active when the event is refused', async () => {
      const store = await engine.open();
      const key = (kid: string) => {
        const jwk = { kty: 'EC', crv: 'P-256', x: `x-${kid}`, y: `y-${kid}`, kid, alg: 'ES256', use: 'sig' };
        return { kid, alg: 'ES256' as const, use: 'sig' as const, privateJwk: { ...jwk, d: `d-${kid}` }, publicJwk: jwk, createdAt: T0, retiredAt: null };
      };
      const first = key(unique('kid'));
      await store.keys.rotate([first], T0);
      await expect(store.keys.rotate([key(unique('kid'))], T0 + 1, refused('keys.rotated'))).rejects.toThrow();
      expect((await store.keys.list()).map((k) => [k.kid, k.retiredAt])).toEqual([[first.kid, null]]);
      await store.keys.rotate([key(unique('kid'))], T0 + 2, anEvent('keys.rotated'));
      expect(await eventsOf(store, 'keys.rotated')).toHaveLength(1);
    });
  });

  describe('MQTT bridge', () => {
    it('records device.redeemed with the kept answer, and keeps neither when the event is refused', async () => {
      const store = await engine.open();
      const { client, user, code } = await seedDeviceCode(store);
      await store.deviceCodes.decide(code.id, approval(user.id), T0 + 1);
      const rid = unique('rid');
      await store.mqtt.insert({ rid, deviceCodeId: code.id, clientId: client.id, jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }, jwkThumbprint: 'thumb', createdAt: T0 });
      const grant = aGrant(client.id, user.id);
      const redemption = { rid, deviceCodeId: code.id, grant, refresh: aRefreshToken(grant.id, client.id), tokenAnswer: 'jwe' };
      await expect(store.mqtt.redeemWithAnswer({ ...redemption, audit: refused('device.redeemed') })).rejects.toThrow();
      expect((await store.mqtt.get(rid))!.tokenAnswer).toBeNull();
      expect(await store.mqtt.redeemWithAnswer({ ...redemption, audit: anEvent('device.redeemed', { grantId: grant.id }) })).toBe(true);
      expect((await eventsOf(store, 'device.redeemed')).map((e) => e.grantId)).toEqual([grant.id]);
    });

    it('records refresh.rotated with the kept refresh answer, and keeps neither when the event is refused', async () => {
      const store = await engine.open();
      const { client, grant, refresh } = await seedGrant(store);
      const next = aRefreshToken(grant.id, client.id);
      const rotation = { oldHash: refresh.tokenHash, next, now: T0 + 5, jwkThumbprint: 'thumb', answer: 'jwe' };
      await expect(store.mqtt.rotateWithAnswer({ ...rotation, audit: refused('refresh.rotated') })).rejects.toThrow();
      expect(await store.mqtt.refreshAnswer(refresh.tokenHash, client.id, 'thumb', T0 + 6)).toBeUndefined();
      expect(await store.mqtt.rotateWithAnswer({ ...rotation, audit: anEvent('refresh.rotated', { grantId: grant.id }) })).toBe(true);
      expect(await store.mqtt.refreshAnswer(refresh.tokenHash, client.id, 'thumb', T0 + 6)).toBe('jwe');
      expect((await eventsOf(store, 'refresh.rotated')).map((e) => e.grantId)).toEqual([grant.id]);
    });
  });
});
