import { exportJWK, generateKeyPair, importJWK, calculateJwkThumbprint, type CryptoKey, type JWK } from 'jose';
import type { AuditContext, AuditTrail } from './audit.js';
import type { Clock } from './clock.js';
import { createPrivateKey, type JsonWebKey as NodeJsonWebKey } from 'node:crypto';
import type { SigningKey } from './jws.js';
import type { KeyRecord, KeyRepository, SigningAlg } from '../store/port/index.js';

/** The algorithms a key is kept for: both JWT signing algorithms and one for JWE (MQTT bridge). */
const KEY_ALGS = ['ES256', 'RS256', 'ECDH-ES+A256KW'] as const;
type KeyAlg = (typeof KEY_ALGS)[number];

/** The current private key of an algorithm, for jose (the MQTT bridge's JWE decryption). */
export interface ActiveKey {
  kid: string;
  alg: KeyAlg;
  key: CryptoKey;
}

/** A key as an operator sees it (`kalm keys list`): never its private part. */
export interface KeyInfo {
  kid: string;
  alg: KeyRecord['alg'];
  use: KeyRecord['use'];
  /**
   * `active`: signs (or decrypts) now; `retired`: replaced, still in the JWKS until the tokens it
   * signed have expired (`publishedUntil`); `expired`: replaced and no longer published.
   */
  state: 'active' | 'retired' | 'expired';
  createdAt: number;
  retiredAt: number | null;
  /** When it leaves the JWKS; null while active. */
  publishedUntil: number | null;
}

export interface KeyManager {
  /** The current signing key for `alg`. */
  signingKey(alg: SigningAlg): Promise<SigningKey>;
  /** The current private key of the server's encryption key (`use: enc`). */
  decryptionKey(): Promise<ActiveKey>;
  /** Public keys still published: active ones and retired ones whose tokens may not have expired yet. */
  jwks(): Promise<{ keys: JWK[] }>;
  /** Every key kept, newest first, without private parts. */
  list(): Promise<KeyInfo[]>;
  /** Create a new key for each algorithm; old ones stay published for `retainSeconds`. `keys.rotated` in the audit trail. */
  rotate(context?: AuditContext): Promise<void>;
  /** Create the keys on a fresh database. */
  ensureKeys(): Promise<void>;
}

async function newKey(alg: KeyAlg, now: number): Promise<KeyRecord> {
  const options = alg === 'RS256' ? { modulusLength: 2048, extractable: true } : { crv: 'P-256', extractable: true };
  const { privateKey, publicKey } = await generateKeyPair(alg, options);
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const use = alg === 'ECDH-ES+A256KW' ? 'enc' : 'sig';
  return {
    kid,
    alg,
    use,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg, use },
    publicJwk: { ...publicJwk, kid, alg, use },
    createdAt: now,
    retiredAt: null,
  };
}

/**
 * Keys live in the store (the data dir); imported CryptoKeys are cached for
 * `cacheMs`, so a `kalm keys rotate` from the CLI reaches a running server
 * within that time without a database read on every token: a list read `cacheMs`
 * ago is read again.
 */
export function createKeyManager(
  repo: KeyRepository,
  clock: Clock,
  retainSeconds: () => number,
  options: { cacheMs?: number; audit?: Pick<AuditTrail, 'event'> } = {},
): KeyManager {
  const cacheMs = options.cacheMs ?? 30_000;
  let cache:
    | { loadedAt: number; records: KeyRecord[]; imported: Map<string, Promise<CryptoKey>>; signers: Map<string, SigningKey> }
    | undefined;

  async function records(): Promise<KeyRecord[]> {
    const now = clock.now();
    if (!cache || now - cache.loadedAt >= cacheMs || now < cache.loadedAt) {
      cache = { loadedAt: now, records: await repo.list(), imported: cache?.imported ?? new Map(), signers: cache?.signers ?? new Map() };
    }
    return cache.records;
  }

  async function activeRecord(alg: KeyAlg): Promise<KeyRecord> {
    const record = (await records()).find((k) => k.alg === alg && k.retiredAt === null);
    if (!record) throw new Error(`no active ${alg} key: run ensureKeys() first`);
    return record;
  }

  async function active(alg: KeyAlg): Promise<ActiveKey> {
    const record = await activeRecord(alg);
    const imported = cache!.imported;
    let key = imported.get(record.kid);
    if (!key) {
      key = importJWK(record.privateJwk, alg) as Promise<CryptoKey>;
      imported.set(record.kid, key);
    }
    return { kid: record.kid, alg, key: await key };
  }

  return {
    async signingKey(alg) {
      const record = await activeRecord(alg);
      let signer = cache!.signers.get(record.kid);
      if (!signer) {
        signer = { kid: record.kid, alg, key: createPrivateKey({ key: record.privateJwk as NodeJsonWebKey, format: 'jwk' }) };
        cache!.signers.set(record.kid, signer);
      }
      return signer;
    },
    decryptionKey: () => active('ECDH-ES+A256KW'),
    async jwks() {
      const now = clock.now();
      const published = (await records()).filter((k) => k.retiredAt === null || k.retiredAt + retainSeconds() * 1000 > now);
      return { keys: published.map((k) => k.publicJwk) };
    },
    async list() {
      const now = clock.now();
      return (await repo.list())
        .map((k): KeyInfo => {
          const publishedUntil = k.retiredAt === null ? null : k.retiredAt + retainSeconds() * 1000;
          const state = publishedUntil === null ? 'active' : publishedUntil > now ? 'retired' : 'expired';
          return { kid: k.kid, alg: k.alg, use: k.use, state, createdAt: k.createdAt, retiredAt: k.retiredAt, publishedUntil };
        })
        .sort((a, b) => b.createdAt - a.createdAt || a.alg.localeCompare(b.alg));
    },
    async rotate(context = {}) {
      const now = clock.now();
      const created = await Promise.all(KEY_ALGS.map((alg) => newKey(alg, now)));
      // The key ids (RFC 7638 thumbprints of the public keys) are public: the JWKS lists them.
      const rotated = options.audit?.event({ type: 'keys.rotated', actor: context.actor, ip: context.ip, details: { kids: created.map((k) => `${k.kid} ${k.alg}`) } });
      await repo.rotate(created, now, rotated);
      cache = undefined;
    },
    async ensureKeys() {
      const existing = await repo.list();
      const missing = KEY_ALGS.filter((alg) => !existing.some((k) => k.alg === alg && k.retiredAt === null));
      if (missing.length === 0) return;
      const now = clock.now();
      // Another instance starting at the same time may have added them meanwhile: only what is still missing goes in.
      await repo.addMissing(await Promise.all(missing.map((alg) => newKey(alg, now))));
      cache = undefined;
    },
  };
}
