import type { RandomSource } from './secrets.js';

/**
 * RFC 8628 §6.1: base-20 consonants only, so no vowel makes a word and no
 * character is confused with another (no 0/O, 1/I/L…). 8 random characters give
 * 20^8 ≈ 2.56 × 10^10 codes, about 34.6 bits.
 */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
/** The random characters of a code: its stored (normalised) form, `BCDFGHJK`. */
export const USER_CODE_LENGTH = 8;
/** What a person sees and types: the random characters and one check character, `BCDF-GHJKX`. */
export const CHECKED_USER_CODE_LENGTH = USER_CODE_LENGTH + 1;

/**
 * Codes typed without their check character (`BCDF-GHJK`, the only shape before the check
 * character existed) are still looked up in this release, unchecked, so a device or firmware
 * that cut the shown code to 8 letters keeps working. The next release refuses them as
 * malformed; until then such an entry is counted by the limiter like any well-formed code.
 */
export const ACCEPT_UNCHECKED_USER_CODES = true;

/**
 * The check character is Damm's algorithm over a totally anti-symmetric quasigroup of
 * order 20, so every single substitution and every adjacent transposition changes the
 * result (a weighted sum mod 20 cannot do this: the weight differences of units mod 20 are
 * even, so some transpositions slip through). The quasigroup is the direct product
 * GF(4) × GF(5) with x∗y = a·x + y, a = ω in GF(4) and a = 2 in GF(5): for a ∉ {0, 1} it is a
 * quasigroup (rows and columns are permutations) and (c∗x)∗y = (c∗y)∗x forces x = y.
 * Both a have a² ≠ 1, so a transposition across one character (abc → cba) is caught too.
 * Letter i of the alphabet is the pair (⌊i/5⌋, i mod 5); GF(4) = {0, 1, ω, ω+1} as 2-bit
 * polynomials, where addition is XOR.
 */
const TIMES_OMEGA_GF4 = [0, 2, 3, 1];
const TIMES_TWO_GF5 = [0, 2, 4, 1, 3];

/** The operation table of the quasigroup: `CHECK_TABLE[x][y]` is x∗y, letters as alphabet indices. */
export const CHECK_TABLE: readonly (readonly number[])[] = Array.from({ length: 20 }, (_, x) =>
  Array.from({ length: 20 }, (_, y) => {
    const gf4 = TIMES_OMEGA_GF4[Math.floor(x / 5)]! ^ Math.floor(y / 5);
    const gf5 = (TIMES_TWO_GF5[x % 5]! + (y % 5)) % 5;
    return gf4 * 5 + gf5;
  }),
);

/** Damm's interim value after `letters`; a checked code folds to 0. */
function checkState(letters: string): number {
  let state = 0;
  for (const ch of letters) state = CHECK_TABLE[state]![USER_CODE_ALPHABET.indexOf(ch)]!;
  return state;
}

/** The check character of a code of alphabet letters: the one letter that brings the fold back to 0. */
export function userCodeCheckCharacter(code: string): string {
  const row = CHECK_TABLE[checkState(code)]!;
  return USER_CODE_ALPHABET[row.indexOf(0)]!;
}

/**
 * Draw a user code from a CSPRNG without modulo bias: a byte is used only when
 * it falls below the largest multiple of 20 that fits in a byte (240).
 * Returns the normalised form (`BCDFGHJK`, no check character); use `formatUserCode` to show it.
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

/**
 * `BCDFGHJK` → `BCDF-GHJKX`, the form shown to people: two groups, the check character
 * closing the second so nobody leaves it out as an extra.
 */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}${userCodeCheckCharacter(code)}`;
}

/** What a person's entry is: a code to look up, a typo the check character caught, or not a code at all. */
export type UserCodeEntry =
  | { kind: 'code'; code: string; checked: boolean }
  | { kind: 'typo' }
  | { kind: 'malformed' };

/**
 * What a person typed, read: case, dashes, spaces and other separators do not matter
 * (RFC 8628 §6.1). Nine letters whose check character fails are a typo; eight letters are
 * an unchecked code while {@link ACCEPT_UNCHECKED_USER_CODES} holds. Neither a typo nor a
 * malformed entry is worth a lookup.
 */
export function readUserCode(input: string): UserCodeEntry {
  if (input.length > 64) return { kind: 'malformed' };
  const letters = input.toUpperCase().replace(/[\s\-_.·]/g, '');
  for (const ch of letters) if (!USER_CODE_ALPHABET.includes(ch)) return { kind: 'malformed' };
  if (letters.length === CHECKED_USER_CODE_LENGTH) {
    if (checkState(letters) !== 0) return { kind: 'typo' };
    return { kind: 'code', code: letters.slice(0, USER_CODE_LENGTH), checked: true };
  }
  if (letters.length === USER_CODE_LENGTH && ACCEPT_UNCHECKED_USER_CODES) return { kind: 'code', code: letters, checked: false };
  return { kind: 'malformed' };
}

/**
 * What a person typed → the stored form (`BCDFGHJK`), or undefined when it cannot be a live
 * code (malformed, or a typo), so a caller never looks up garbage.
 */
export function normalizeUserCode(input: string): string | undefined {
  const entry = readUserCode(input);
  return entry.kind === 'code' ? entry.code : undefined;
}
