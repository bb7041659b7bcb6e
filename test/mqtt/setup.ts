/** Shared setup of the MQTT test files: a private broker and a server whose bridge uses it. */
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.js';

export const PREFIX = 'kalm/v1';
export const topic = (rid: string, tail: string) => `${PREFIX}/device/${rid}/${tail}`;

export interface MqttWorld {
  broker: Mosquitto;
  server: TestServer;
  clientId: string;
  user: { id: string };
  stop(): Promise<void>;
}

/** A broker, a server bridged to it (ready), a public device client and a user. */
export async function startMqttWorld(options: TestServerOptions = {}): Promise<MqttWorld> {
  const broker = await startMosquitto();
  const server = await startTestServer({ ...options, config: { mqttUrl: broker.url, ...options.config } });
  await server.mqtt!.ready();
  const { clientId } = await server.createClient({ name: 'Thermostat' });
  const user = await server.createUser();
  return {
    broker,
    server,
    clientId,
    user,
    async stop() {
      await server.stop();
      await broker.dispose();
    },
  };
}
