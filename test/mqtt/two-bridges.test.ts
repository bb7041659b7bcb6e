/**
 * Two servers (`kalm serve` in two processes) on one database, one broker and one prefix:
 * their bridges are one MQTT 5 share group, so each request is answered by exactly one of
 * them, and the flows go on when one stops or dies. The devices speak MQTT 3.1.1 and see
 * none of it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../server/src/config.js';
import { GRANT_TYPES } from '../../server/src/core/clients.js';
import { createCore, type Core } from '../../server/src/core/index.js';
import { createSqliteStore } from '../../server/src/store/sqlite/index.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/server.js';
import { connectRecorder, newDeviceKey, newRid, on, openAnswer, signProof, type DeviceKey, type Received, type RecordingClient } from './device.js';
import { startKalm, type KalmProcess } from './kalm-process.js';
import { PREFIX, topic } from './setup.js';

let broker: Mosquitto;
let dataDir: string;
let ports: [number, number];
let store: ReturnType<typeof createSqliteStore>;
let core: Core;
let clientId: string;
let userId: string;
const running: KalmProcess[] = [];

beforeAll(async () => {
  broker = await startMosquitto();
  dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-two-bridges-'));
  ports = [await freePort(), await freePort()];
  // A third handle on the same database, standing in for the phone and the person.
  store = createSqliteStore(dataDir);
  core = await createCore({ config: defaultConfig({ dataDir, demo: false, publicUrl: issuer() }), store });
  const { client } = await core.clients.create({ name: 'Sensor', type: 'public', grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken], scopes: ['valuate:read'] });
  clientId = client.id;
  userId = (await core.users.create({ username: 'owner', password: 'correct horse battery' })).id;
});
afterAll(async () => {
  for (const kalm of running) await kalm.kill9();
  store.close();
  await broker.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

/** One issuer for both, as behind a load balancer. */
const issuer = () => `http://127.0.0.1:${ports[0]}`;

async function serve(which: 0 | 1): Promise<KalmProcess> {
  // Default client ids: the port tells two servers on one host and data dir apart.
  const kalm = await startKalm({ dataDir, port: ports[which], mqttUrl: broker.url, logLevel: 'debug', publicUrl: issuer() });
  running.push(kalm);
  return kalm;
}

interface Flow {
  rid: string;
  key: DeviceKey;
  userCode?: string;
}

const answerTo = (action: string) => (m: Received) => new RegExp(`^${PREFIX}/device/[^/]+/${action}/(accepted|rejected)$`).test(m.topic);
/** Requests of `action` a bridge has answered, from its log. */
const served = (kalm: KalmProcess, action: string) => kalm.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith(`mqtt ${action} `) && 'rid' in l).length;

async function newFlows(count: number): Promise<Flow[]> {
  return Promise.all(Array.from({ length: count }, async () => ({ rid: newRid(), key: await newDeviceKey() })));
}

/** Authorize each flow, wait for its answer, approve it through core. */
async function authorizeAndApprove(device: RecordingClient, flows: Flow[]): Promise<void> {
  await Promise.all(flows.map((f) => device.publish(topic(f.rid, 'authorize'), JSON.stringify({ client_id: clientId, jwk: f.key.publicJwk }))));
  for (const f of flows) {
    f.userCode = JSON.parse((await device.next(on(topic(f.rid, 'authorize/accepted')))).payload).user_code;
    await core.deviceFlow.approve(f.userCode!, userId, ['valuate:read']);
  }
}

/** Ask for the token of each flow; resolves with the answers, in order. */
async function askTokens(device: RecordingClient, flows: Flow[]): Promise<string[]> {
  await Promise.all(flows.map(async (f) => device.publish(topic(f.rid, 'token'), await signProof(f.key, f.rid, Date.now()))));
  return Promise.all(flows.map(async (f) => (await device.next(on(topic(f.rid, 'token/accepted')))).payload));
}

/** Every message the broker routed to the device before this call has arrived once it resolves. */
async function drain(device: RecordingClient): Promise<void> {
  const marker = `${PREFIX}/test/${newRid()}`;
  await device.subscribe(marker);
  await device.publish(marker, 'end');
  await device.next(on(marker));
}

function countPerRid(device: RecordingClient, flows: Flow[], predicate: (m: Received) => boolean): number[] {
  return flows.map((f) => device.messages.filter((m) => m.topic.startsWith(topic(f.rid, '')) && predicate(m)).length);
}

describe('two servers on one database, broker and prefix', () => {
  it('answer each request exactly once between them, and one carries on alone when the other stops', { timeout: 60_000 }, async () => {
    const a = await serve(0);
    const b = await serve(1);
    const device = await connectRecorder(broker.url, 4);
    await device.subscribe(`${PREFIX}/device/+/authorize/+`);
    await device.subscribe(`${PREFIX}/device/+/token/+`);

    const flows = await newFlows(60);
    await authorizeAndApprove(device, flows);
    const first = await askTokens(device, flows);

    // A stops; B is alive, so A leaves the group and B takes every request from now on.
    await a.stop();
    expect(a.lines.some((l) => l.msg === 'mqtt bridge left the share group: the other bridges take its requests')).toBe(true);
    // Both took part: the broker spread the requests over the share group.
    expect(served(a, 'authorize')).toBeGreaterThan(0);
    expect(served(a, 'token')).toBeGreaterThan(0);
    const servedByA = served(a, 'authorize') + served(a, 'token');
    const later = await newFlows(20);
    await authorizeAndApprove(device, later);
    await askTokens(device, later);
    // Asked again, the first devices get the answer they already have, from B.
    expect(await askTokens(device, flows)).toEqual(first);

    await b.stop();
    expect(b.lines.some((l) => String(l.msg).startsWith('mqtt bridge stops alone'))).toBe(true);
    expect(served(b, 'authorize') + served(b, 'token')).toBeGreaterThan(0);
    // Each request served by exactly one of them: 80 authorize, 60 + 20 + 60 token.
    expect(servedByA + served(b, 'authorize') + served(b, 'token')).toBe(80 + 140);
    await drain(device);
    expect(countPerRid(device, [...flows, ...later], answerTo('authorize'))).toEqual([...flows, ...later].map(() => 1));
    expect(countPerRid(device, flows, answerTo('token'))).toEqual(flows.map(() => 2));
    expect(countPerRid(device, later, answerTo('token'))).toEqual(later.map(() => 1));
    expect(device.messages.filter((m) => m.topic.endsWith('/rejected'))).toEqual([]);
    const opened = await openAnswer(flows[0]!.key, first[0]!);
    expect(await core.tokens.verifyAccessToken(String(opened.access_token))).toMatchObject({ sub: userId });
    await device.end();
  });

  it('answer an authorize or token request a device repeats at once with the same code and the same token set, whichever serves it', { timeout: 60_000 }, async () => {
    const a = await serve(0);
    const b = await serve(1);
    const device = await connectRecorder(broker.url, 4);
    await device.subscribe(`${PREFIX}/device/+/authorize/+`);
    await device.subscribe(`${PREFIX}/device/+/token/+`);
    const flows = await newFlows(40);
    // Each request twice in a row: round-robin hands the two to different servers, which
    // serve them at the same moment.
    const twice = (f: Flow, action: string, payload: () => Promise<string> | string) =>
      Promise.all([0, 1].map(async () => device.publish(topic(f.rid, action), await payload())));
    await Promise.all(flows.map((f) => twice(f, 'authorize', () => JSON.stringify({ client_id: clientId, jwk: f.key.publicJwk }))));
    for (const f of flows) {
      await device.nth((m) => m.topic.startsWith(topic(f.rid, 'authorize/')), 2);
      const answers = device.messages.filter((m) => m.topic.startsWith(topic(f.rid, 'authorize/')));
      expect(answers.map((m) => m.topic), answers[0]!.payload).toEqual([topic(f.rid, 'authorize/accepted'), topic(f.rid, 'authorize/accepted')]);
      const codes = answers.map((m) => JSON.parse(m.payload).user_code);
      expect(codes[0]).toBe(codes[1]);
      await core.deviceFlow.approve(codes[0], userId, ['valuate:read']);
    }
    await Promise.all(flows.map((f) => twice(f, 'token', () => signProof(f.key, f.rid, Date.now()))));
    for (const f of flows) {
      await device.nth((m) => m.topic.startsWith(topic(f.rid, 'token/')), 2);
      const answers = device.messages.filter((m) => m.topic.startsWith(topic(f.rid, 'token/')));
      expect(answers.map((m) => m.topic), answers[0]!.payload).toEqual([topic(f.rid, 'token/accepted'), topic(f.rid, 'token/accepted')]);
      expect(answers[0]!.payload).toBe(answers[1]!.payload);
    }
    await Promise.all([a.stop(), b.stop()]);
    expect(served(a, 'token')).toBeGreaterThan(0);
    expect(served(b, 'token')).toBeGreaterThan(0);
    await device.end();
  });

  it('keep the requests the broker routed to a killed server until it is back, and answer each once', { timeout: 60_000 }, async () => {
    const a = await serve(0);
    const b = await serve(1);
    const device = await connectRecorder(broker.url, 4);
    await device.subscribe(`${PREFIX}/device/+/authorize/+`);
    await device.subscribe(`${PREFIX}/device/+/token/+`);
    await a.kill9();

    // mosquitto goes on routing a share of the requests to A's session (kept 120 s after a
    // crash) and queues them there; B answers the rest at once.
    const flows = await newFlows(20);
    await Promise.all(flows.map((f) => device.publish(topic(f.rid, 'authorize'), JSON.stringify({ client_id: clientId, jwk: f.key.publicJwk }))));
    await b.waitForLog((l) => l.msg === 'mqtt authorize accepted', 1);

    // A is back (same host, data dir and port: same client id, same session) and gets its queue.
    const again = await serve(0);
    expect(again.lines.find((l) => l.msg === 'mqtt bridge connected and subscribed')).toMatchObject({ sessionPresent: true });
    for (const f of flows) await device.next(on(topic(f.rid, 'authorize/accepted')));

    await Promise.all([again.stop(), b.stop()]);
    expect(served(again, 'authorize')).toBeGreaterThan(0);
    expect(served(again, 'authorize') + served(b, 'authorize')).toBe(flows.length);
    await drain(device);
    expect(countPerRid(device, flows, answerTo('authorize'))).toEqual(flows.map(() => 1));
    await device.end();
  });
});
