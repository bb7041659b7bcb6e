/**
 * The device side of the MQTT tests, written the way firmware would do it: an ephemeral
 * P-256 key, a random rid, the JWS proof and JWE decryption with jose. Not a test file.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { CompactEncrypt, SignJWT, compactDecrypt, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { connect, type IClientPublishOptions, type MqttClient } from 'mqtt';

export interface DeviceKey {
  publicJwk: JWK;
  signingKey: CryptoKey;
  decryptionKey: CryptoKey;
}

/** A fresh ephemeral P-256 key pair, usable for ES256 proofs and ECDH-ES answers. */
export async function newDeviceKey(): Promise<DeviceKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const { kty, crv, x, y } = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const decryptionKey = (await importJWK({ ...privateJwk, alg: undefined }, 'ECDH-ES+A256KW')) as CryptoKey;
  return { publicJwk: { kty, crv, x, y } as JWK, signingKey: privateKey, decryptionKey };
}

/** 128 random bits, base64url: 22 characters. */
export function newRid(): string {
  return randomBytes(16).toString('base64url');
}

/** The token request proof: compact JWS, ES256, claims rid, iat, jti. `now` is the server's clock. */
export function signProof(key: DeviceKey, rid: string, nowMs: number, jti = randomUUID()): Promise<string> {
  return new SignJWT({ rid, jti }).setProtectedHeader({ alg: 'ES256' }).setIssuedAt(Math.floor(nowMs / 1000)).sign(key.signingKey);
}

/** Open a JWE answer with the device's private key. */
export async function openAnswer(key: DeviceKey, jwe: string): Promise<Record<string, unknown>> {
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, key.decryptionKey);
  if (protectedHeader.alg !== 'ECDH-ES+A256KW' || protectedHeader.enc !== 'A256GCM') throw new Error('unexpected JWE algorithms');
  return JSON.parse(new TextDecoder().decode(plaintext)) as Record<string, unknown>;
}

/** Encrypt a refresh request to the server's `use: enc` key from its JWKS. */
export async function encryptRefresh(jwks: { keys: JWK[] }, body: Record<string, unknown>): Promise<string> {
  const enc = jwks.keys.find((k) => k.use === 'enc');
  if (!enc) throw new Error('no enc key in the JWKS');
  const key = await importJWK(enc, 'ECDH-ES+A256KW');
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(body)))
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: enc.kid! })
    .encrypt(key);
}

export interface Received {
  topic: string;
  payload: string;
  properties: Record<string, unknown> | undefined;
}

/** An MQTT client that records every message and lets a test wait for one. */
export interface RecordingClient {
  client: MqttClient;
  messages: Received[];
  /** The first message matching `predicate` not returned by an earlier `next` (already received or yet to come). */
  next(predicate: (m: Received) => boolean): Promise<Received>;
  /** Wait until `count` messages matching have arrived (consumes nothing). */
  nth(predicate: (m: Received) => boolean, count: number): Promise<Received>;
  publish(topic: string, payload: string | Buffer, options?: Partial<IClientPublishOptions>): Promise<void>;
  subscribe(filter: string): Promise<void>;
  end(): Promise<void>;
}

export async function connectRecorder(url: string, protocolVersion: 4 | 5 = 4, extra: Record<string, unknown> = {}): Promise<RecordingClient> {
  const client = connect(url, { protocolVersion, reconnectPeriod: 100, clientId: `device-${newRid()}`, ...extra });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  // While the broker is away mqtt.js reports each refused reconnect as an error: expected here.
  client.on('error', () => {});
  const messages: Received[] = [];
  const consumed = new Set<Received>();
  const waiters: Array<{ predicate: (m: Received) => boolean; resolve: (m: Received) => void }> = [];
  const counters: Array<{ predicate: (m: Received) => boolean; count: number; resolve: (m: Received) => void }> = [];
  client.on('message', (topic, payload, packet) => {
    const m: Received = { topic, payload: payload.toString(), properties: packet.properties as Record<string, unknown> | undefined };
    messages.push(m);
    const waiter = waiters.find((w) => w.predicate(m));
    if (waiter) {
      waiters.splice(waiters.indexOf(waiter), 1);
      consumed.add(m);
      waiter.resolve(m);
    }
    for (const c of [...counters]) {
      if (c.predicate(m) && messages.filter(c.predicate).length >= c.count) {
        counters.splice(counters.indexOf(c), 1);
        c.resolve(m);
      }
    }
  });
  function next(predicate: (m: Received) => boolean): Promise<Received> {
    const found = messages.find((m) => !consumed.has(m) && predicate(m));
    if (found) {
      consumed.add(found);
      return Promise.resolve(found);
    }
    return new Promise((resolve) => waiters.push({ predicate, resolve }));
  }
  function nth(predicate: (m: Received) => boolean, count: number): Promise<Received> {
    const already = messages.filter(predicate);
    if (already.length >= count) return Promise.resolve(already[count - 1]!);
    return new Promise((resolve) => counters.push({ predicate, count, resolve }));
  }
  return {
    client,
    messages,
    next,
    nth,
    publish: (topic, payload, options = {}) =>
      new Promise((resolve, reject) => client.publish(topic, payload, { qos: 1, ...options }, (err) => (err ? reject(err) : resolve()))),
    subscribe: (filter) =>
      new Promise((resolve, reject) => client.subscribe(filter, { qos: 1 }, (err) => (err ? reject(err) : resolve()))),
    end: () => client.endAsync(true),
  };
}

/** A message on exactly this topic. */
export const on = (topic: string) => (m: Received) => m.topic === topic;
