/**
 * kill -9 of the server around an MQTT flow: the rid binding, a decision taken while the
 * server was dead, and an issued token answer all survive, because each is committed
 * before the device hears of it. The server runs as `kalm serve` in a child process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../server/src/config.js';
import { GRANT_TYPES } from '../../server/src/core/clients.js';
import { createCore, type Core } from '../../server/src/core/index.js';
import { hashSecret } from '../../server/src/core/secrets.js';
import { createSqliteStore } from '../../server/src/store/sqlite/index.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/server.js';
import { connectRecorder, encryptRefresh, newDeviceKey, newRid, on, openAnswer, signProof, type Received } from './device.js';
import { startKalm as startKalmProcess, type KalmProcess } from './kalm-process.js';
import { PREFIX, topic } from './setup.js';

let broker: Mosquitto;
let dataDir: string;
let port: number;
let core: Core;
let store: ReturnType<typeof createSqliteStore>;
let child: KalmProcess | undefined;

/** `kalm serve` on the shared data dir and port; resolves when its bridge has subscribed. */
async function startKalm(): Promise<KalmProcess> {
  child = await startKalmProcess({ dataDir, port, mqttUrl: broker.url });
  return child;
}

const kill9 = (kalm: KalmProcess) => kalm.kill9();

/** The MQTT 5 `result` user property of an answer: accepted or rejected. */
const result = (m: Received) => (m.properties?.userProperties as Record<string, string> | undefined)?.result;

/**
 * `kills` rounds against `server`: every device asks at once (`askAll(round)`), and each time a
 * few more `action` answers of the round have been accepted the server is frozen (SIGSTOP), with
 * the other requests somewhere between proof check, commit and answer, and `check` inspects the
 * database; at the last of `samples` it is killed where it stands and started again. Resolves
 * with the server running after the last round.
 */
async function freezeAndKillRounds(input: {
  server: KalmProcess;
  device: Awaited<ReturnType<typeof connectRecorder>>;
  action: 'token' | 'refresh';
  kills: number;
  samples: number;
  askAll(round: string): Promise<unknown>;
  check(): Promise<void>;
}): Promise<KalmProcess> {
  let { server } = input;
  for (let kill = 0; kill < input.kills; kill++) {
    const round = `crash${kill}`;
    await input.askAll(round);
    for (let sample = 1; sample <= input.samples; sample++) {
      await input.device.nth((m) => m.topic.endsWith(`/${input.action}/${round}`) && result(m) === 'accepted', sample * (kill + 1));
      process.kill(server.proc.pid!, 'SIGSTOP');
      await input.check();
      if (sample < input.samples) process.kill(server.proc.pid!, 'SIGCONT');
    }
    await kill9(server);
    server = await startKalm();
  }
  return server;
}

beforeAll(async () => {
  broker = await startMosquitto();
  dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-crash-'));
  port = await freePort();
  // A second handle on the same database, standing in for the phone and the person.
  store = createSqliteStore(dataDir);
  core = await createCore({ config: defaultConfig({ port, dataDir, demo: false, publicUrl: `http://127.0.0.1:${port}` }), store });
});
afterAll(async () => {
  await child?.kill9();
  store.close();
  await broker.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the MQTT bridge across kill -9 of the server', () => {
  it('delivers a decision taken while the server was dead, and the same token answer again after another crash', { timeout: 60_000 }, async () => {
    const { client } = await core.clients.create({ name: 'Sensor', type: 'public', grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken], scopes: ['valuate:read'] });
    const user = await core.users.create({ username: 'owner', password: 'correct horse battery' });
    const device = await connectRecorder(broker.url, 4);
    const key = await newDeviceKey();
    const rid = newRid();
    await device.subscribe(topic(rid, '#'));

    const first = await startKalm();
    await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: client.id, jwk: key.publicJwk }));
    const { user_code } = JSON.parse((await device.next(on(topic(rid, 'authorize/accepted')))).payload);
    await kill9(first);
    // Decided while no server runs: nobody to publish the event to.
    await core.deviceFlow.approve(user_code, user.id, ['valuate:read']);

    const second = await startKalm();
    expect(JSON.parse((await device.next(on(topic(rid, 'status')))).payload)).toEqual({ status: 'approved' });
    await device.publish(topic(rid, 'token'), await signProof(key, rid, Date.now()));
    const answer = (await device.next(on(topic(rid, 'token/accepted')))).payload;
    await kill9(second);

    await startKalm();
    await device.publish(topic(rid, 'token'), await signProof(key, rid, Date.now()));
    expect((await device.next(on(topic(rid, 'token/accepted')))).payload).toBe(answer);
    const tokens = await openAnswer(key, answer);
    expect(await core.tokens.verifyAccessToken(String(tokens.access_token))).toMatchObject({ sub: user.id });
    await device.end();
  });

  it('never leaves a spent code without its stored answer, and gives each device one token set across kill -9 mid-redemption', { timeout: 90_000 }, async () => {
    const FLOWS = 200;
    const KILLS = 4;
    const SAMPLES = 6;
    const { client } = await core.clients.create({ name: 'Meter', type: 'public', grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken], scopes: ['valuate:read'] });
    const user = await core.users.create({ username: 'fleet-owner', password: 'correct horse battery' });
    // MQTT 5, so each round's answers come back on a topic of their own (Response Topic).
    const device = await connectRecorder(broker.url, 5);
    await device.subscribe(`${PREFIX}/device/+/authorize/accepted`);
    await device.subscribe(`${PREFIX}/device/+/token/#`);
    const flows = await Promise.all(Array.from({ length: FLOWS }, async () => ({ rid: newRid(), key: await newDeviceKey() })));

    await child?.kill9();
    let server = await startKalm();
    await Promise.all(flows.map((f) => device.publish(topic(f.rid, 'authorize'), JSON.stringify({ client_id: client.id, jwk: f.key.publicJwk }))));
    for (const f of flows) {
      const { user_code } = JSON.parse((await device.next(on(topic(f.rid, 'authorize/accepted')))).payload);
      await core.deviceFlow.approve(user_code, user.id, ['valuate:read']);
    }

    const askAll = (round: string) =>
      Promise.all(
        flows.map(async (f) =>
          device.publish(topic(f.rid, 'token'), await signProof(f.key, f.rid, Date.now()), { properties: { responseTopic: topic(f.rid, `token/${round}`) } }),
        ),
      );
    // What a kill -9 at this instant would leave is exactly what is committed now: freeze the
    // server (SIGSTOP) and read the database beside it. A spent code must carry its answer.
    let spentSeen = 0;
    async function assertNoSpentCodeWithoutAnswer(): Promise<void> {
      for (const f of flows) {
        const view = await store.mqtt.get(f.rid);
        if (view?.codeStatus !== 'redeemed') continue;
        spentSeen++;
        expect(view.tokenAnswer, `${f.rid} was redeemed but has no stored answer`).not.toBeNull();
      }
    }
    server = await freezeAndKillRounds({ server, device, action: 'token', kills: KILLS, samples: SAMPLES, askAll, check: assertNoSpentCodeWithoutAnswer });
    expect(spentSeen).toBeGreaterThan(0);
    await askAll('final');
    const answers = new Map<string, Received>();
    for (const f of flows) answers.set(f.rid, await device.next(on(topic(f.rid, 'token/final'))));

    for (const f of flows) {
      const final = answers.get(f.rid)!;
      expect(result(final), `${f.rid}: ${final.payload}`).toBe('accepted');
      // Whatever reached the device before or between the crashes is this very answer: one token set.
      const accepted = device.messages.filter((m) => m.topic.startsWith(topic(f.rid, 'token/')) && result(m) === 'accepted');
      expect(new Set(accepted.map((m) => m.payload))).toEqual(new Set([final.payload]));
      const refused = device.messages.filter((m) => m.topic.startsWith(topic(f.rid, 'token/')) && result(m) === 'rejected');
      for (const m of refused) expect(JSON.parse(m.payload).error, m.payload).not.toBe('invalid_grant');
    }
    const tokens = await openAnswer(flows[0]!.key, answers.get(flows[0]!.rid)!.payload);
    expect(await core.tokens.verifyAccessToken(String(tokens.access_token))).toMatchObject({ sub: user.id });
    await device.end();
  });

  it('never leaves a spent refresh token without its stored answer, and gives each device one rotated pair across kill -9 mid-refresh', { timeout: 90_000 }, async () => {
    const DEVICES = 150;
    const KILLS = 3;
    const SAMPLES = 4;
    const { client } = await core.clients.create({ name: 'Gauge', type: 'public', grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken], scopes: ['valuate:read'] });
    const user = await core.users.create({ username: 'gauge-owner', password: 'correct horse battery' });
    // Paired devices, each with a refresh token (paired through core: the refresh is what is tested).
    const devices = await Promise.all(
      Array.from({ length: DEVICES }, async () => {
        const key = await newDeviceKey();
        return { rid: newRid(), key, thumbprint: await calculateJwkThumbprint(key.publicJwk) };
      }),
    );
    const refreshTokens = new Map<string, string>();
    for (const d of devices) {
      const auth = await core.deviceFlow.authorize(client, 'valuate:read');
      await core.deviceFlow.approve(auth.user_code, user.id, ['valuate:read']);
      refreshTokens.set(d.rid, String((await core.deviceFlow.poll(client, auth.device_code)).refresh_token));
    }
    const jwks = await core.keys.jwks();
    const device = await connectRecorder(broker.url, 5);
    await device.subscribe(`${PREFIX}/device/+/refresh/#`);

    await child?.kill9();
    let server = await startKalm();
    const askAll = (round: string) =>
      Promise.all(
        devices.map(async (d) => {
          const body = { client_id: client.id, refresh_token: refreshTokens.get(d.rid), rid: d.rid, iat: Math.floor(Date.now() / 1000), jti: newRid(), jwk: d.key.publicJwk };
          await device.publish(topic(d.rid, 'refresh'), await encryptRefresh(jwks, body), { properties: { responseTopic: topic(d.rid, `refresh/${round}`) } });
        }),
      );
    let spentSeen = 0;
    async function assertNoSpentTokenWithoutAnswer(): Promise<void> {
      for (const d of devices) {
        const hash = hashSecret(refreshTokens.get(d.rid)!);
        if ((await store.refreshTokens.getByHash(hash))?.usedAt == null) continue;
        spentSeen++;
        expect(await store.mqtt.refreshAnswer(hash, client.id, d.thumbprint, Date.now()), `${d.rid} rotated without a kept answer`).toBeDefined();
      }
    }
    server = await freezeAndKillRounds({ server, device, action: 'refresh', kills: KILLS, samples: SAMPLES, askAll, check: assertNoSpentTokenWithoutAnswer });
    expect(spentSeen).toBeGreaterThan(0);
    await askAll('final');
    const finals = new Map<string, string>();
    for (const d of devices) {
      const final = await device.next(on(topic(d.rid, 'refresh/final')));
      finals.set(d.rid, final.payload);
      expect(result(final), `${d.rid}: ${final.payload}`).toBe('accepted');
      const accepted = device.messages.filter((m) => m.topic.startsWith(topic(d.rid, 'refresh/')) && result(m) === 'accepted');
      expect(new Set(accepted.map((m) => m.payload))).toEqual(new Set([final.payload]));
      const refused = device.messages.filter((m) => m.topic.startsWith(topic(d.rid, 'refresh/')) && result(m) === 'rejected');
      for (const m of refused) expect(JSON.parse(m.payload).error, m.payload).not.toBe('invalid_grant');
    }
    // No family was revoked: every rotated pair works.
    for (const d of devices) {
      const pair = await openAnswer(d.key, finals.get(d.rid)!);
      expect((await core.tokens.introspect(String(pair.refresh_token), 'refresh_token')).active, d.rid).toBe(true);
    }
    await device.end();
  });
});
