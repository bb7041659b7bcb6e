import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRecorder, newDeviceKey, newRid, on, signProof, type RecordingClient } from './device.js';
import { startMqttWorld, topic, type MqttWorld } from './setup.js';

let world: MqttWorld;
let device: RecordingClient;
beforeAll(async () => {
  world = await startMqttWorld();
  device = await connectRecorder(world.broker.url, 4);
});
afterAll(async () => {
  await device.end();
  await world.stop();
});

/** Publish on a fresh rid's `action` topic and return the parsed answer on `…/{action}/{result}`. */
async function ask(action: string, payload: string | Buffer, result: 'accepted' | 'rejected' = 'rejected', rid = newRid()) {
  await device.subscribe(topic(rid, '#'));
  await device.publish(topic(rid, action), payload);
  const m = await device.next(on(topic(rid, `${action}/${result}`)));
  return { rid, body: JSON.parse(m.payload) as Record<string, unknown> };
}

async function authorized() {
  const key = await newDeviceKey();
  const { rid, body } = await ask('authorize', JSON.stringify({ client_id: world.clientId, jwk: key.publicJwk }), 'accepted');
  return { key, rid, userCode: String(body.user_code) };
}

async function expectHealthy() {
  expect((await fetch(`${world.server.url}/healthz`)).status).toBe(200);
  const key = await newDeviceKey();
  await ask('authorize', JSON.stringify({ client_id: world.clientId, jwk: key.publicJwk }), 'accepted');
}

describe('authorize requests the bridge refuses', () => {
  it('answers invalid_request to malformed JSON', async () => {
    expect((await ask('authorize', '{"client_id": ')).body).toMatchObject({ error: 'invalid_request', error_description: 'payload is not valid JSON' });
  });

  it('answers invalid_request to JSON that is not an object, or has members of the wrong type', async () => {
    expect((await ask('authorize', '[1,2]')).body.error).toBe('invalid_request');
    const key = await newDeviceKey();
    const wrongClient = await ask('authorize', JSON.stringify({ client_id: 42, jwk: key.publicJwk }));
    expect(wrongClient.body).toMatchObject({ error: 'invalid_request', error_description: '"client_id" must be a non-empty string' });
    const wrongScope = await ask('authorize', JSON.stringify({ client_id: world.clientId, scope: ['valuate:read'], jwk: key.publicJwk }));
    expect(wrongScope.body.error).toBe('invalid_request');
    const noKey = await ask('authorize', JSON.stringify({ client_id: world.clientId }));
    expect(noKey.body.error_description).toBe('"jwk" must be a JWK object');
    const rsa = await ask('authorize', JSON.stringify({ client_id: world.clientId, jwk: { kty: 'RSA', n: 'x', e: 'AQAB' } }));
    expect(rsa.body.error_description).toBe('"jwk" must be an EC P-256 key');
    const offCurve = await ask('authorize', JSON.stringify({ client_id: world.clientId, jwk: { ...key.publicJwk, y: key.publicJwk.x } }));
    expect(offCurve.body.error).toBe('invalid_request');
  });

  it('refuses a JWK that carries the private key', async () => {
    const { body } = await ask('authorize', JSON.stringify({ client_id: world.clientId, jwk: { ...(await newDeviceKey()).publicJwk, d: 'AAAA' } }));
    expect(body.error_description).toMatch(/private key/);
  });

  it('answers invalid_client to an unknown client and to a confidential one', async () => {
    const key = await newDeviceKey();
    expect((await ask('authorize', JSON.stringify({ client_id: 'nobody', jwk: key.publicJwk }))).body.error).toBe('invalid_client');
    const { clientId } = await world.server.createClient({ type: 'confidential' });
    expect((await ask('authorize', JSON.stringify({ client_id: clientId, jwk: key.publicJwk }))).body.error).toBe('invalid_client');
  });

  it('answers unauthorized_client to a client that requires DPoP, whose tokens the bridge cannot bind', async () => {
    const key = await newDeviceKey();
    const { clientId } = await world.server.createClient({ requireDpop: true });
    const { body } = await ask('authorize', JSON.stringify({ client_id: clientId, jwk: key.publicJwk }));
    expect(body).toMatchObject({ error: 'unauthorized_client' });
    expect(String(body.error_description)).toMatch(/DPoP/);
  });

  it('answers invalid_scope to a scope the client may not ask for', async () => {
    const key = await newDeviceKey();
    const { body } = await ask('authorize', JSON.stringify({ client_id: world.clientId, scope: 'root:everything', jwk: key.publicJwk }));
    expect(body.error).toBe('invalid_scope');
  });

  it('refuses a payload over 4096 bytes, with a log line', async () => {
    const big = JSON.stringify({ client_id: world.clientId, padding: 'x'.repeat(5000) });
    const { rid, body } = await ask('authorize', big);
    expect(body).toMatchObject({ error: 'invalid_request', error_description: 'payload larger than 4096 bytes' });
    expect(world.server.logLines().some((l) => l.rid === rid && /payload larger/.test(String(l.msg)))).toBe(true);
  });

  it('refuses a rid shorter than 128 bits', async () => {
    const key = await newDeviceKey();
    const { body } = await ask('authorize', JSON.stringify({ client_id: world.clientId, jwk: key.publicJwk }), 'rejected', 'short-rid');
    expect(body.error_description).toMatch(/rid must be 22 to 128 base64url/);
  });

  it('answers a repeated authorize with the same code, and refuses the rid to another key', async () => {
    const { key, rid, userCode } = await authorized();
    await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: world.clientId, jwk: key.publicJwk }));
    expect(JSON.parse((await device.next(on(topic(rid, 'authorize/accepted')))).payload).user_code).toBe(userCode);
    const other = await newDeviceKey();
    await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: world.clientId, jwk: other.publicJwk }));
    expect(JSON.parse((await device.next(on(topic(rid, 'authorize/rejected')))).payload).error_description).toMatch(/already in use/);
  });

  it('drops a flood from one rid after 20 messages, logs it once, and keeps serving everyone else', async () => {
    const rid = newRid();
    await device.subscribe(topic(rid, '#'));
    for (let i = 0; i < 60; i++) await device.publish(topic(rid, 'authorize'), 'not json');
    await device.nth(on(topic(rid, 'authorize/rejected')), 20);
    await expectHealthy();
    expect(device.messages.filter(on(topic(rid, 'authorize/rejected')))).toHaveLength(20);
    expect(world.server.logLines().filter((l) => l.rid === rid && /flood/.test(String(l.msg)))).toHaveLength(1);
  });
});

describe('token requests the bridge refuses', () => {
  it('answers slow_down with the new interval when polled early, as over HTTP', async () => {
    const { key, rid } = await authorized();
    const poll = async () => {
      await device.publish(topic(rid, 'token'), await signProof(key, rid, world.server.clock.now()));
      return JSON.parse((await device.next(on(topic(rid, 'token/rejected')))).payload) as Record<string, unknown>;
    };
    expect((await poll()).error).toBe('authorization_pending');
    expect(await poll()).toMatchObject({ error: 'slow_down', interval: 10 });
    world.server.clock.advance(10_000);
    expect((await poll()).error).toBe('authorization_pending');
  });

  it('refuses a replayed proof, a stale one (telling the server time) and one signed by another key', async () => {
    const { key, rid } = await authorized();
    const now = world.server.clock.now();
    const proof = await signProof(key, rid, now);
    await device.publish(topic(rid, 'token'), proof);
    expect(JSON.parse((await device.next(on(topic(rid, 'token/rejected')))).payload).error).toBe('authorization_pending');
    await device.publish(topic(rid, 'token'), proof);
    expect(JSON.parse((await device.next(on(topic(rid, 'token/rejected')))).payload).error_description).toMatch(/already used/);

    await device.publish(topic(rid, 'token'), await signProof(key, rid, now - 600_000));
    const stale = JSON.parse((await device.next(on(topic(rid, 'token/rejected')))).payload);
    expect(stale).toMatchObject({ error: 'invalid_request', server_time: Math.floor(now / 1000) });

    await device.publish(topic(rid, 'token'), await signProof(await newDeviceKey(), rid, now));
    expect(JSON.parse((await device.next(on(topic(rid, 'token/rejected')))).payload).error).toBe('invalid_grant');
    await device.publish(topic(rid, 'token'), await signProof(key, newRid(), now));
    expect(JSON.parse((await device.next(on(topic(rid, 'token/rejected')))).payload).error_description).toMatch(/does not match the topic/);
    await device.publish(topic(rid, 'token'), 'not-a-jws');
    expect(JSON.parse((await device.next(on(topic(rid, 'token/rejected')))).payload).error).toBe('invalid_request');
  });

  it('answers invalid_grant for a rid that never authorized', async () => {
    const rid = newRid();
    const { body } = await ask('token', await signProof(await newDeviceKey(), rid, world.server.clock.now()), 'rejected', rid);
    expect(body.error).toBe('invalid_grant');
  });

  it('pushes denied and answers access_denied', async () => {
    const { key, rid, userCode } = await authorized();
    await world.server.core.deviceFlow.deny(userCode, world.user.id);
    expect(JSON.parse((await device.next(on(topic(rid, 'status')))).payload)).toEqual({ status: 'denied' });
    await device.publish(topic(rid, 'token'), await signProof(key, rid, world.server.clock.now()));
    expect(JSON.parse((await device.next(on(topic(rid, 'token/rejected')))).payload).error).toBe('access_denied');
  });

  it('pushes expired once when the code runs out, and answers expired_token', async () => {
    const { key, rid } = await authorized();
    world.server.clock.advance(601_000);
    expect(JSON.parse((await device.next(on(topic(rid, 'status')))).payload)).toEqual({ status: 'expired' });
    await device.publish(topic(rid, 'token'), await signProof(key, rid, world.server.clock.now()));
    expect(JSON.parse((await device.next(on(topic(rid, 'token/rejected')))).payload).error).toBe('expired_token');
    // Whoever noticed the expiry first (core's timer or the bridge's sweep), the device heard it once.
    expect(device.messages.filter(on(topic(rid, 'status')))).toHaveLength(1);
  });

  it('sends the same encrypted answer again to a device that lost it, and nothing to anyone else', async () => {
    const { key, rid, userCode } = await authorized();
    await world.server.core.deviceFlow.approve(userCode, world.user.id, ['valuate:read']);
    await device.publish(topic(rid, 'token'), await signProof(key, rid, world.server.clock.now()));
    const first = (await device.next(on(topic(rid, 'token/accepted')))).payload;
    await device.publish(topic(rid, 'token'), await signProof(key, rid, world.server.clock.now()));
    expect((await device.next(on(topic(rid, 'token/accepted')))).payload).toBe(first);
    await device.publish(topic(rid, 'token'), await signProof(await newDeviceKey(), rid, world.server.clock.now()));
    expect(JSON.parse((await device.next(on(topic(rid, 'token/rejected')))).payload).error).toBe('invalid_grant');
  });

  it('never publishes retained messages', async () => {
    expect(device.messages.length).toBeGreaterThan(0);
    const late = await connectRecorder(world.broker.url, 4);
    await late.subscribe('kalm/#');
    const rid = newRid();
    await late.subscribe(topic(rid, '#'));
    await late.publish(topic(rid, 'authorize'), 'x');
    await late.next(on(topic(rid, 'authorize/rejected')));
    expect(late.messages.filter((m) => !m.topic.includes(rid))).toEqual([]);
    await late.end();
  });
});
