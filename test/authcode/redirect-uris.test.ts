import { describe, expect, it } from 'vitest';
import { OAuthError } from '../../server/src/core/errors.js';
import { assertValidRedirectUri, matchesRegisteredRedirectUri } from '../../server/src/core/redirect-uris.js';
import { s256 } from '../../server/src/core/authorization-code.js';

describe('redirect URI matching (RFC 6749 §3.1.2.3, RFC 8252 §7.3)', () => {
  const registered = ['https://app.example.com/cb', 'http://127.0.0.1/callback', 'http://[::1]:9000/callback?x=1', 'http://localhost:5173/cb'];

  it('matches a registered URI only character for character', () => {
    expect(matchesRegisteredRedirectUri(registered, 'https://app.example.com/cb')).toBe(true);
    for (const uri of ['https://app.example.com/cb/', 'https://APP.example.com/cb', 'https://app.example.com/cb?x', 'https://app.example.com:443/cb', 'https://app.example.com/cb#f']) {
      expect(matchesRegisteredRedirectUri(registered, uri), uri).toBe(false);
    }
  });

  it('lets a loopback IP redirect URI use any port, with the same path and query', () => {
    expect(matchesRegisteredRedirectUri(registered, 'http://127.0.0.1:49152/callback')).toBe(true);
    expect(matchesRegisteredRedirectUri(registered, 'http://[::1]:1234/callback?x=1')).toBe(true);
    expect(matchesRegisteredRedirectUri(registered, 'http://[::1]:1234/callback?x=2')).toBe(false);
    expect(matchesRegisteredRedirectUri(registered, 'http://127.0.0.1:49152/callback/other')).toBe(false);
    expect(matchesRegisteredRedirectUri(registered, 'http://user@127.0.0.1:49152/callback')).toBe(false);
    expect(matchesRegisteredRedirectUri(registered, 'https://127.0.0.1:49152/callback')).toBe(false);
    expect(matchesRegisteredRedirectUri(registered, 'http://[::1]:1234/callback')).toBe(false);
  });

  it('gives localhost no port flexibility (RFC 8252 §8.3)', () => {
    expect(matchesRegisteredRedirectUri(registered, 'http://localhost:5173/cb')).toBe(true);
    expect(matchesRegisteredRedirectUri(registered, 'http://localhost:5174/cb')).toBe(false);
  });
});

describe('redirect URI registration rules', () => {
  const refused = (uri: string, native = false) => {
    try {
      assertValidRedirectUri(uri, native);
      return undefined;
    } catch (err) {
      return (err as OAuthError).error;
    }
  };

  it('accepts https, local http, and reverse-domain schemes for native apps', () => {
    for (const uri of ['https://app.example.com/cb', 'http://127.0.0.1/cb', 'http://[::1]/cb', 'http://localhost:3000/cb']) expect(refused(uri), uri).toBeUndefined();
    expect(refused('com.example.app:/oauth2redirect', true)).toBeUndefined();
  });

  it('refuses fragments, credentials, remote plain http, bare custom schemes and relative URIs with invalid_redirect_uri', () => {
    for (const uri of ['https://app.example.com/cb#x', 'https://u:p@app.example.com/cb', 'http://app.example.com/cb', 'myapp:/cb', '/cb', 'javascript:alert(1)']) {
      expect(refused(uri, true), uri).toBe('invalid_redirect_uri');
    }
    expect(refused('com.example.app:/oauth2redirect', false)).toBe('invalid_redirect_uri');
  });
});

describe('PKCE S256 (RFC 7636 Appendix B)', () => {
  it('derives the RFC example challenge from its verifier', () => {
    expect(s256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });
});
