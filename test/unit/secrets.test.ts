/** The system random source (core/secrets.ts): pooled, yet every draw fresh and left alone once handed out. */
import { describe, expect, it } from 'vitest';
import { systemRandom } from '../../server/src/core/secrets.js';

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
