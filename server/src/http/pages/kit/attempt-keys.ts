/** The keys a failed code entry or sign-in is counted under: one per client address, one per browser. */
import type { Request } from 'express';
import { addressKey } from '../../../net/client-address.js';
import { sessionLimiterKey } from './session.js';

/**
 * The client's address for rate limiting: `req.ip`, which follows X-Forwarded-For only from
 * the proxies TRUST_PROXY names (client-address.ts). IPv6 clients are grouped by /64, the
 * block one subscriber usually gets, so hopping addresses inside it gains nothing.
 */
function clientIp(req: Request): string {
  return addressKey(req.ip);
}

/** `<kind>:ip:<address>` and `<kind>:session:<browser key>`, for `core.attempts.guard`. */
export function attemptKeys(req: Request, kind: 'device' | 'signin'): string[] {
  return [`${kind}:ip:${clientIp(req)}`, `${kind}:session:${sessionLimiterKey(req)}`];
}
