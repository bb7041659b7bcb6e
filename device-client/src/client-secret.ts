/**
 * `@kalm/device-client/client-secret`: client authentication for the rare confidential
 * device client. RFC 8628 §5.6: a device can rarely keep a secret (whoever holds it can
 * extract it), so devices are public clients as a rule and the core sends only
 * `client_id`; a client that does hold a secret wraps `fetch` with this.
 *
 * @packageDocumentation
 */

/**
 * A `fetch` that adds HTTP Basic client authentication (RFC 6749 §2.3.1) to every POST
 * the client makes (device authorization, token, refresh). Id and secret are
 * `application/x-www-form-urlencoded` first, as RFC 6749 Appendix B asks: exactly what
 * `URLSearchParams` serialises. The body keeps `client_id`, which RFC 6749 allows and
 * servers (ours included) accept when it matches.
 *
 * @example
 * ```ts
 * const fetch = clientSecretBasic('my-box', process.env.CLIENT_SECRET!)
 * const auth = await startDeviceAuthorization({ issuer, clientId: 'my-box', fetch })
 * const token = await getAccessToken(store, { fetch })
 * ```
 */
export function clientSecretBasic(clientId: string, clientSecret: string, base: typeof fetch = (...args) => fetch(...args)): typeof fetch {
  // The only literal "=" is the separator: any "=" in id or secret is encoded as %3D.
  const authorization = `Basic ${btoa(String(new URLSearchParams([[clientId, clientSecret]])).replace('=', ':'))}`;
  return (input, init = {}) =>
    base(input, init.method === 'POST' ? { ...init, headers: { ...(init.headers as Record<string, string>), authorization } } : init);
}
