import { describe, expect, it } from 'vitest';
import {
  USER_CODE_ALPHABET,
  formatUserCode,
  generateUserCode,
  normalizeUserCode,
  readUserCode,
} from '../../server/src/core/user-codes.js';
import { systemRandom, type RandomSource } from '../../server/src/core/secrets.js';

/** A random source that hands out the given byte blocks in order. */
function scripted(...blocks: number[][]): RandomSource {
  return (size) => {
    const block = blocks.shift();
    if (!block) throw new Error('script exhausted');
    return Uint8Array.from({ length: size }, (_, i) => block[i % block.length]!);
  };
}

describe('user codes (RFC 8628 §6.1)', () => {
  it('draws 8 characters of the base-20 consonant alphabet and shows them with a check character as XXXX-XXXXC', () => {
    for (let i = 0; i < 200; i++) {
      const code = generateUserCode(systemRandom);
      expect(code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{8}$/);
      const shown = formatUserCode(code);
      expect(shown).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{5}$/);
      expect(shown.slice(0, 9).replace('-', '')).toBe(code);
    }
  });

  it('shows a known code with its check character', () => {
    expect(formatUserCode('BCDFGHJK')).toBe('BCDF-GHJKC');
    expect(formatUserCode('BBBBBBBB')).toBe('BBBB-BBBBB');
    expect(formatUserCode('ZZZZZZZZ')).toBe('ZZZZ-ZZZZT');
  });

  it('skips bytes of 240 and above, so no character is favoured (no modulo bias)', () => {
    const high = Array.from({ length: 16 }, (_, i) => 240 + i);
    const low = Array.from({ length: 16 }, (_, i) => i);
    expect(generateUserCode(scripted(high, low))).toBe('BCDFGHJK');
    // 239 is the last usable byte: 239 % 20 = 19, the last letter.
    expect(generateUserCode(scripted([255, 239]))).toBe('ZZZZZZZZ');
  });

  it('uses every letter about equally often', () => {
    const counts = new Map<string, number>();
    const n = 5_000;
    for (let i = 0; i < n; i++) for (const ch of generateUserCode(systemRandom)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect([...counts.keys()].sort().join('')).toBe([...USER_CODE_ALPHABET].sort().join(''));
    const expected = (n * 8) / 20;
    for (const count of counts.values()) expect(Math.abs(count - expected) / expected).toBeLessThan(0.1);
  });

  it('normalises what a person types to the stored form: case, dashes and spaces do not matter', () => {
    for (const typed of ['BCDF-GHJKC', 'bcdf-ghjkc', 'bcdfghjkc', ' BcDf GhJk c ', 'BCDF - GHJKC', 'bc-df-gh-jk-c']) {
      expect(readUserCode(typed), typed).toEqual({ kind: 'code', code: 'BCDFGHJK', checked: true });
      expect(normalizeUserCode(typed), typed).toBe('BCDFGHJK');
    }
  });

  it('still takes a code typed without its check character, unchecked, for this release', () => {
    for (const typed of ['BCDF-GHJK', 'bcdfghjk', ' BcDf GhJk ']) {
      expect(readUserCode(typed), typed).toEqual({ kind: 'code', code: 'BCDFGHJK', checked: false });
    }
  });

  it('tells a typo the check character caught from input that is not a code at all', () => {
    // One letter changed, two neighbours swapped, the check character itself wrong.
    for (const typed of ['BCDF-GHJKD', 'BCDF-GHKJC', 'CBDF-GHJKC', 'BCDF-GHJLC', 'bcdfghjkz']) {
      expect(readUserCode(typed), typed).toEqual({ kind: 'typo' });
      expect(normalizeUserCode(typed), typed).toBeUndefined();
    }
    for (const typed of ['', 'BCDF-GHJ', 'BCDF-GHJKCB', 'BCDF-GHJA', 'BCDF-GHJAC', 'BCDF-GH1KC', 'BCDF%GHJKC', 'B'.repeat(65), '<script>']) {
      expect(readUserCode(typed), typed).toEqual({ kind: 'malformed' });
      expect(normalizeUserCode(typed), typed).toBeUndefined();
    }
  });
});
