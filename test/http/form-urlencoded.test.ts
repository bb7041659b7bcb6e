/**
 * The form body parser (server/src/http/body-parsers.ts, form-urlencoded.ts) answers every body
 * as body-parser's `urlencoded({ extended: false, parameterLimit: 100 })` does: first its lean
 * path against qs on generated bodies, then the whole parser against body-parser's over HTTP,
 * with the content types, charsets, codings, sizes and parameter counts a client may send.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import bodyParser from 'body-parser';
import fc from 'fast-check';
import qs from 'qs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formBodyParser, type BodyParser, type ParsedRequest } from '../../server/src/http/body-parsers.js';
import { leanForm, parseUrlencoded } from '../../server/src/http/form-urlencoded.js';
import { chooseSeed } from '../reliability/support/random.js';

const seed = chooseSeed();
console.log(`form parser seed ${seed} (replay with KALM_SEED=${seed})`);
const runs = (numRuns: number) => ({ seed, numRuns, endOnFailure: true });

const LIMIT = 2_000;

/** body-parser's own urlencoded parse of a UTF-8 body (lib/types/urlencoded.js), for arrayLimit its parameter count. */
const qsLikeBodyParser = (body: string) =>
  qs.parse(body, { allowPrototypes: true, arrayLimit: body.split('&').length, depth: 0, charset: 'utf-8', parameterLimit: 100, strictDepth: true });

/** What a parsed form is, to the protocol and the pages: its entries in order, and its prototype. */
const shape = (form: Record<string, unknown>) => ({ entries: Object.entries(form), plain: Object.getPrototypeOf(form) === Object.prototype });

// Pieces that move qs: separators, escapes good and bad, brackets, prototype names, non-ASCII.
const piece = fc.constantFrom(
  'a', 'b', 'grant_type', 'device_code', 'x', '0', '1', '42', '=', '=', '&', '&', '+', '%', '%2', '%20', '%2B', '%26', '%3D', '%41',
  '%C3%A9', '%E2%82%AC', '%FF', '%C3', '%zz', '%5B', '%5b', '%5D', '[', ']', '[]', '__proto__', 'constructor', 'toString',
  'hasOwnProperty', '.', 'é', '€', '😀', ' ', ';',
);
const formBody = fc.oneof(
  { weight: 4, arbitrary: fc.array(piece, { maxLength: 24 }).map((pieces) => pieces.join('')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 })).map((d) => new URLSearchParams(d).toString()) },
);

describe('the lean form path', () => {
  it('reads every body it takes as qs does (names, values, repeats, order, prototype), and leaves the rest to qs', () => {
    let taken = 0;
    fc.assert(
      fc.property(formBody, (body) => {
        if (body.length === 0) return;
        const lean = leanForm(body);
        if (lean === undefined) {
          expect(/[[\]]|%5[bd]/i.test(body), body).toBe(true);
          return;
        }
        taken++;
        expect(shape(lean), JSON.stringify(body)).toEqual(shape(qsLikeBodyParser(body)));
      }),
      runs(3000),
    );
    expect(taken).toBeGreaterThan(1000);
  });

  it('reads a device poll, a repeated name and a name without a value', () => {
    expect(parseUrlencoded('grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=tv+1', 100)).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      client_id: 'tv 1',
    });
    expect(parseUrlencoded('scope=a&scope=b&flag&=x&__proto__=1', 100)).toEqual({ scope: ['a', 'b'], flag: '' });
    // A repeated __proto__ is an array: assigned, it would have become the form's prototype.
    const repeated = parseUrlencoded('__proto__=1&__proto__=2&a=b', 100);
    expect(Object.getPrototypeOf(repeated)).toBe(Object.prototype);
    expect(shape(repeated)).toEqual(shape(qsLikeBodyParser('__proto__=1&__proto__=2&a=b')));
    expect(() => parseUrlencoded('a=1&'.repeat(100) + 'b=2', 100)).toThrow(expect.objectContaining({ status: 413, type: 'parameters.too.many' }));
  });
});

// Both parsers behind one listening server: /ours is formBodyParser, /reference body-parser's.
let server: Server;
let base: string;

function answerWith(parser: BodyParser) {
  return (req: IncomingMessage, res: import('node:http').ServerResponse) =>
    parser(req, res, (err) => {
      const refusal = err as { status?: number; type?: string } | undefined;
      const body = (req as ParsedRequest).body;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(refusal ? { status: refusal.status, type: refusal.type } : { form: body === undefined ? null : shape(body as Record<string, unknown>) }));
    });
}

beforeAll(async () => {
  const ours = answerWith(formBodyParser(LIMIT));
  const reference = answerWith(bodyParser.urlencoded({ extended: false, limit: LIMIT, parameterLimit: 100 }));
  server = createServer((req, res) => (req.url === '/ours' ? ours : reference)(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

interface Sent {
  body: Buffer;
  headers: Record<string, string>;
}

function post(path: string, sent: Sent): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: 'POST', headers: sent.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(JSON.parse(text)));
    });
    req.on('error', reject);
    req.end(sent.body);
  });
}

const contentType = fc.constantFrom(
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'application/x-www-form-urlencoded;charset=ISO-8859-1',
  'application/x-www-form-urlencoded; charset=utf-16',
  'Application/X-WWW-Form-Urlencoded',
  'application/json',
  'text/plain',
  undefined,
);
const coding = fc.constantFrom(undefined, 'gzip', 'identity', 'br', 'x-unknown');
const requestArb = fc
  .record({
    body: fc.oneof({ weight: 5, arbitrary: formBody }, { weight: 1, arbitrary: fc.constantFrom('a=1&'.repeat(120), 'a=' + 'x'.repeat(LIMIT)) }),
    contentType,
    coding,
    latin1: fc.boolean(),
  })
  .map(({ body, contentType, coding, latin1 }): Sent => {
    const raw = Buffer.from(body, latin1 ? 'latin1' : 'utf8');
    const headers: Record<string, string> = {};
    if (contentType !== undefined) headers['Content-Type'] = contentType;
    if (coding !== undefined) headers['Content-Encoding'] = coding;
    const encoded = coding === 'gzip' ? gzipSync(raw) : raw;
    headers['Content-Length'] = String(encoded.length);
    return { body: encoded, headers };
  });

describe('the form body parser over HTTP', () => {
  it('answers every request as body-parser urlencoded does: the same form, or the same refusal', async () => {
    const kinds = new Set<string>();
    await fc.assert(
      fc.asyncProperty(requestArb, async (sent) => {
        const [ours, reference] = await Promise.all([post('/ours', sent), post('/reference', sent)]);
        expect(ours, JSON.stringify(sent.headers) + ' ' + JSON.stringify(sent.body.toString('latin1'))).toEqual(reference);
        const answer = reference as { form?: unknown; status?: number };
        kinds.add(answer.form !== undefined ? (answer.form === null ? 'no body' : 'form') : String(answer.status));
      }),
      runs(400),
    );
    // Both forms and refusals came up (413, 415): the comparison was not of one kind of answer only.
    for (const kind of ['form', 'no body', '413', '415']) expect(kinds).toContain(kind);
  });
});
