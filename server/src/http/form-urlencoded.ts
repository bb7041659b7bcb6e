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
import createError from 'http-errors';
import qs from 'qs';

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

/** The `name=value` parts of a bracket-free body, as qs reads them. */
function pairsOf(parts: string[]): Record<string, string | string[]> {
  const pairs: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const part of parts) {
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

/** The pairs of a body free of brackets, as qs reads them; undefined for any other body. `parts`: the body split on `&`. */
export function leanForm(body: string, parts: string[] = body.split('&')): Record<string, string | string[]> | undefined {
  return NESTING.test(body) ? undefined : pairsOf(parts);
}

/**
 * Parse a UTF-8 form body as body-parser's urlencoded parser does: more than `parameterLimit`
 * parameters (body-parser counts one more than there are `&`) is its 413, made by the same
 * http-errors it uses.
 */
export function parseUrlencoded(body: string, parameterLimit: number): Record<string, unknown> {
  if (body.length === 0) return {};
  const parts = body.split('&');
  if (parts.length > parameterLimit) throw createError(413, 'too many parameters', { type: 'parameters.too.many' });
  return leanForm(body, parts) ?? qs.parse(body, { allowPrototypes: true, arrayLimit: parts.length, depth: 0, charset: 'utf-8', parameterLimit, strictDepth: true });
}
