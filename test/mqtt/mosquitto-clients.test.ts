import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newDeviceKey, newRid } from './device.js';
import { startMqttWorld, topic, type MqttWorld } from './setup.js';

let world: MqttWorld;
const children: ChildProcess[] = [];
beforeAll(async () => {
  world = await startMqttWorld();
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGTERM');
  await world.stop();
});

/** `mosquitto_sub -v -d` as a stand-in for 3.1.1 firmware: lines of "topic payload". */
async function subscribe(filter: string) {
  // stdbuf: mosquitto_sub's stdout is block-buffered on a pipe; line-buffer it.
  const child = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(world.broker.port), '-V', 'mqttv311', '-q', '1', '-v', '-d', '-t', filter]);
  children.push(child);
  let text = '';
  const waiters: Array<{ prefix: string; resolve: (payload: string) => void }> = [];
  const taken = new Set<number>();
  const scan = () => {
    const lines = text.split('\n');
    for (const w of [...waiters]) {
      const index = lines.findIndex((l, i) => !taken.has(i) && l.startsWith(w.prefix));
      if (index === -1) continue;
      taken.add(index);
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(lines[index]!.slice(w.prefix.length));
    }
  };
  child.stdout.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    scan();
  });
  const line = (prefix: string) =>
    new Promise<string>((resolve) => {
      waiters.push({ prefix, resolve });
      scan();
    });
  // -d prints the SUBACK: from then on nothing published on the filter is missed.
  await line('Subscribed (mid');
  return { child, line, output: () => text };
}

function publish(topicName: string, message: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(world.broker.port), '-V', 'mqttv311', '-q', '1', '-t', topicName, '-m', message]);
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mosquitto_pub exited ${code}`))));
  });
}

describe('a plain MQTT 3.1.1 client (mosquitto_pub / mosquitto_sub) as the device', () => {
  it('runs authorize and receives the pushed approval with no code of ours on the device side', async () => {
    const rid = newRid();
    const sub = await subscribe(topic(rid, '#'));
    const { publicJwk } = await newDeviceKey();
    await publish(topic(rid, 'authorize'), JSON.stringify({ client_id: world.clientId, scope: 'valuate:read', jwk: publicJwk }));
    const accepted = JSON.parse(await sub.line(`${topic(rid, 'authorize/accepted')} `)) as Record<string, unknown>;
    expect(accepted).toMatchObject({ expires_in: 600, interval: 5, verification_uri: `${world.server.url}/device` });
    expect(accepted.user_code).toMatch(/^[B-Z]{4}-[B-Z]{5}$/);

    await world.server.core.deviceFlow.approve(String(accepted.user_code), world.user.id, ['valuate:read']);
    expect(JSON.parse(await sub.line(`${topic(rid, 'status')} `))).toEqual({ status: 'approved' });
    sub.child.kill('SIGTERM');
  });

  it('gets a readable rejection for a malformed request', async () => {
    const rid = newRid();
    const sub = await subscribe(topic(rid, '#'));
    await publish(topic(rid, 'authorize'), '{"client_id":');
    expect(JSON.parse(await sub.line(`${topic(rid, 'authorize/rejected')} `))).toEqual({
      error: 'invalid_request',
      error_description: 'payload is not valid JSON',
    });
    sub.child.kill('SIGTERM');
  });
});
