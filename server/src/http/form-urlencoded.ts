/**
 * `application/x-www-form-urlencoded` bodies parsed as body-parser's `urlencoded({ extended:
 * false, parameterLimit })` parses them (qs with depth 0), with a lean path for the bodies
 * nearly every request sends.
 *
 * Why: qs was 7 % of a pending poll's CPU. A body without `[`, `]` or their escapes (`%5B`,
 * `%5D`) is one that qs's depth-0 parse reads as plain `name=value` pairs: split on `&`, each
 * name and value with `+` as a space and then percent-decoded (left as it is when that fails),
 * a name without `=` given an empty value, a repeated name's values gathered into an array in
 * order, and the empty name and `__proto__` dropped. That is what `leanForm` does; every other
 * body goes to qs itself, with the options body-parser passes it. test/http/form-urlencoded
 * checks the two alike on generated bodies, and the parser against body-parser's over HTTP.
 */
import qs from 'qs';

/** A body-parser-shaped refusal (its `type` is what oauth-errors.ts answers by). */
class FormRefused extends Error {
  readonly expose = true;
  constructor(
    message: string,
    readonly status: number,
    readonly type: string,
  ) {
    super(message);
  }
}

/** What qs does with a name or value (qs's utils.decode for UTF-8). */
function decode(text: string): string {
  const spaced = text.includes('+') ? text.replace(/\+/g, ' ') : text;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

// qs turns these into nesting or strips them from names: such bodies go to qs.
const NESTING = /[[\]]|%5[bd]/i;

/** The pairs of a body free of brackets, as qs reads them; undefined for any other body. */
export function leanForm(body: string): Record<string, string | string[]> | undefined {
  if (NESTING.test(body)) return undefined;
  const pairs: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const part of body.split('&')) {
    const equals = part.indexOf('=');
    const name = decode(equals === -1 ? part : part.slice(0, equals));
    const value = equals === -1 ? '' : decode(part.slice(equals + 1));
    const seen = pairs[name];
    pairs[name] = seen === undefined ? value : ([] as string[]).concat(seen, value);
  }
  // Built like qs's result: a plain object, and the same key order (integer-like names first).
  const form: Record<string, string | string[]> = {};
  for (const name of Object.keys(pairs)) {
    if (name !== '' && name !== '__proto__') form[name] = pairs[name]!;
  }
  return form;
}

/** body-parser's count: one parameter more than there are `&`, and undefined past `limit`. */
function withinLimit(body: string, limit: number): number | undefined {
  let count = 0;
  let index = -1;
  do {
    count++;
    if (count > limit) return undefined;
    index = body.indexOf('&', index + 1);
  } while (index !== -1);
  return count;
}

/** Parse a UTF-8 form body as body-parser's urlencoded parser does, refusing more than `parameterLimit` parameters. */
export function parseUrlencoded(body: string, parameterLimit: number): Record<string, unknown> {
  if (body.length === 0) return {};
  const count = withinLimit(body, parameterLimit);
  if (count === undefined) throw new FormRefused('too many parameters', 413, 'parameters.too.many');
  return (
    leanForm(body) ??
    qs.parse(body, { allowPrototypes: true, arrayLimit: count, depth: 0, charset: 'utf-8', parameterLimit, strictDepth: true })
  );
}
