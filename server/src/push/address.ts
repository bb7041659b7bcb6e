import { isIPv6 } from 'node:net';

/**
 * The key the per-address socket cap counts under. An IPv4 address is one key
 * (`::ffff:10.0.0.1` is 10.0.0.1). For IPv6 the key is the /64: a single host usually
 * holds a whole /64 (RFC 4291 §2.5.1 interface identifiers, RFC 8981 temporary
 * addresses), so counting per full address would let one device open sockets without end.
 */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) return v4[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
