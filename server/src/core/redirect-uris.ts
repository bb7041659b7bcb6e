import { OAuthError } from './errors.js';

// RFC 8252 §7.3: the loopback interface, where a native app listens on whatever port it got.
// `localhost` is left out on purpose (RFC 8252 §8.3: NOT RECOMMENDED, it may resolve elsewhere).
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]']);
// Hosts where plain http is tolerated for development: nothing leaves the machine.
const LOCAL_HOSTS = new Set([...LOOPBACK_HOSTS, 'localhost']);
// RFC 8252 §7.1: a private-use scheme is a reverse domain name, so it holds a dot.
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/;
const MAX_REDIRECT_URI_LENGTH = 2000;

function parse(uri: string): URL | undefined {
  return uri.length <= MAX_REDIRECT_URI_LENGTH && URL.canParse(uri) ? new URL(uri) : undefined;
}

function isLoopback(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

/**
 * RFC 6749 §3.1.2.3 / RFC 9700 §4.1.3: exact string comparison with a registered
 * redirect URI, except that a loopback one (`http://127.0.0.1/…`, `http://[::1]/…`)
 * matches on any port (RFC 8252 §7.3). Host, path and query must still be equal.
 */
export function matchesRegisteredRedirectUri(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  const req = parse(requested);
  if (!req || !isLoopback(req) || req.hash !== '' || req.username !== '' || req.password !== '') return false;
  return registered.some((candidate) => {
    const reg = parse(candidate);
    return (
      reg !== undefined &&
      isLoopback(reg) &&
      reg.hostname === req.hostname &&
      reg.pathname === req.pathname &&
      reg.search === req.search
    );
  });
}

/**
 * Check a redirect URI at registration; RFC 7591 `invalid_redirect_uri` otherwise.
 * Absolute, no fragment (RFC 6749 §3.1.2), no credentials; `https`, or `http` on a local
 * host; native apps (`allowPrivateUseScheme`) may also use a reverse-domain scheme (RFC 8252 §7.1).
 */
export function assertValidRedirectUri(uri: string, allowPrivateUseScheme: boolean): void {
  const fail = (why: string) => new OAuthError('invalid_redirect_uri', `redirect URI "${uri.slice(0, 200)}" ${why}`);
  const url = parse(uri);
  if (!url) throw fail('is not an absolute URL of at most 2000 characters');
  if (url.hash !== '' || uri.includes('#')) throw fail('must not have a fragment (RFC 6749 §3.1.2)');
  if (url.username !== '' || url.password !== '') throw fail('must not carry credentials');
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:') {
    if (LOCAL_HOSTS.has(url.hostname)) return;
    throw fail('must use https (plain http only on 127.0.0.1, [::1] or localhost)');
  }
  if (allowPrivateUseScheme && PRIVATE_USE_SCHEME.test(url.protocol)) return;
  throw fail(
    allowPrivateUseScheme
      ? 'must use https, loopback http, or a reverse-domain private-use scheme (RFC 8252 §7.1)'
      : 'must use https (or http on a local host)',
  );
}
