import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../../server/src/config.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const credentials = { username: 'kalm-bridge', password: 'broker-Secret-7f3a' };
let broker: Mosquitto;
beforeAll(async () => {
  broker = await startMosquitto({ credentials });
});
afterAll(() => broker.dispose());

async function withServer(config: Parameters<typeof startTestServer>[0], run: (server: TestServer) => Promise<void>) {
  const server = await startTestServer(config);
  try {
    await run(server);
  } finally {
    await server.stop();
  }
}

describe('broker credentials', () => {
  it('connects with MQTT_USERNAME and MQTT_PASSWORD and never logs the password', async () => {
    await withServer({ config: { mqttUrl: broker.url, mqttUsername: credentials.username, mqttPassword: credentials.password } }, async (server) => {
      await server.mqtt!.ready();
      expect(server.logText()).toContain('mqtt bridge connected');
      expect(server.logText()).not.toContain(credentials.password);
    });
  });

  it('connects with the credentials inside MQTT_URL and logs the broker without them', async () => {
    const url = `mqtt://${credentials.username}:${credentials.password}@127.0.0.1:${broker.port}`;
    await withServer({ config: { mqttUrl: url } }, async (server) => {
      await server.mqtt!.ready();
      expect(server.logLines().some((l) => l.broker === `mqtt://127.0.0.1:${broker.port}`)).toBe(true);
      expect(server.logText()).not.toContain(credentials.password);
    });
  });

  it('keeps retrying with a wrong password, logs why without the password, and serves HTTP meanwhile', async () => {
    await withServer({ config: { mqttUrl: broker.url, mqttUsername: credentials.username, mqttPassword: 'wrong-Password-99' } }, async (server) => {
      const refused = await new Promise<Error>((resolve) => server.mqtt!.once('connectionError', resolve));
      expect(refused.message).toMatch(/Not authorized|Bad User Name or Password/i);
      expect(server.mqtt!.connected).toBe(false);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect(server.logText()).toContain('mqtt connection error');
      expect(server.logText()).not.toContain('wrong-Password-99');
    });
  });

  it('reads the broker settings from MQTT_URL, MQTT_USERNAME, MQTT_PASSWORD, MQTT_CA_FILE and MQTT_CLIENT_ID', () => {
    const config = configFromEnv({
      MQTT_URL: 'mqtts://broker.example:8883',
      MQTT_TOPIC_PREFIX: 'acme/v1/',
      MQTT_USERNAME: 'bridge',
      MQTT_PASSWORD: 'pw',
      MQTT_CA_FILE: 'ca.pem',
      MQTT_CLIENT_ID: 'kalm-eu-1',
    });
    expect(config).toMatchObject({ mqttUrl: 'mqtts://broker.example:8883', mqttTopicPrefix: 'acme/v1', mqttUsername: 'bridge', mqttPassword: 'pw', mqttClientId: 'kalm-eu-1' });
    expect(config.mqttCaFile).toMatch(/\/ca\.pem$/);
    expect(() => configFromEnv({ MQTT_URL: 'not a url' })).toThrow(/MQTT_URL/);
  });
});
