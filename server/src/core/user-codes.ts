import type { RandomSource } from './secrets.js';

/**
 * RFC 8628 §6.1: base-20 consonants only, so no vowel makes a word and no
 * character is confused with another (no 0/O, 1/I/L…). 8 characters give
 * 20^8 ≈ 2.56 × 10^10 codes, about 34.6 bits.
 */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_LENGTH = 8;

/**
 * Draw a user code from a CSPRNG without modulo bias: a byte is used only when
 * it falls below the largest multiple of 20 that fits in a byte (240).
 * Returns the normalised form (`BCDFGHJK`); use `formatUserCode` to show it.
 */
export function generateUserCode(random: RandomSource): string {
  const limit = 256 - (256 % USER_CODE_ALPHABET.length);
  let code = '';
  while (code.length < USER_CODE_LENGTH) {
    for (const byte of random(USER_CODE_LENGTH * 2)) {
      if (byte >= limit) continue;
      code += USER_CODE_ALPHABET[byte % USER_CODE_ALPHABET.length];
      if (code.length === USER_CODE_LENGTH) break;
    }
  }
  return code;
}

/** `BCDFGHJK` → `BCDF-GHJK`, the form shown to people. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * What a person typed → the stored form: case, dashes, spaces and other
 * separators do not matter (RFC 8628 §6.1). Returns undefined when the result
 * cannot be a user code, so a caller never looks up garbage.
 */
export function normalizeUserCode(input: string): string | undefined {
  if (input.length > 64) return undefined;
  const code = input.toUpperCase().replace(/[\s\-_.·]/g, '');
  if (code.length !== USER_CODE_LENGTH) return undefined;
  for (const ch of code) if (!USER_CODE_ALPHABET.includes(ch)) return undefined;
  return code;
}
