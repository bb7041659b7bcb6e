import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHECK_TABLE,
  USER_CODE_ALPHABET,
  USER_CODE_LENGTH,
  formatUserCode,
  readUserCode,
  userCodeCheckCharacter,
} from '../../server/src/core/user-codes.js';

// The check character's promise: every single substitution and every adjacent transposition
// of a shown code is caught. First the table's algebra, exhaustively; then the promise itself,
// as properties over random codes and random errors.

const N = USER_CODE_ALPHABET.length;
const elements = Array.from({ length: N }, (_, i) => i);
const op = (x: number, y: number) => CHECK_TABLE[x]![y]!;

describe('the check table', () => {
  it('is a quasigroup of order 20: every row and every column is a permutation', () => {
    expect(CHECK_TABLE).toHaveLength(N);
    for (const x of elements) {
      expect([...CHECK_TABLE[x]!].sort((a, b) => a - b), `row ${x}`).toEqual(elements);
      expect(elements.map((y) => op(y, x)).sort((a, b) => a - b), `column ${x}`).toEqual(elements);
    }
  });

  it('is totally anti-symmetric: (c∗x)∗y = (c∗y)∗x only when x = y, for all 8000 triples', () => {
    let clashes = 0;
    for (const c of elements) for (const x of elements) for (const y of elements) {
      if (x !== y && op(op(c, x), y) === op(op(c, y), x)) clashes++;
    }
    expect(clashes).toBe(0);
  });
});

const letter = fc.constantFrom(...USER_CODE_ALPHABET.split(''));
const storedCode = fc.string({ unit: letter, minLength: USER_CODE_LENGTH, maxLength: USER_CODE_LENGTH });
/** A code as the page reads it: the 8 random letters and the check character, no separator. */
const shownLetters = (code: string) => formatUserCode(code).replace('-', '');
const runs = { numRuns: 3000 };

describe('a code shown with its check character', () => {
  it('reads back as itself, checked', () => {
    fc.assert(
      fc.property(storedCode, (code) => {
        expect(shownLetters(code)).toBe(code + userCodeCheckCharacter(code));
        expect(readUserCode(formatUserCode(code))).toEqual({ kind: 'code', code, checked: true });
      }),
      runs,
    );
  });

  /** Every error `mistype` makes in the shown letters of a random code (undefined: no error drawn) reads as a typo. */
  function expectAllCaught<E>(error: fc.Arbitrary<E>, mistype: (code: string, error: E) => string[] | undefined) {
    fc.assert(
      fc.property(storedCode, error, (code, drawn) => {
        const typed = mistype(code, drawn);
        fc.pre(typed !== undefined);
        expect(readUserCode(typed!.join(''))).toEqual({ kind: 'typo' });
      }),
      runs,
    );
  }
  const shifted = (ch: string, shift: number) => USER_CODE_ALPHABET[(USER_CODE_ALPHABET.indexOf(ch) + shift) % N]!;
  const shift = fc.integer({ min: 1, max: N - 1 });
  /** The shown letters of `code` with the letters at `i` and `j` exchanged, or undefined when they are the same. */
  const swapped = (code: string, i: number, j: number) => {
    const letters = [...shownLetters(code)];
    if (letters[i] === letters[j]) return undefined;
    [letters[i], letters[j]] = [letters[j]!, letters[i]!];
    return letters;
  };

  it('catches every single substitution, the check character included', () => {
    expectAllCaught(fc.tuple(fc.nat(USER_CODE_LENGTH), shift), (code, [at, by]) => {
      const letters = [...shownLetters(code)];
      letters[at] = shifted(letters[at]!, by);
      return letters;
    });
  });

  it('catches every swap of two different neighbours, the check character included', () => {
    expectAllCaught(fc.nat(USER_CODE_LENGTH - 1), (code, at) => swapped(code, at, at + 1));
  });

  it('catches a swap across one letter too (abc → cba)', () => {
    expectAllCaught(fc.nat(USER_CODE_LENGTH - 2), (code, at) => swapped(code, at, at + 2));
  });

  it('catches a doubled letter mistyped as another doubled letter too (aa → bb)', () => {
    expectAllCaught(fc.tuple(fc.nat(USER_CODE_LENGTH - 2), shift), (drawn, [at, by]) => {
      const twin = drawn.slice(0, at + 1) + drawn[at] + drawn.slice(at + 2);
      const letters = [...shownLetters(twin)];
      letters[at] = letters[at + 1] = shifted(letters[at]!, by);
      return letters;
    });
  });
});
