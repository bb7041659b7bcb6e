/** The client address a failed code entry or sign-in is counted under. */
import type { Request } from 'express';
import { addressKey } from '../../client-address.js';

/**
 * The client's address for rate limiting: `req.ip`, which follows X-Forwarded-For only from
 * the proxies TRUST_PROXY names (client-address.ts). IPv6 clients are grouped by /64, the
 * block one subscriber usually gets, so hopping addresses inside it gains nothing.
 */
export function clientIp(req: Request): string {
  return addressKey(req.ip);
}
