import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';

/** The source of randomness for every secret, injected so tests can be deterministic. */
export type RandomSource = (size: number) => Uint8Array;

// Secrets are drawn from a pool of POOL_BYTES of the same CSPRNG: each `randomBytes` call is a
// trip into OpenSSL (8 µs for 32 bytes here, two or three of them a token request), a slice of
// the pool a copy (0.3 µs). Every byte is handed out once; a spent pool is replaced by a new
// buffer, never refilled in place, so a slice already handed out never changes.
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let drawn = 0;

export const systemRandom: RandomSource = (size) => {
  if (size > POOL_BYTES / 8) return randomBytes(size);
  if (drawn + size > pool.length) {
    pool = randomBytes(POOL_BYTES);
    drawn = 0;
  }
  return pool.subarray(drawn, (drawn += size));
};

/** A fresh opaque secret of `bytes` random bytes, base64url encoded (256 bits by default). */
export function newSecret(random: RandomSource, bytes = 32): string {
  return Buffer.from(random(bytes)).toString('base64url');
}

/**
 * A fresh id an operator reads and types (a client, a user, a grant): `bytes` random bytes,
 * base64url, never beginning with `-`, so that a command line (`kalm device revoke ID`,
 * `kalm-device login --client-id ID`) never reads one as an option. One id in 64 is drawn
 * again; the rest of the alphabet is untouched.
 */
export function newId(random: RandomSource, bytes: number): string {
  for (;;) {
    const id = newSecret(random, bytes);
    if (!id.startsWith('-')) return id;
  }
}

/**
 * SHA-256 of a high-entropy secret (refresh token, authorization code, session id; a device
 * code is stored by `hashOrderedSecret`).
 * Those secrets carry at least 256 bits, so a fast hash is enough to make a stolen
 * database useless; the lookup is by hash, which also makes it constant-time.
 */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

// An ordered secret: 6 bytes of its issue time in ms, big-endian (until the year 10889), which
// base64url writes as exactly 8 characters, then 32 random bytes: 51 characters in all.
const ORDER_BYTES = 6;
const ORDER_CHARS = 8;
const ORDERED_RANDOM_BYTES = 32;
const ORDERED_LENGTH = ORDER_CHARS + Math.ceil((ORDERED_RANDOM_BYTES * 4) / 3);

/**
 * A fresh secret whose stored hash sorts by issue time (see `hashOrderedSecret`): `now` in
 * 6 bytes, then 32 random bytes (256 bits), base64url. The time is not secret
 * (its holder knows when it got it); the random part carries all the strength.
 *
 * Why: a secret's hash is a random key, so each new row of a table looked up by it lands on a
 * random leaf of the unique index, and every commit rewrites as many index pages to the WAL
 * as it inserted rows. Keys that grow with time land on the index's last leaf instead.
 */
export function newOrderedSecret(random: RandomSource, now: number): string {
  const secret = Buffer.allocUnsafe(ORDER_BYTES + ORDERED_RANDOM_BYTES);
  secret.writeUIntBE(Math.max(0, Math.min(Math.floor(now), 2 ** 48 - 1)), 0, ORDER_BYTES);
  secret.set(random(ORDERED_RANDOM_BYTES), ORDER_BYTES);
  return secret.toString('base64url');
}

/**
 * The stored form of a `newOrderedSecret`: its 6 time bytes, then the SHA-256 of the
 * whole secret. The lookup is by this value, so it is as constant-time as `hashSecret`'s: the
 * prefix an index compares first is public, the rest a hash. A value of any other length (a
 * secret issued before ordered secrets, from `newSecret`) is stored as its `hashSecret`, so
 * what was issued then is still found.
 */
export function hashOrderedSecret(secret: string): Buffer {
  if (secret.length !== ORDERED_LENGTH) return hashSecret(secret);
  return Buffer.concat([Buffer.from(secret.slice(0, ORDER_CHARS), 'base64url'), hashSecret(secret)]);
}

// scrypt parameters: N=2^15, r=8, p=1 (about 90 ms here), 32 bytes of output.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keylen: 32, maxmem: 64 * 1024 * 1024 };

function scrypt(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, SCRYPT.keylen, { ...params, maxmem: SCRYPT.maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** Hash a password or client secret for storage: `scrypt$N$r$p$salt$hash`. */
export async function hashPassword(password: string, random: RandomSource = systemRandom): Promise<string> {
  const salt = Buffer.from(random(16));
  const key = await scrypt(password, salt, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Compare a password with a stored `hashPassword` result, in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Constant-time equality of two strings (for values that are not hashed first). */
export function safeEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}
