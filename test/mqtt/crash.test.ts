/**
 * kill -9 of the server around an MQTT flow: the rid binding, a decision taken while the
 * server was dead, and an issued token answer all survive, because each is committed
 * before the device hears of it. The server runs as `kalm serve` in a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../server/src/config.js';
import { GRANT_TYPES } from '../../server/src/core/clients.js';
import { createCore, type Core } from '../../server/src/core/index.js';
import { createSqliteStore } from '../../server/src/store/sqlite.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/server.js';
import { connectRecorder, newDeviceKey, newRid, on, openAnswer, signProof } from './device.js';
import { topic } from './setup.js';

const KALM = fileURLToPath(new URL('../../server/bin/kalm.js', import.meta.url));
let broker: Mosquitto;
let dataDir: string;
let port: number;
let core: Core;
let store: ReturnType<typeof createSqliteStore>;
let child: ChildProcess | undefined;

/** `kalm serve` on the shared data dir; resolves when its bridge has subscribed. */
function startKalm(): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [KALM, 'serve'], {
    env: { ...process.env, PORT: String(port), DATA_DIR: dataDir, MQTT_URL: broker.url, DEMO: '0', LOG_LEVEL: 'info', PUBLIC_URL: `http://127.0.0.1:${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('mqtt bridge connected and subscribed')) resolve(proc);
    });
    proc.once('exit', (code) => reject(new Error(`kalm serve exited with ${code}: ${out}`)));
  });
}

async function kill9(proc: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  process.kill(proc.pid!, 'SIGKILL');
  await exited;
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
  if (child && child.exitCode === null && child.signalCode === null) await kill9(child);
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
});
