import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startTestServer } from '../helpers/server.js';
import { connectRecorder, newDeviceKey, newRid, on } from './device.js';
import { topic } from './setup.js';

let dir: string;
let broker: Mosquitto;

/** A throwaway CA and a P-256 certificate for 127.0.0.1 signed by it, made with the openssl CLI. */
function makeCertificates(into: string) {
  const run = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: into });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=kalm test CA');
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(path.join(into, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'san.ext');
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kalm-tls-'));
  makeCertificates(dir);
  broker = await startMosquitto({ tls: { certFile: path.join(dir, 'server.crt'), keyFile: path.join(dir, 'server.key') } });
});
afterAll(async () => {
  await broker.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('the bridge over mqtts://', () => {
  it('connects to a broker whose certificate MQTT_CA_FILE vouches for, and serves devices', async () => {
    expect(broker.url).toMatch(/^mqtts:/);
    const server = await startTestServer({ config: { mqttUrl: broker.url, mqttCaFile: path.join(dir, 'ca.crt') } });
    try {
      await server.mqtt!.ready();
      const { clientId } = await server.createClient();
      const device = await connectRecorder(broker.url, 4, { ca: readFileSync(path.join(dir, 'ca.crt')) });
      const rid = newRid();
      await device.subscribe(topic(rid, '#'));
      await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: clientId, jwk: (await newDeviceKey()).publicJwk }));
      expect(JSON.parse((await device.next(on(topic(rid, 'authorize/accepted')))).payload).user_code).toMatch(/^[B-Z]{4}-[B-Z]{5}$/);
      await device.end();
    } finally {
      await server.stop();
    }
  });

  it('refuses a broker certificate it cannot verify, and keeps serving HTTP', async () => {
    const server = await startTestServer({ config: { mqttUrl: broker.url } });
    try {
      const refused = await new Promise<Error>((resolve) => server.mqtt!.once('connectionError', resolve));
      expect(refused.message).toMatch(/self[- ]signed|unable to verify|certificate/i);
      expect(server.mqtt!.connected).toBe(false);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
