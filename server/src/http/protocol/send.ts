/**
 * How every protocol answer leaves: `send()`, with the one header set the protocol endpoints
 * share, built once per endpoint by `endpointHeaders()`. No other code of the protocol router
 * writes a status or a header.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { notModified, weakEntityTag } from './conditional.js';

/** Response headers, built once and shared by every answer they belong to. */
export type HeaderSet = Readonly<Record<string, string>>;

/**
 * A header set as `writeHead` takes it fastest: name, value, name, value… (an object makes
 * Node walk it with for-in and a hasOwn check per header, on every answer).
 */
export type HeaderList = readonly string[];

/** `set` as a {@link HeaderList}. */
function listOf(set: HeaderSet): HeaderList {
  return Object.entries(set).flat();
}

/**
 * An answer, or a thrown error, with headers of its own beyond its endpoint's set (the
 * `DPoP-Nonce` of RFC 9449 §8). Made only for the requests that need it: every other answer is
 * its plain body, and the router checks `instanceof` only.
 */
export class WithHeaders {
  constructor(
    readonly value: unknown,
    readonly headers: HeaderSet,
  ) {}
}

/** How a cache may keep the successful answers of an endpoint. */
export interface Caching {
  headers: HeaderSet;
  /** A cache may keep them: they carry an entity tag, and a cache that holds the answer gets 304. */
  revalidated: boolean;
}

/** RFC 6749 §5.1 / RFC 8628 §3.2: token-bearing answers must never be cached; every error answer is kept alike. */
export const TOKEN_BEARING: Caching = { headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache' }, revalidated: false };
/** Never cached, carrying nothing secret (the health probe). */
export const NOT_STORED: Caching = { headers: { 'Cache-Control': 'no-store' }, revalidated: false };
/** Public, the same for everyone, and may be kept `seconds` (metadata, keys). */
export function publicFor(seconds: number): Caching {
  return { headers: { 'Cache-Control': `public, max-age=${seconds}` }, revalidated: true };
}

/** What `endpointHeaders` needs to know of an endpoint. */
export interface HeaderPolicy {
  method: 'GET' | 'POST';
  /** How a successful answer may be cached: TOKEN_BEARING, NOT_STORED or publicFor. */
  caching: Caching;
  /**
   * CORS `*`: an endpoint a browser-based TV app or SPA on another origin calls. No cookies
   * are read there, so any origin is safe.
   */
  cors: boolean;
}

/** The headers of each kind of answer of one endpoint. */
export interface EndpointHeaders {
  success: HeaderList;
  /** Successful answers are tagged and revalidated (see `send`'s `conditional`). */
  revalidated: boolean;
  failure: HeaderList;
  /** The answer to OPTIONS: the CORS preflight, or the methods served. */
  options: HeaderList;
}

const NO_SNIFF: HeaderSet = { 'X-Content-Type-Options': 'nosniff' };
// RFC 9449 §8: a browser app must be able to read the nonce it is given.
const ANY_ORIGIN: HeaderSet = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'DPoP-Nonce' };
const PREFLIGHT: HeaderSet = {
  'Access-Control-Allow-Methods': 'GET, POST',
  // RFC 9449 §4.1: the proof travels in the `DPoP` request header.
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, DPoP',
  'Access-Control-Max-Age': '600',
};

/** The header set of an endpoint: nosniff always, CORS `*` where the policy says, its caching on success, never stored on failure. */
export function endpointHeaders(policy: HeaderPolicy): EndpointHeaders {
  const base: HeaderSet = policy.cors ? { ...NO_SNIFF, ...ANY_ORIGIN } : NO_SNIFF;
  return {
    success: listOf({ ...base, ...policy.caching.headers }),
    revalidated: policy.caching.revalidated,
    failure: listOf({ ...base, ...TOKEN_BEARING.headers }),
    // RFC 9110 §9.3.7 / §10.2.1: OPTIONS names the methods; on a CORS endpoint it is the preflight.
    options: listOf(policy.cors ? { ...base, ...PREFLIGHT } : { ...base, Allow: policy.method === 'GET' ? 'GET, HEAD' : 'POST' }),
  };
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Answer `status` with `body` as JSON (no body when undefined), `headers` (one of an
 * endpoint's sets) and `extra` (a `WWW-Authenticate` challenge). With `conditional`, the request
 * of an answer a cache may keep, the answer carries a weak ETag, and is a bodiless 304 when the
 * cache already holds it (RFC 9110 §15.4.5: with the headers a 200 would have sent).
 * Returns the status sent.
 */
export function send(
  res: ServerResponse,
  status: number,
  body: object | undefined,
  headers: HeaderList,
  extra?: HeaderSet,
  conditional?: IncomingMessage,
): number {
  const out: Array<string | number> = extra === undefined ? headers.slice() : headers.concat(listOf(extra));
  if (body === undefined) {
    // RFC 9110 §8.6: a 204 has no Content-Length; any other empty answer says 0 (not chunked).
    if (status !== 204) out.push('Content-Length', 0);
    res.writeHead(status, out);
    res.end();
    return status;
  }
  const payload = JSON.stringify(body);
  if (conditional !== undefined) {
    const tag = weakEntityTag(payload);
    out.push('ETag', tag);
    if (notModified(conditional, tag)) {
      res.writeHead(304, out);
      res.end();
      return 304;
    }
  }
  out.push('Content-Type', JSON_TYPE, 'Content-Length', Buffer.byteLength(payload));
  res.writeHead(status, out);
  res.end(payload);
  return status;
}
