import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRequestId, startMqttDeviceAuthorization } from '../../device-client/src/mqtt.js';
import { manualTimers } from '../device-client/manual-timers.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { connectRecorder, newDeviceKey, newRid, on } from './device.js';
import { topic } from './setup.js';

// The ACL of the README: the bridge may use the whole prefix; a device only the rid it
// connected with as its client id.
const ACL = `user kalm-bridge
topic readwrite kalm/v1/device/#

pattern write kalm/v1/device/%c/authorize
pattern write kalm/v1/device/%c/token
pattern write kalm/v1/device/%c/refresh
pattern read kalm/v1/device/%c/#
`;
const bridgeUser = { username: 'kalm-bridge', password: 'bridge-Pass-31' };

let broker: Mosquitto;
let server: TestServer;
beforeAll(async () => {
  broker = await startMosquitto({ credentials: bridgeUser, allowAnonymous: true, acl: ACL });
  server = await startTestServer({ config: { mqttUrl: broker.url, mqttUsername: bridgeUser.username, mqttPassword: bridgeUser.password } });
  await server.mqtt!.ready();
});
afterAll(async () => {
  await server.stop();
  await broker.dispose();
});

describe('the mosquitto ACL pattern of the README', () => {
  it('lets a device that connects with its rid as client id run the whole flow', async () => {
    const { clientId } = await server.createClient();
    const user = await server.createUser();
    const rid = newRequestId();
    const client = await connectAsync(broker.url, { protocolVersion: 4, clientId: rid });
    try {
      const auth = await startMqttDeviceAuthorization({ client, rid, clientId, timers: manualTimers(server.clock) });
      await server.core.deviceFlow.approve(auth.userCode, user.id, ['valuate:read']);
      const pairing = await auth.wait();
      expect(await server.core.tokens.verifyAccessToken(pairing.accessToken)).toMatchObject({ sub: user.id });
    } finally {
      await client.endAsync(true);
    }
  });

  it('keeps a device off another device\'s topics', async () => {
    const { clientId } = await server.createClient();
    const victimRid = newRid();
    const victim = await connectRecorder(broker.url, 4, { clientId: victimRid });
    const snoop = await connectRecorder(broker.url, 4, { clientId: newRid() });
    try {
      // mosquitto grants the subscriptions but delivers nothing the ACL does not let it read.
      await snoop.subscribe(topic(victimRid, '#'));
      await snoop.subscribe('kalm/#');

      await victim.subscribe(topic(victimRid, '#'));
      const key = await newDeviceKey();
      await victim.publish(topic(victimRid, 'authorize'), JSON.stringify({ client_id: clientId, jwk: key.publicJwk }));
      await victim.next(on(topic(victimRid, 'authorize/accepted')));
      // Publishing into the victim's tree is dropped by the broker: the bridge never sees it.
      await snoop.publish(topic(victimRid, 'authorize'), JSON.stringify({ client_id: clientId, jwk: (await newDeviceKey()).publicJwk }));
      await victim.publish(topic(victimRid, 'token'), 'not-a-jws');
      await victim.next(on(topic(victimRid, 'token/rejected')));
      expect(victim.messages.filter(on(topic(victimRid, 'authorize/rejected')))).toEqual([]);
      expect(snoop.messages).toEqual([]);
    } finally {
      await Promise.all([victim.end(), snoop.end()]);
    }
  });
});
