import { createLocalJWKSet, jwtVerify, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRecorder, encryptRefresh, newDeviceKey, newRid, on, openAnswer, signProof } from './device.js';
import { startMqttWorld, topic, type MqttWorld } from './setup.js';

let world: MqttWorld;
beforeAll(async () => {
  world = await startMqttWorld();
});
afterAll(() => world.stop());

async function jwks(): Promise<{ keys: JWK[] }> {
  return (await (await fetch(`${world.server.url}/jwks.json`)).json()) as { keys: JWK[] };
}

/** A 3.1.1 device through the whole flow on its own rid and key, approved for `scopes`, holding its token answer. */
async function pairedOverMqtt(scopes: string[]) {
  const { server, clientId, user, broker } = world;
  const device = await connectRecorder(broker.url, 4);
  const key = await newDeviceKey();
  const rid = newRid();
  await device.subscribe(topic(rid, '#'));
  await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: clientId, jwk: key.publicJwk }));
  const { user_code } = JSON.parse((await device.next(on(topic(rid, 'authorize/accepted')))).payload);
  await server.core.deviceFlow.approve(user_code, user.id, scopes);
  await device.publish(topic(rid, 'token'), await signProof(key, rid, server.clock.now()));
  const tokens = await openAnswer(key, (await device.next(on(topic(rid, 'token/accepted')))).payload);
  return { device, key, rid, tokens };
}

async function verifyAccessToken(token: string) {
  return jwtVerify(token, createLocalJWKSet(await jwks()), {
    issuer: world.server.url,
    typ: 'at+jwt',
    currentDate: new Date(world.server.clock.now()),
  });
}

describe('the device flow over MQTT 3.1.1', () => {
  it('authorizes, pushes the approval, and answers the signed token request with a JWE only the device opens', async () => {
    const { server, clientId, user, broker } = world;
    const spy = await connectRecorder(broker.url);
    await spy.subscribe('kalm/#');
    const device = await connectRecorder(broker.url, 4);
    const key = await newDeviceKey();
    const rid = newRid();
    await device.subscribe(topic(rid, '#'));
    await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: clientId, scope: 'valuate:read billing:read', jwk: key.publicJwk }));
    const accepted = JSON.parse((await device.next(on(topic(rid, 'authorize/accepted')))).payload) as Record<string, unknown>;
    expect(Object.keys(accepted).sort()).toEqual(['expires_in', 'interval', 'user_code', 'verification_uri', 'verification_uri_complete']);
    expect(accepted.verification_uri).toBe(`${server.url}/device`);
    expect(accepted.verification_uri_complete).toBe(`${server.url}/device?user_code=${accepted.user_code}`);
    expect(accepted).toMatchObject({ expires_in: 600, interval: 5 });

    await device.publish(topic(rid, 'token'), await signProof(key, rid, server.clock.now()));
    const pending = JSON.parse((await device.next(on(topic(rid, 'token/rejected')))).payload);
    expect(pending.error).toBe('authorization_pending');

    await server.core.deviceFlow.approve(String(accepted.user_code), user.id, ['valuate:read']);
    expect(JSON.parse((await device.next(on(topic(rid, 'status')))).payload)).toEqual({ status: 'approved' });

    // Told by push, the device asks at once: never slow_down after an approval.
    await device.publish(topic(rid, 'token'), await signProof(key, rid, server.clock.now()));
    const jwe = (await device.next(on(topic(rid, 'token/accepted')))).payload;
    expect(jwe.split('.')).toHaveLength(5);
    const tokens = await openAnswer(key, jwe);
    expect(tokens).toMatchObject({ token_type: 'Bearer', scope: 'valuate:read', expires_in: 3600 });
    const { payload } = await verifyAccessToken(String(tokens.access_token));
    expect(payload).toMatchObject({ sub: user.id, client_id: clientId, scope: 'valuate:read' });

    // A wildcard subscriber saw every message and no usable secret.
    await spy.next(on(topic(rid, 'token/accepted')));
    const seen = spy.messages.map((m) => m.payload).join('\n');
    expect(seen).not.toContain(String(tokens.access_token));
    expect(seen).not.toContain(String(tokens.refresh_token));
    expect(seen).not.toMatch(/access_token|refresh_token|device_code/);
    expect(server.logText()).not.toContain(String(tokens.refresh_token));
    expect(server.logText()).not.toContain(String(tokens.access_token));
    await Promise.all([spy.end(), device.end()]);
  });

  it('refreshes with the refresh token encrypted to the server key, and answers the rotated pair encrypted to the device', async () => {
    const { server, clientId } = world;
    const { device, key, rid, tokens: first } = await pairedOverMqtt(['valuate:read', 'valuate:write']);

    const iat = Math.floor(server.clock.now() / 1000);
    const request = await encryptRefresh(await jwks(), { client_id: clientId, refresh_token: first.refresh_token, rid, iat, jti: newRid() });
    await device.publish(topic(rid, 'refresh'), request);
    const rotated = await openAnswer(key, (await device.next(on(topic(rid, 'refresh/accepted')))).payload);
    expect(rotated.refresh_token).toEqual(expect.any(String));
    expect(rotated.refresh_token).not.toBe(first.refresh_token);
    expect((await verifyAccessToken(String(rotated.access_token))).payload.scope).toBe('valuate:read valuate:write');

    // A recorded request played again is refused before it could spend (and revoke) the family.
    await device.publish(topic(rid, 'refresh'), request);
    expect(JSON.parse((await device.next(on(topic(rid, 'refresh/rejected')))).payload).error).toBe('invalid_request');
    const introspected = await server.core.tokens.introspect(String(rotated.refresh_token), 'refresh_token');
    expect(introspected.active).toBe(true);

    // A new rid and a new key (say after a reboot): the answer goes to the key named inside the request.
    const key2 = await newDeviceKey();
    const rid2 = newRid();
    await device.subscribe(topic(rid2, '#'));
    const request2 = await encryptRefresh(await jwks(), {
      client_id: clientId,
      refresh_token: rotated.refresh_token,
      rid: rid2,
      iat,
      jti: newRid(),
      jwk: key2.publicJwk,
    });
    await device.publish(topic(rid2, 'refresh'), request2);
    const third = await openAnswer(key2, (await device.next(on(topic(rid2, 'refresh/accepted')))).payload);
    expect(third.access_token).toEqual(expect.any(String));
    await device.end();
  });

  it('answers a refresh asked again with the same token and key with the same pair, and a different key as reuse', async () => {
    const { server, clientId } = world;
    const { device, key, rid, tokens: paired } = await pairedOverMqtt(['valuate:read']);
    const refresh = async (k: typeof key, refreshToken: unknown) => {
      const body = { client_id: clientId, refresh_token: refreshToken, rid, iat: Math.floor(server.clock.now() / 1000), jti: newRid(), jwk: k.publicJwk };
      await device.publish(topic(rid, 'refresh'), await encryptRefresh(await jwks(), body));
      return device.next((m) => m.topic === topic(rid, 'refresh/accepted') || m.topic === topic(rid, 'refresh/rejected'));
    };

    const answer = await refresh(key, paired.refresh_token);
    expect(answer.topic).toBe(topic(rid, 'refresh/accepted'));
    // The answer was lost (say the server died right after the rotation): the device asks again
    // with the same token and key and a new proof, and gets the very same pair.
    const again = await refresh(key, paired.refresh_token);
    expect(again).toMatchObject({ topic: topic(rid, 'refresh/accepted'), payload: answer.payload });
    const rotated = await openAnswer(key, answer.payload);
    expect((await server.core.tokens.introspect(String(rotated.refresh_token), 'refresh_token')).active).toBe(true);

    // The spent token with any other key is what RFC 9700 §4.14.2 calls reuse: the family ends.
    const thief = await newDeviceKey();
    expect(JSON.parse((await refresh(thief, paired.refresh_token)).payload).error).toBe('invalid_grant');
    expect((await server.core.tokens.introspect(String(rotated.refresh_token), 'refresh_token')).active).toBe(false);
    expect(JSON.parse((await refresh(key, paired.refresh_token)).payload).error).toBe('invalid_grant');
    await device.end();
  });
});

describe('the device flow over MQTT 5', () => {
  it('answers on the Response Topic with the Correlation Data echoed', async () => {
    const { server, clientId, user, broker } = world;
    const device = await connectRecorder(broker.url, 5);
    const key = await newDeviceKey();
    const rid = newRid();
    const replyTo = topic(rid, 'reply');
    await device.subscribe(replyTo);
    await device.subscribe(topic(rid, 'status'));
    await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: clientId, scope: 'organization:read', jwk: key.publicJwk }), {
      properties: { responseTopic: replyTo, correlationData: Buffer.from('req-1') },
    });
    const first = await device.next(on(replyTo));
    expect(Buffer.from(first.properties!.correlationData as Uint8Array).toString()).toBe('req-1');
    expect(first.properties!.userProperties).toEqual({ result: 'accepted' });
    const { user_code } = JSON.parse(first.payload);

    await device.publish(topic(rid, 'token'), await signProof(key, rid, server.clock.now()), {
      properties: { responseTopic: replyTo, correlationData: Buffer.from('req-2') },
    });
    const pending = await device.next(on(replyTo));
    expect(Buffer.from(pending.properties!.correlationData as Uint8Array).toString()).toBe('req-2');
    expect(pending.properties!.userProperties).toEqual({ result: 'rejected' });
    expect(JSON.parse(pending.payload).error).toBe('authorization_pending');

    await server.core.deviceFlow.approve(user_code, user.id, ['organization:read']);
    expect(JSON.parse((await device.next(on(topic(rid, 'status')))).payload)).toEqual({ status: 'approved' });
    await device.publish(topic(rid, 'token'), await signProof(key, rid, server.clock.now()), {
      properties: { responseTopic: replyTo, correlationData: Buffer.from('req-3') },
    });
    const answer = await device.next(on(replyTo));
    expect(Buffer.from(answer.properties!.correlationData as Uint8Array).toString()).toBe('req-3');
    const tokens = await openAnswer(key, answer.payload);
    expect((await verifyAccessToken(String(tokens.access_token))).payload.sub).toBe(user.id);
    await device.end();
  });

  it('refuses a Response Topic outside the device\'s own tree and answers on its rejected topic instead', async () => {
    const { clientId, broker } = world;
    const device = await connectRecorder(broker.url, 5);
    const victim = newRid();
    const rid = newRid();
    await device.subscribe(topic(rid, '#'));
    await device.subscribe(topic(victim, '#'));
    const key = await newDeviceKey();
    await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: clientId, jwk: key.publicJwk }), {
      properties: { responseTopic: topic(victim, 'status'), correlationData: Buffer.from('x') },
    });
    const rejected = await device.next(on(topic(rid, 'authorize/rejected')));
    expect(JSON.parse(rejected.payload).error).toBe('invalid_request');
    expect(device.messages.filter((m) => m.topic.includes(victim))).toEqual([]);
    await device.end();
  });
});
