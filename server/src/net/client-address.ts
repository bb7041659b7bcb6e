/**
 * Who the client is, as every transport sees it: the TRUST_PROXY trust function, the client's
 * address behind trusted proxies, and the key per-address limits count under. Below http/ and
 * push/, so both take it from here.
 */
import type { IncomingMessage } from 'node:http';
import { isIP, isIPv6 } from 'node:net';
import proxyAddr from 'proxy-addr';
import type { TrustProxy } from '../config.js';

/** Whether the peer at `hop` (0 = the socket's own peer) is a proxy we believe. proxy-addr's shape. */
export type TrustFunction = (address: string, hop: number) => boolean;

/**
 * The `TRUST_PROXY` setting as the function Express's `trust proxy` and proxy-addr take.
 * `false`: no peer is a proxy, X-Forwarded-For is never read. A number n: the n nearest hops
 * are proxies, whoever they are (Express's hop count). A list: peers whose address is in it
 * (addresses, CIDR ranges, `loopback`/`linklocal`/`uniquelocal`) are proxies. Throws on a bad list.
 */
export function trustFunction(setting: TrustProxy): TrustFunction {
  if (setting === false) return () => false;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return proxyAddr.compile([...setting]);
}

/**
 * The client's address: the socket's peer, or, when that peer is a trusted proxy, the
 * nearest address in X-Forwarded-For that is not a trusted proxy (proxy-addr, the code behind
 * Express's `req.ip`). A client's own X-Forwarded-For entries sit to the left of what its
 * proxies append, so they are reached only if every hop to their right is trusted.
 *
 * The pages read this as Express's `req.ip` (http/app.ts sets `trust proxy` to the same
 * function); code outside Express (the protocol router, the push upgrade) calls this.
 */
export function clientAddress(req: IncomingMessage, trust: TrustFunction): string | undefined {
  // proxy-addr reads the socket's remoteAddress, which is undefined once the socket is gone.
  return req.socket.remoteAddress === undefined ? undefined : proxyAddr(req, trust);
}

// The longest textual IPv6 address with a zone is under 64 characters.
const MAX_KEY_LENGTH = 64;

/**
 * The key per-address limits count under. An IPv4 address is one key (`::ffff:10.0.0.1` is
 * 10.0.0.1). For IPv6 the key is the /64: a single host usually holds a whole /64 (RFC 4291
 * §2.5.1 interface identifiers, RFC 8981 temporary addresses), so counting per full address
 * would let one device hop addresses without end. Anything else (only a misconfigured proxy
 * forwards a non-address) is kept short so that it cannot bloat the limiter's table.
 */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) return v4[1]!;
  if (!isIPv6(address)) return isIP(address) ? address : address.slice(0, MAX_KEY_LENGTH);
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
