import type { JWK } from 'jose';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessDeniedError, MemoryTokenStore } from '../../device-client/src/index.js';
import { refreshOverMqtt, startMqttDeviceAuthorization, type MqttClientLike } from '../../device-client/src/mqtt.js';
import { manualTimers } from '../device-client/manual-timers.js';
import { startMqttWorld, type MqttWorld } from './setup.js';

let world: MqttWorld;
let client: MqttClient;
beforeAll(async () => {
  world = await startMqttWorld();
  client = await connectAsync(world.broker.url, { protocolVersion: 4 });
});
afterAll(async () => {
  await client.endAsync(true);
  await world.stop();
});

type Listener = (topic: string, payload: Uint8Array) => void;

/** `real`, except that the first message on a topic ending in `suffix` is lost on the way in. */
function losingFirst(real: MqttClient, suffix: string): { client: MqttClientLike; lost: Promise<void> } {
  let markLost!: () => void;
  const lost = new Promise<void>((resolve) => (markLost = resolve));
  let spent = false;
  const wrapped = new Map<Listener, Listener>();
  const client: MqttClientLike = {
    subscribe: (topic, options, callback) => real.subscribe(topic, options, callback),
    unsubscribe: (topic, callback) => real.unsubscribe(topic, callback),
    publish: (topic, payload, options, callback) => real.publish(topic, payload, options, callback),
    on(_event, listener) {
      const filter: Listener = (topic, payload) => {
        if (!spent && topic.endsWith(suffix)) {
          spent = true;
          markLost();
          return;
        }
        listener(topic, payload);
      };
      wrapped.set(listener, filter);
      return real.on('message', filter);
    },
    off: (_event, listener) => real.off('message', wrapped.get(listener)!),
  };
  return { client, lost };
}

/** A device paired over MQTT, the server's keys, and a client on which the first refresh answer is lost. */
async function pairedWithLossyRefresh() {
  const { server, clientId, user } = world;
  const store = new MemoryTokenStore();
  const auth = await startMqttDeviceAuthorization({ client, clientId, scope: 'valuate:read', timers: manualTimers(server.clock), store });
  await server.core.deviceFlow.approve(auth.userCode, user.id, ['valuate:read']);
  const pairing = await auth.wait();
  const jwks = (await (await fetch(`${server.url}/jwks.json`)).json()) as { keys: JWK[] };
  // The refresh's own timers: its answer timeout is the first timer they see.
  return { server, user, store, pairing, jwks, lossy: losingFirst(client, '/refresh/accepted'), timers: manualTimers(server.clock) };
}

describe('the device-client MQTT transport', () => {
  it('runs the flow with the HTTP client\'s shape: codes to show, wait() obeying the interval, then a pairing; and refreshes over MQTT', async () => {
    const { server, clientId, user } = world;
    const timers = manualTimers(server.clock);
    const store = new MemoryTokenStore();
    const auth = await startMqttDeviceAuthorization({ client, clientId, scope: 'valuate:read billing:read', timers, store });
    expect(auth.rid).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(auth.userCode).toMatch(/^[B-Z]{4}-[B-Z]{5}$/);
    expect(auth.verificationUri).toBe(`${server.url}/device`);
    expect(auth).toMatchObject({ expiresIn: 600, interval: 5, verificationUriComplete: `${server.url}/device?user_code=${auth.userCode}` });
    expect(auth).not.toHaveProperty('deviceCode');

    const statuses: unknown[] = [];
    const paired = auth.wait({ onStatus: (s) => statuses.push(s) });
    const first = await timers.next();
    expect(first.ms).toBe(5000);
    first.fire();
    await timers.next(); // asked again after authorization_pending: waits another interval
    expect(statuses).toEqual([{ type: 'pending' }]);
    await server.core.deviceFlow.approve(auth.userCode, user.id, ['billing:read']);
    const pairing = await paired;
    expect(statuses).toContainEqual({ type: 'push', status: 'approved' });
    expect(pairing).toMatchObject({ tokenType: 'Bearer', scope: 'billing:read', clientId, tokenEndpoint: 'mqtt:kalm/v1' });
    expect(await store.load()).toEqual(pairing);
    expect(await server.core.tokens.verifyAccessToken(pairing.accessToken)).toMatchObject({ sub: user.id, scope: 'billing:read' });

    const jwks = (await (await fetch(`${server.url}/jwks.json`)).json()) as { keys: JWK[] };
    const next = await refreshOverMqtt({ client, pairing, serverKey: jwks, store, timers });
    expect(next.refreshToken).not.toBe(pairing.refreshToken);
    expect(await store.load()).toEqual(next);
    expect(await server.core.tokens.verifyAccessToken(next.accessToken)).toMatchObject({ sub: user.id });
  });

  it('asks a refresh again with the same key when its answer is lost, and gets the same pair: the pairing lives on', async () => {
    const { server, user, store, pairing, jwks, lossy, timers } = await pairedWithLossyRefresh();
    const refreshed = refreshOverMqtt({ client: lossy.client, pairing, serverKey: jwks, store, timers });
    // The server rotated the token and answered; the answer never reached the device.
    await lossy.lost;
    const timeout = await timers.next();
    expect(timeout.ms).toBe(10_000);
    timeout.fire();
    const next = await refreshed;
    expect(next.refreshToken).not.toBe(pairing.refreshToken);
    expect(await store.load()).toEqual(next);
    // Not taken for reuse: the grant lives, and the rotated token refreshes again.
    expect(await server.core.tokens.verifyAccessToken(next.accessToken)).toMatchObject({ sub: user.id });
    const after = await refreshOverMqtt({ client, pairing: next, serverKey: jwks, store, timers });
    expect(await server.core.tokens.verifyAccessToken(after.accessToken)).toMatchObject({ sub: user.id });
  });

  it('asks again with the same key in a later call too, when an earlier call gave up without an answer', async () => {
    const { server, user, store, pairing, jwks, lossy, timers } = await pairedWithLossyRefresh();
    const gaveUp = refreshOverMqtt({ client: lossy.client, pairing, serverKey: jwks, store, timers, attempts: 1 }).catch((e: unknown) => e);
    await lossy.lost;
    (await timers.next()).fire();
    expect(await gaveUp).toMatchObject({ error: 'temporarily_unavailable' });
    // The app tries again later with the pairing it still holds.
    const next = await refreshOverMqtt({ client, pairing, serverKey: jwks, store, timers });
    expect(await server.core.tokens.verifyAccessToken(next.accessToken)).toMatchObject({ sub: user.id });
  });

  it('rejects with AccessDeniedError when the person denies', async () => {
    const { server, clientId, user } = world;
    const timers = manualTimers(server.clock);
    const auth = await startMqttDeviceAuthorization({ client, clientId, timers });
    const waiting = auth.wait();
    await server.core.deviceFlow.deny(auth.userCode, user.id);
    await expect(waiting).rejects.toBeInstanceOf(AccessDeniedError);
  });

  it('signs its next proof on the server\'s time when its own clock is an hour off', async () => {
    const { server, clientId, user } = world;
    const skewed = { now: () => server.clock.now() + 3_600_000, advance: (ms: number) => server.clock.advance(ms) };
    const auth = await startMqttDeviceAuthorization({ client, clientId, timers: manualTimers(skewed) });
    await server.core.deviceFlow.approve(auth.userCode, user.id, ['valuate:read']);
    const pairing = await auth.wait();
    expect(await server.core.tokens.verifyAccessToken(pairing.accessToken)).toMatchObject({ sub: user.id });
  });
});
