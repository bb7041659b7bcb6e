/**
 * Issue 14 acceptance: MQTT with two instances, each with a bridge, on one mosquitto (one
 * prefix, one `$share/kalm` group) and one PostgreSQL database. A device authorizes over MQTT
 * (whichever bridge the broker hands the request to), the person approves on instance 2's
 * pages, and the device is told `approved` once and gets its token answer. The count of status
 * messages is the point: the deciding instance's bridge tells the device; the other bridge's
 * 1 s sweep of the stored notified status must not tell it again.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MqttRepository } from '../../server/src/store/port/index.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startPostgres, type PrivatePostgres } from '../helpers/postgres.js';
import { approveOnPhone, startInstances, type Instances } from '../helpers/cluster.js';
import type { TestServer } from '../helpers/server.js';
import { connectRecorder, newDeviceKey, newRid, on, openAnswer, signProof, type RecordingClient } from '../mqtt/device.js';
import { PREFIX, topic } from '../mqtt/setup.js';


// Generous: these tests start clusters, processes and brokers, on machines that may be busy.
const TIMEOUT = 60_000;
let cluster: PrivatePostgres;
let broker: Mosquitto;
let instances: Instances | undefined;
const devices: RecordingClient[] = [];

beforeAll(async () => {
  cluster = await startPostgres();
});
// A broker per test: a bridge that stops keeps its session in the share group when no other
// bridge is left (the broker queues requests for it), so it would take a share of the next
// test's requests.
beforeEach(async () => {
  broker = await startMosquitto();
});
afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.end()));
  await instances?.stop();
  instances = undefined;
  await broker.dispose();
});
afterAll(() => cluster?.dispose());

/**
 * The bridge's status work on one instance, seen from its store: the sweeps (`listUnnotified`)
 * and the flushes of told statuses (`markNotifiedMany`). The bridge calls the repository the
 * server gave it, which is this object: wrapping its methods lets the test wait for "a whole
 * sweep after X" as an event instead of sleeping, and hold a flush back.
 */
function watchBridgeStore(server: TestServer) {
  const repo = (server.core.store as unknown as { mqtt: MqttRepository }).mqtt;
  let sweepWaiters: Array<() => void> = [];
  const flushed = new Set<string>();
  const flushWaiters: Array<{ rid: string; resolve: () => void }> = [];
  let holdFlushes: Promise<void> = Promise.resolve();
  const list = repo.listUnnotified.bind(repo);
  repo.listUnnotified = async (now, limit) => {
    // Only the waiters already there when this sweep started.
    const waiters = sweepWaiters;
    sweepWaiters = [];
    const due = await list(now, limit);
    for (const resolve of waiters) resolve();
    return due;
  };
  const mark = repo.markNotifiedMany.bind(repo);
  repo.markNotifiedMany = async (entries) => {
    await holdFlushes;
    await mark(entries);
    for (const e of entries) flushed.add(e.rid);
    for (const w of [...flushWaiters]) {
      if (flushed.has(w.rid)) {
        flushWaiters.splice(flushWaiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  return {
    /** Resolves once a sweep that started after this call has read the store. */
    nextSweep: () => new Promise<void>((resolve) => sweepWaiters.push(resolve)),
    /** Resolves once this instance has stored `rid`'s status as told. */
    flushed: (rid: string) => (flushed.has(rid) ? Promise.resolve() : new Promise<void>((resolve) => flushWaiters.push({ rid, resolve }))),
    /** Keep this instance's flushes waiting until `until` resolves. */
    holdFlushes(until: Promise<void>) {
      holdFlushes = until;
    },
  };
}

/** Every message the broker routed to the device before this call has arrived once it resolves. */
async function drain(device: RecordingClient): Promise<void> {
  const marker = `${PREFIX}/test/${newRid()}`;
  await device.subscribe(marker);
  await device.publish(marker, 'end');
  await device.next(on(marker));
}

describe('MQTT bridges of two instances on one broker and one database', () => {
  it('tell a device approved on instance 2 once, and it gets its token answer', { timeout: TIMEOUT }, async () => {
    instances = await startInstances(await cluster.createDatabase(), 2, { config: { mqttUrl: broker.url } });
    const [one, two] = instances.servers as [TestServer, TestServer];
    await Promise.all([one.mqtt!.ready(), two.mqtt!.ready()]);
    const watched = [watchBridgeStore(one), watchBridgeStore(two)];
    const { clientId } = await one.createClient({ name: 'Thermostat' });
    const person = await one.createUser('owner');

    const device = await connectRecorder(broker.url, 4);
    devices.push(device);
    const rid = newRid();
    const key = await newDeviceKey();
    await device.subscribe(topic(rid, '+'));
    await device.subscribe(topic(rid, '+/+'));
    await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: clientId, jwk: key.publicJwk }));
    const accepted = JSON.parse((await device.next(on(topic(rid, 'authorize/accepted')))).payload) as { user_code: string; verification_uri_complete: string };

    // Instance 2's bridge tells the device at once and stores that it did at its next sweep,
    // up to a second later. The worst case, made certain: instance 1 sweeps in between.
    const told = device.next(on(topic(rid, 'status')));
    const [oneWatch, twoWatch] = watched as [ReturnType<typeof watchBridgeStore>, ReturnType<typeof watchBridgeStore>];
    twoWatch.holdFlushes(told.then(() => oneWatch.nextSweep()));
    await approveOnPhone(two.url, accepted.verification_uri_complete, person);
    expect(JSON.parse((await told).payload)).toEqual({ status: 'approved' });

    // Both bridges have had their chance to tell it again: the status is stored as told, and
    // each instance has swept twice since (a sweep that read the store just before the flush
    // has published by the next one).
    await twoWatch.flushed(rid);
    for (let i = 0; i < 2; i++) await Promise.all(watched.map((w) => w.nextSweep()));

    await device.publish(topic(rid, 'token'), await signProof(key, rid, one.clock.now()));
    const answer = await openAnswer(key, (await device.next(on(topic(rid, 'token/accepted')))).payload);
    expect(answer).toMatchObject({ token_type: 'Bearer', scope: expect.any(String) });
    expect(await two.core.tokens.verifyAccessToken(String(answer.access_token))).toMatchObject({ sub: person.id, client_id: clientId });

    await drain(device);
    const statuses = device.messages.filter((m) => m.topic === topic(rid, 'status')).map((m) => m.payload);
    console.log(`MQTT status messages the device received for one approval on instance 2: ${statuses.length}`);
    expect(statuses).toEqual([JSON.stringify({ status: 'approved' })]);
    expect(device.messages.filter((m) => m.topic.endsWith('/rejected'))).toEqual([]);
  });

  it('tell a device whose code expired once, though both bridges see it expire', { timeout: TIMEOUT }, async () => {
    instances = await startInstances(await cluster.createDatabase(), 2, { config: { mqttUrl: broker.url } });
    const servers = instances.servers as [TestServer, TestServer];
    await Promise.all(servers.map((s) => s.mqtt!.ready()));
    const watched = servers.map(watchBridgeStore);
    const { clientId } = await servers[0].createClient({ name: 'Thermostat' });
    const device = await connectRecorder(broker.url, 4);
    devices.push(device);
    const rid = newRid();
    const key = await newDeviceKey();
    await device.subscribe(topic(rid, '+'));
    await device.subscribe(topic(rid, '+/+'));
    await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: clientId, jwk: key.publicJwk }));
    await device.next(on(topic(rid, 'authorize/accepted')));
    // The bridge that served the authorize watches the code's expiry; the other one sees the
    // code expired in the store at its next sweep.
    const watcher = servers.findIndex((s) => s.core.expiry.size === 1);
    expect(watcher).toBeGreaterThanOrEqual(0);
    const other = 1 - watcher;
    const told = device.next(on(topic(rid, 'status')));
    watched[watcher]!.holdFlushes(told.then(() => watched[other]!.nextSweep()));
    instances.advance(601_000);
    expect(await servers[watcher]!.core.expiry.sweep()).toBe(1);
    expect(JSON.parse((await told).payload)).toEqual({ status: 'expired' });
    await watched[watcher]!.flushed(rid);
    for (let i = 0; i < 2; i++) await Promise.all(watched.map((w) => w.nextSweep()));
    await drain(device);
    const statuses = device.messages.filter((m) => m.topic === topic(rid, 'status')).map((m) => m.payload);
    console.log(`MQTT status messages the device received for one expiry seen by two bridges: ${statuses.length}`);
    expect(statuses).toEqual([JSON.stringify({ status: 'expired' })]);
  });

  it('tell a device approved on an instance without a bridge too, once, from the other bridge\'s sweep', { timeout: TIMEOUT }, async () => {
    const db = await cluster.createDatabase();
    instances = await startInstances(db, 1, { config: { mqttUrl: broker.url } });
    const [one] = instances.servers as [TestServer];
    // The second instance has no MQTT_URL.
    const other = await startInstances(db, 1, { clockStart: one.clock.now(), config: { publicUrl: one.url } });
    instances.servers.push(...other.servers);
    const two = other.servers[0]!;
    expect(two.mqtt).toBeUndefined();
    await one.mqtt!.ready();
    const oneWatch = watchBridgeStore(one);
    const { clientId } = await one.createClient({ name: 'Thermostat' });
    const person = await one.createUser('owner');

    const device = await connectRecorder(broker.url, 4);
    devices.push(device);
    const rid = newRid();
    const key = await newDeviceKey();
    await device.subscribe(topic(rid, '+'));
    await device.subscribe(topic(rid, '+/+'));
    await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: clientId, jwk: key.publicJwk }));
    const accepted = JSON.parse((await device.next(on(topic(rid, 'authorize/accepted')))).payload) as { verification_uri_complete: string };
    await approveOnPhone(two.url, accepted.verification_uri_complete, person);
    const decidedAt = performance.now();
    expect(JSON.parse((await device.next(on(topic(rid, 'status')))).payload)).toEqual({ status: 'approved' });
    console.log(`MQTT status of a decision taken on an instance without a bridge: told after ${(performance.now() - decidedAt).toFixed(0)} ms`);
    await oneWatch.flushed(rid);
    for (let i = 0; i < 2; i++) await oneWatch.nextSweep();
    await drain(device);
    expect(device.messages.filter((m) => m.topic === topic(rid, 'status')).map((m) => m.payload)).toEqual([JSON.stringify({ status: 'approved' })]);
  });
});
