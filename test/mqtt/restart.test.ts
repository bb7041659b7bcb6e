import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto } from '../helpers/mosquitto.js';
import { startTestServer } from '../helpers/server.js';
import { connectRecorder, newDeviceKey, newRid, on, openAnswer, signProof, type RecordingClient } from './device.js';
import { startMqttWorld, topic, type MqttWorld } from './setup.js';

let world: MqttWorld;
beforeAll(async () => {
  world = await startMqttWorld();
});
afterAll(() => world.stop());

async function authorize(device: RecordingClient, clientId: string) {
  const key = await newDeviceKey();
  const rid = newRid();
  await device.subscribe(topic(rid, '#'));
  await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: clientId, jwk: key.publicJwk }));
  const { user_code } = JSON.parse((await device.next(on(topic(rid, 'authorize/accepted')))).payload);
  return { key, rid, userCode: String(user_code) };
}

describe('the bridge across a broker restart', () => {
  it('keeps HTTP serving while the broker is down, reconnects, and delivers a decision taken meanwhile', async () => {
    const { server, broker, clientId, user } = world;
    const device = await connectRecorder(broker.url, 4);
    const { key, rid, userCode } = await authorize(device, clientId);

    const offline = once(server.mqtt!, 'offline');
    await broker.stop();
    await offline;
    expect(server.mqtt!.connected).toBe(false);
    // The HTTP side does not wait for the broker.
    expect((await server.post('/device_authorization', { client_id: clientId })).status).toBe(200);
    await server.core.deviceFlow.approve(userCode, user.id, ['valuate:read']);

    const bridgeBack = server.mqtt!.ready();
    // (events.once would reject on the refused reconnects mqtt.js reports as errors meanwhile)
    const deviceBack = new Promise<void>((resolve) => device.client.once('connect', () => resolve()));
    await broker.start();
    await Promise.all([bridgeBack, deviceBack]);
    expect(server.mqtt!.connected).toBe(true);
    // The broker lost every session (persistence off): the device subscribes again and repeats
    // its authorize, as firmware does after a reconnect; the decision is told again.
    await device.subscribe(topic(rid, '#'));
    await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: clientId, jwk: key.publicJwk }));
    expect(JSON.parse((await device.next(on(topic(rid, 'status')))).payload)).toEqual({ status: 'approved' });
    await device.publish(topic(rid, 'token'), await signProof(key, rid, server.clock.now()));
    const tokens = await openAnswer(key, (await device.next(on(topic(rid, 'token/accepted')))).payload);
    expect(await server.core.tokens.verifyAccessToken(String(tokens.access_token))).toMatchObject({ sub: user.id });
    await device.end();
  });
});

describe('the bridge across a server restart', () => {
  it('serves a token request published while the server was down, from the rid binding it stored', async () => {
    // A broker of its own: another server in the share group would take some of the requests.
    const broker = await startMosquitto();
    const first = await startTestServer({ config: { mqttUrl: broker.url } });
    const dataDir = first.dataDir;
    try {
      await first.mqtt!.ready();
      const { clientId } = await first.createClient();
      const user = await first.createUser();
      const device = await connectRecorder(broker.url, 4);
      const { key, rid, userCode } = await authorize(device, clientId);
      await first.close();

      // The bridge stopped alone, so it kept its place in the share group, and its session
      // (same client id: same host, data dir and port) keeps this QoS 1 request for it.
      await device.publish(topic(rid, 'token'), await signProof(key, rid, first.clock.now()));
      const second = await startTestServer({ dataDir, config: { mqttUrl: broker.url, port: first.port } });
      try {
        expect(JSON.parse((await device.next(on(topic(rid, 'token/rejected')))).payload).error).toBe('authorization_pending');
        await second.core.deviceFlow.approve(userCode, user.id, ['valuate:read']);
        expect(JSON.parse((await device.next(on(topic(rid, 'status')))).payload)).toEqual({ status: 'approved' });
        await device.publish(topic(rid, 'token'), await signProof(key, rid, second.clock.now()));
        const tokens = await openAnswer(key, (await device.next(on(topic(rid, 'token/accepted')))).payload);
        expect(await second.core.tokens.verifyAccessToken(String(tokens.access_token))).toMatchObject({ sub: user.id });
      } finally {
        await device.end();
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      await broker.dispose();
    }
  });
});
