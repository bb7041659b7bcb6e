/**
 * The store steps that close the crash gaps of the MQTT bridge: spending a device code (or
 * rotating a refresh token) and keeping the device's encrypted answer are one transaction,
 * so either both are on disk or neither. Run against a real SQLite file through the store
 * and core the server uses.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../server/src/config.js';
import { GRANT_TYPES } from '../../server/src/core/clients.js';
import type { Redemption } from '../../server/src/core/device-flow.js';
import { hashSecret } from '../../server/src/core/secrets.js';
import type { Rotation } from '../../server/src/core/tokens.js';
import { createCore, type Core } from '../../server/src/core/index.js';
import type { ClientRecord } from '../../server/src/store/port/index.js';
import { createSqliteStore } from '../../server/src/store/sqlite/index.js';
import { newDeviceKey, newRid } from './device.js';

let dataDir: string;
let store: ReturnType<typeof createSqliteStore>;
let core: Core;
let client: ClientRecord;
let userId: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-redemption-'));
  store = createSqliteStore(dataDir);
  core = await createCore({ config: defaultConfig({ dataDir, demo: false, publicUrl: 'http://127.0.0.1:1' }), store });
  ({ client } = await core.clients.create({ name: 'Sensor', type: 'public', grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken], scopes: ['valuate:read'] }));
  userId = (await core.users.create({ username: 'owner', password: 'correct horse battery' })).id;
});
afterAll(() => {
  store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** An approved code held for a fresh rid, as the bridge's authorize leaves it. */
async function approvedRequest(): Promise<{ rid: string; deviceCodeId: number }> {
  const held = await core.deviceFlow.authorizeHeld(client, 'valuate:read');
  const key = await newDeviceKey();
  const rid = newRid();
  await store.mqtt.insert({ rid, deviceCodeId: held.deviceCodeId, clientId: client.id, jwk: key.publicJwk, jwkThumbprint: rid, createdAt: Date.now() });
  await core.deviceFlow.approve(held.response.user_code, userId, ['valuate:read']);
  return { rid, deviceCodeId: held.deviceCodeId };
}

describe('redeeming a held device code together with its stored answer', () => {
  it('writes nothing of the redemption when the answer cannot be stored', async () => {
    const target = await approvedRequest();
    const other = await approvedRequest();
    let seen: Redemption | undefined;
    // The answer is filed under a rid that does not hold this code: the second write fails.
    const attempt = core.deviceFlow.pollById(client, target.deviceCodeId, (r) => {
      seen = r;
      return store.mqtt.redeemWithAnswer({ ...r, rid: other.rid, tokenAnswer: 'jwe' });
    });
    await expect(attempt).rejects.toThrow(/does not hold device code/);
    expect((await store.deviceCodes.getById(target.deviceCodeId))?.status).toBe('approved');
    expect(await store.grants.get(seen!.grant.id)).toBeUndefined();
    expect(await store.refreshTokens.getByHash(seen!.refresh!.tokenHash)).toBeUndefined();
    expect((await store.mqtt.get(other.rid))?.tokenAnswer).toBeNull();
  });

  it('spends the code and keeps the answer in one step, and refuses a second redemption', async () => {
    const { rid, deviceCodeId } = await approvedRequest();
    let seen: Redemption | undefined;
    await core.deviceFlow.pollById(client, deviceCodeId, (r) => {
      seen = r;
      return store.mqtt.redeemWithAnswer({ ...r, rid, tokenAnswer: 'the-answer' });
    });
    const view = await store.mqtt.get(rid);
    expect(view).toMatchObject({ codeStatus: 'redeemed', tokenAnswer: 'the-answer' });
    expect(await store.grants.get(seen!.grant.id)).toMatchObject({ userId, scopes: ['valuate:read'] });
    expect(await store.refreshTokens.getByHash(seen!.refresh!.tokenHash)).toMatchObject({ grantId: seen!.grant.id, usedAt: null });

    // A second redemption (another bridge that read the code as approved) writes nothing.
    expect(await store.mqtt.redeemWithAnswer({ ...seen!, rid, grant: { ...seen!.grant, id: 'another-grant' }, tokenAnswer: 'another' })).toBe(false);
    expect((await store.mqtt.get(rid))?.tokenAnswer).toBe('the-answer');
    expect(await store.grants.get('another-grant')).toBeUndefined();
  });
});

describe('rotating a refresh token together with its stored answer', () => {
  async function pairedRefreshToken(): Promise<string> {
    const { rid, deviceCodeId } = await approvedRequest();
    let token: string | undefined;
    await core.deviceFlow.pollById(client, deviceCodeId, (r) => {
      token = r.response.refresh_token;
      return store.mqtt.redeemWithAnswer({ ...r, rid, tokenAnswer: 'the-answer' });
    });
    return token!;
  }

  it('writes nothing of the rotation when the answer cannot be stored', async () => {
    const token = await pairedRefreshToken();
    let seen: Rotation | undefined;
    const attempt = core.tokens.refresh(client, token, undefined, (r) => {
      seen = r;
      // STRICT table, NOT NULL answer: the second write of the transaction fails.
      return store.mqtt.rotateWithAnswer({ ...r, jwkThumbprint: 'k1', answer: null as unknown as string });
    });
    await expect(attempt).rejects.toThrow(/NOT NULL/);
    expect((await store.refreshTokens.getByHash(hashSecret(token)))?.usedAt).toBeNull();
    expect(await store.refreshTokens.getByHash(seen!.next.tokenHash)).toBeUndefined();
  });

  it('keeps the answer for the same token and key while the token inside it is live, and for nothing else', async () => {
    const token = await pairedRefreshToken();
    const oldHash = hashSecret(token);
    const first = await core.tokens.refresh(client, token, undefined, (r) => store.mqtt.rotateWithAnswer({ ...r, jwkThumbprint: 'k1', answer: 'pair-1' }));
    const now = Date.now();
    expect(await store.mqtt.refreshAnswer(oldHash, client.id, 'k1', now)).toBe('pair-1');
    expect(await store.mqtt.refreshAnswer(oldHash, client.id, 'k2', now)).toBeUndefined();
    expect(await store.mqtt.refreshAnswer(oldHash, 'another-client', 'k1', now)).toBeUndefined();

    // Once the token inside the answer is itself spent, the answer is no use to anyone.
    await core.tokens.refresh(client, first.refresh_token!, undefined, (r) => store.mqtt.rotateWithAnswer({ ...r, jwkThumbprint: 'k1', answer: 'pair-2' }));
    expect(await store.mqtt.refreshAnswer(oldHash, client.id, 'k1', now)).toBeUndefined();
    expect(await store.mqtt.refreshAnswer(hashSecret(first.refresh_token!), client.id, 'k1', now)).toBe('pair-2');
  });

  it('keeps no answer past a revocation or a rotation elsewhere, and the purge forgets it', async () => {
    const revokedToken = await pairedRefreshToken();
    const revoked = await core.tokens.refresh(client, revokedToken, undefined, (r) => store.mqtt.rotateWithAnswer({ ...r, jwkThumbprint: 'k1', answer: 'pair' }));
    await core.tokens.revoke(client, revoked.refresh_token!, 'refresh_token');
    expect(await store.mqtt.refreshAnswer(hashSecret(revokedToken), client.id, 'k1', Date.now())).toBeUndefined();

    // The successor spent over HTTP (no MQTT rotation to drop the kept answer): the lookup
    // refuses it at once, and the sweep's purge deletes it.
    const token = await pairedRefreshToken();
    const viaMqtt = await core.tokens.refresh(client, token, undefined, (r) => store.mqtt.rotateWithAnswer({ ...r, jwkThumbprint: 'k1', answer: 'pair' }));
    await core.tokens.refresh(client, viaMqtt.refresh_token!, undefined);
    expect(await store.mqtt.refreshAnswer(hashSecret(token), client.id, 'k1', Date.now())).toBeUndefined();
    expect(await store.mqtt.purgeRefreshAnswers(Date.now())).toBe(2); // these two; the live one of the test before stays
    expect(await store.mqtt.purgeRefreshAnswers(Date.now())).toBe(0);
  });
});
