/**
 * core/secrets.ts: the system random source (pooled, yet every draw fresh and left alone once
 * handed out), and ordered secrets (issue time first, so their stored hashes sort by it).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashOrderedSecret, hashSecret, newOrderedSecret, newSecret, systemRandom } from '../../server/src/core/secrets.js';

describe('systemRandom', () => {
  it('hands out bytes that are never handed out again and never change afterwards, across pool refills', () => {
    const draws = Array.from({ length: 1000 }, (_, i) => systemRandom(i % 2 === 0 ? 32 : 16)); // ~24 KiB: several pools
    const copies = draws.map((d) => Buffer.from(d));
    systemRandom(32);
    draws.forEach((d, i) => expect(Buffer.from(d).equals(copies[i]!)).toBe(true));
    expect(new Set(copies.map((c) => c.toString('hex'))).size).toBe(draws.length);
    expect(draws.map((d) => d.length)).toEqual(draws.map((_, i) => (i % 2 === 0 ? 32 : 16)));
  });

  it('draws large requests directly, at their full size', () => {
    const big = systemRandom(4096);
    expect(big.length).toBe(4096);
    expect(new Set(big).size).toBeGreaterThan(200); // random bytes, not a zeroed buffer
  });
});

describe('ordered secrets', () => {
  const AT = Date.UTC(2026, 11, 4, 20, 0, 0, 123);
  const counting = (size: number) => Uint8Array.from({ length: size }, (_, i) => (i * 7 + 1) & 0xff);

  it('writes the issue time in 6 big-endian bytes, then the random draw, as 51 base64url characters', () => {
    const secret = newOrderedSecret(counting, AT);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{51}$/);
    const bytes = Buffer.from(secret, 'base64url');
    expect(bytes.readUIntBE(0, 6)).toBe(AT);
    expect(bytes.subarray(6)).toEqual(Buffer.from(counting(32)));
  });

  it('is stored as its 6 time bytes and the SHA-256 of the whole secret, which sort by issue time', () => {
    const secret = newOrderedSecret(systemRandom, AT);
    const stored = hashOrderedSecret(secret);
    expect(stored.length).toBe(38);
    expect(stored.readUIntBE(0, 6)).toBe(AT);
    expect(stored.subarray(6)).toEqual(createHash('sha256').update(secret).digest());
    const times = [AT - 1, AT, AT, AT + 1, AT + 60_000, AT + 86_400_000 * 400];
    const hashes = times.map((t) => hashOrderedSecret(newOrderedSecret(systemRandom, t)));
    for (let i = 1; i < hashes.length; i++) {
      if (times[i] === times[i - 1]) continue; // within one millisecond the hash orders them
      expect(Buffer.compare(hashes[i - 1]!, hashes[i]!)).toBe(-1);
    }
  });

  it('stores a value of any other length as its plain SHA-256, so that secrets issued before are still found', () => {
    const before = newSecret(systemRandom, 32);
    expect(hashOrderedSecret(before)).toEqual(hashSecret(before));
    expect(hashOrderedSecret('x'.repeat(52))).toEqual(hashSecret('x'.repeat(52)));
  });
});
