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

  it('catches every single substitution, the check character included', () => {
    fc.assert(
      fc.property(storedCode, fc.nat(USER_CODE_LENGTH), fc.integer({ min: 1, max: N - 1 }), (code, at, shift) => {
        const letters = [...shownLetters(code)];
        letters[at] = USER_CODE_ALPHABET[(USER_CODE_ALPHABET.indexOf(letters[at]!) + shift) % N]!;
        expect(readUserCode(letters.join(''))).toEqual({ kind: 'typo' });
      }),
      runs,
    );
  });

  it('catches every swap of two different neighbours, the check character included', () => {
    fc.assert(
      fc.property(storedCode, fc.nat(USER_CODE_LENGTH - 1), (code, at) => {
        const letters = [...shownLetters(code)];
        fc.pre(letters[at] !== letters[at + 1]);
        [letters[at], letters[at + 1]] = [letters[at + 1]!, letters[at]!];
        expect(readUserCode(letters.join(''))).toEqual({ kind: 'typo' });
      }),
      runs,
    );
  });

  it('catches a swap across one letter too (abc → cba)', () => {
    fc.assert(
      fc.property(storedCode, fc.nat(USER_CODE_LENGTH - 2), (code, at) => {
        const letters = [...shownLetters(code)];
        fc.pre(letters[at] !== letters[at + 2]);
        [letters[at], letters[at + 2]] = [letters[at + 2]!, letters[at]!];
        expect(readUserCode(letters.join(''))).toEqual({ kind: 'typo' });
      }),
      runs,
    );
  });

  it('catches a doubled letter mistyped as another doubled letter too (aa → bb)', () => {
    fc.assert(
      fc.property(storedCode, fc.nat(USER_CODE_LENGTH - 2), fc.integer({ min: 1, max: N - 1 }), (drawn, at, shift) => {
        const code = drawn.slice(0, at + 1) + drawn[at] + drawn.slice(at + 2);
        const letters = [...shownLetters(code)];
        const other = USER_CODE_ALPHABET[(USER_CODE_ALPHABET.indexOf(letters[at]!) + shift) % N]!;
        letters[at] = other;
        letters[at + 1] = other;
        expect(readUserCode(letters.join(''))).toEqual({ kind: 'typo' });
      }),
      runs,
    );
  });
});
