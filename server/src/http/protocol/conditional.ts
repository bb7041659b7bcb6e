/**
 * Conditional GETs of the cacheable protocol answers (metadata, keys): a weak entity tag on the
 * answer, and "not modified" for a cache that already holds it (RFC 9110 §8.8.3, §13.1.2). The
 * tag is the one Express gave these answers before (the `etag` package's), so caches keep theirs.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The weak entity tag of a payload: its byte length and SHA-1, as Express's default `etag` setting makes it. */
export function weakEntityTag(payload: string): string {
  const hash = createHash('sha1').update(payload, 'utf8').digest('base64').substring(0, 27);
  return `W/"${Buffer.byteLength(payload, 'utf8').toString(16)}-${hash}"`;
}

// RFC 9111 §5.2.1.4: a client asking for no-cache wants the whole answer, not a 304.
const NO_CACHE = /(?:^|,)\s*?no-cache\s*?(?:,|$)/;

/**
 * RFC 9110 §13.1.2: whether the cache that sent `req` already holds the answer tagged `tag`
 * (If-None-Match names it, weakly compared, or is `*`). The answers have no Last-Modified, so
 * If-Modified-Since alone never matches.
 */
export function notModified(req: IncomingMessage, tag: string): boolean {
  const noneMatch = req.headers['if-none-match'];
  if (!noneMatch) return false;
  const cacheControl = req.headers['cache-control'];
  if (cacheControl && NO_CACHE.test(cacheControl)) return false;
  if (noneMatch === '*') return true;
  return noneMatch.split(',').some((candidate) => {
    const match = candidate.trim();
    return match === tag || `W/${match}` === tag;
  });
}
