/**
 * The README's firmware recipe, followed step by step with bare primitives (node:crypto's
 * ECDSA, ECDH, SHA-256, AES key wrap and AES-GCM, the same ones mbedTLS offers) and no JOSE
 * library: if the recipe were wrong, this device could not finish the flow.
 */
import { createCipheriv, createDecipheriv, createECDH, createHash, createPrivateKey, randomBytes, randomUUID, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRecorder, on } from './device.js';
import { startMqttWorld, topic, type MqttWorld } from './setup.js';

let world: MqttWorld;
beforeAll(async () => {
  world = await startMqttWorld();
});
afterAll(() => world.stop());

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** RFC 7518 §4.6.2 Concat KDF for ECDH-ES+A256KW with empty apu/apv: one SHA-256 round. */
function kek(z: Buffer): Buffer {
  const alg = Buffer.from('ECDH-ES+A256KW');
  return createHash('sha256')
    .update(Buffer.concat([u32(1), z, u32(alg.length), alg, u32(0), u32(0), u32(256)]))
    .digest();
}

/** A P-256 key as raw material: private scalar and the public x, y. */
function p256() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const pub = ecdh.getPublicKey(); // 04 || x || y
  return { ecdh, d: ecdh.getPrivateKey(), x: pub.subarray(1, 33), y: pub.subarray(33, 65) };
}

function openJwe(compact: string, ecdh: ReturnType<typeof createECDH>): Record<string, unknown> {
  const [h, k, iv, c, t] = compact.split('.') as [string, string, string, string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { epk: { x: string; y: string } };
  const epk = Buffer.concat([Buffer.from([4]), Buffer.from(header.epk.x, 'base64url'), Buffer.from(header.epk.y, 'base64url')]);
  const z = ecdh.computeSecret(epk);
  // AES key unwrap (RFC 3394, default IV): mbedtls_nist_kw_unwrap in MBEDTLS_KW_MODE_KW.
  const unwrap = createDecipheriv('id-aes256-wrap', kek(z), Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
  const cek = Buffer.concat([unwrap.update(Buffer.from(k, 'base64url')), unwrap.final()]);
  const gcm = createDecipheriv('aes-256-gcm', cek, Buffer.from(iv, 'base64url'));
  gcm.setAAD(Buffer.from(h, 'ascii'));
  gcm.setAuthTag(Buffer.from(t, 'base64url'));
  return JSON.parse(Buffer.concat([gcm.update(Buffer.from(c, 'base64url')), gcm.final()]).toString()) as Record<string, unknown>;
}

function sealJwe(plaintext: object, server: { x: string; y: string; kid: string }): string {
  const e = p256();
  const z = e.ecdh.computeSecret(Buffer.concat([Buffer.from([4]), Buffer.from(server.x, 'base64url'), Buffer.from(server.y, 'base64url')]));
  const cek = randomBytes(32);
  const wrap = createCipheriv('id-aes256-wrap', kek(z), Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
  const k = Buffer.concat([wrap.update(cek), wrap.final()]);
  const h = b64url(JSON.stringify({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: server.kid, epk: { kty: 'EC', crv: 'P-256', x: b64url(e.x), y: b64url(e.y) } }));
  const iv = randomBytes(12);
  const gcm = createCipheriv('aes-256-gcm', cek, iv);
  gcm.setAAD(Buffer.from(h, 'ascii'));
  const c = Buffer.concat([gcm.update(JSON.stringify(plaintext)), gcm.final()]);
  return [h, b64url(k), b64url(iv), b64url(c), b64url(gcm.getAuthTag())].join('.');
}

describe('the firmware recipe of the README, with bare primitives', () => {
  it('signs the proof as r‖s, opens the answer with ECDH + Concat KDF + AES key unwrap + AES-GCM, and seals a refresh', async () => {
    const { server, clientId, user, broker } = world;
    const device = await connectRecorder(broker.url, 4);
    const key = p256();
    const rid = randomBytes(16).toString('base64url');
    const jwk = { kty: 'EC', crv: 'P-256', x: b64url(key.x), y: b64url(key.y) };
    await device.subscribe(topic(rid, '#'));
    await device.publish(topic(rid, 'authorize'), JSON.stringify({ client_id: clientId, jwk }));
    const { user_code } = JSON.parse((await device.next(on(topic(rid, 'authorize/accepted')))).payload);
    await server.core.deviceFlow.approve(user_code, user.id, ['valuate:read']);
    await device.next(on(topic(rid, 'status')));

    const signingKey = createPrivateKey({ key: { ...jwk, d: b64url(key.d) }, format: 'jwk' });
    const input = `${b64url('{"alg":"ES256"}')}.${b64url(JSON.stringify({ rid, iat: Math.floor(server.clock.now() / 1000), jti: randomUUID() }))}`;
    const signature = sign('sha256', Buffer.from(input), { key: signingKey, dsaEncoding: 'ieee-p1363' });
    expect(signature).toHaveLength(64);
    await device.publish(topic(rid, 'token'), `${input}.${b64url(signature)}`);
    const tokens = openJwe((await device.next(on(topic(rid, 'token/accepted')))).payload, key.ecdh);
    expect(await server.core.tokens.verifyAccessToken(String(tokens.access_token))).toMatchObject({ sub: user.id });

    const jwks = (await (await fetch(`${server.url}/jwks.json`)).json()) as { keys: Array<{ use: string; x: string; y: string; kid: string }> };
    const enc = jwks.keys.find((k) => k.use === 'enc')!;
    const refresh = sealJwe({ client_id: clientId, refresh_token: tokens.refresh_token, rid, iat: Math.floor(server.clock.now() / 1000), jti: randomUUID() }, enc);
    await device.publish(topic(rid, 'refresh'), refresh);
    const rotated = openJwe((await device.next(on(topic(rid, 'refresh/accepted')))).payload, key.ecdh);
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    expect(await server.core.tokens.verifyAccessToken(String(rotated.access_token))).toMatchObject({ sub: user.id });
    await device.end();
  });
});
