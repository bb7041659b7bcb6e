// The MQTT side of the metrics, against a real mosquitto: a device flow over the bridge is counted
// like one over HTTP (channel="mqtt"), and kalm_mqtt_connected follows the broker connection.
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRANT_TYPES } from '../helpers/server.js';
import { connectRecorder, newDeviceKey, newRid, on, signProof } from '../mqtt/device.js';
import { startMqttWorld, topic, type MqttWorld } from '../mqtt/setup.js';
import { changes, scrape } from './scrape.js';

let world: MqttWorld;
let metricsUrl: string;
beforeAll(async () => {
  world = await startMqttWorld({ config: { metricsPort: 0 } });
  metricsUrl = world.server.metrics!.url;
});
afterAll(() => world.stop());

const APPROVAL = 'kalm_approval_to_token_seconds';

describe('MQTT metrics', () => {
  it('counts the flow over the bridge: authorization, token answers, and the approval under channel="mqtt"', async () => {
    const { server, clientId, user, broker } = world;
    const before = await scrape(metricsUrl);
    expect(before.value('kalm_mqtt_connected')).toBe(1);
    const device = await connectRecorder(broker.url, 4);
    const key = await newDeviceKey();
    const rid = newRid();
    await device.subscribe(topic(rid, '#'));
    await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: clientId, scope: 'valuate:read', jwk: key.publicJwk }));
    const { user_code } = JSON.parse((await device.next(on(topic(rid, 'authorize/accepted')))).payload) as { user_code: string };
    await device.publish(topic(rid, 'token'), await signProof(key, rid, server.clock.now()));
    expect(JSON.parse((await device.next(on(topic(rid, 'token/rejected')))).payload).error).toBe('authorization_pending');
    await server.core.deviceFlow.approve(user_code, user.id, ['valuate:read']);
    await device.next(on(topic(rid, 'status')));
    server.clock.advance(30);
    await device.publish(topic(rid, 'token'), await signProof(key, rid, server.clock.now()));
    await device.next(on(topic(rid, 'token/accepted')));
    await device.end();

    const after = await scrape(metricsUrl);
    const counted = changes(before, after, 'kalm_');
    expect(counted).toMatchObject({
      [`kalm_device_authorizations_total{client_id="${clientId}"}`]: 1,
      [`kalm_device_decisions_total{client_id="${clientId}",decision="approved"}`]: 1,
      [`kalm_token_requests_total{grant_type="${GRANT_TYPES.deviceCode}",result="authorization_pending"}`]: 1,
      [`kalm_token_requests_total{grant_type="${GRANT_TYPES.deviceCode}",result="ok"}`]: 1,
      [`${APPROVAL}_count{channel="mqtt"}`]: 1,
      [`${APPROVAL}_sum{channel="mqtt"}`]: 0.03,
    });
    expect(Object.keys(counted).filter((k) => k.startsWith(`${APPROVAL}_count`))).toEqual([`${APPROVAL}_count{channel="mqtt"}`]);
  });

  it('reads kalm_mqtt_connected 0 while the broker is away', async () => {
    const { server, broker } = world;
    const offline = once(server.mqtt!, 'offline');
    await broker.stop();
    await offline;
    expect((await scrape(metricsUrl)).value('kalm_mqtt_connected')).toBe(0);
    const back = server.mqtt!.ready();
    await broker.start();
    await back;
    expect((await scrape(metricsUrl)).value('kalm_mqtt_connected')).toBe(1);
  });
});
