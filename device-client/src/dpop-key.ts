// The DPoP key (RFC 9449 §4): how it is made, imported and kept. Shared by the `./dpop`
// entry, the browser store (`./indexeddb`) and the Node file store, so each keeps the same
// kind of key the same way.
import type { CryptoKey, JWK } from 'jose';

/**
 * The device's DPoP key pair: ECDSA on P-256, for ES256 proofs. The private key is
 * non-extractable (WebCrypto `extractable: false`): the page or process can sign with
 * it but never read it, so a script that steals the tokens cannot take the key along.
 *
 * @example
 * ```ts
 * const { privateKey } = await store.dpopKey() // privateKey.extractable === false
 * ```
 */
export interface DpopKeyPair {
  /** Signs the proofs; non-extractable. */
  privateKey: CryptoKey;
  /** Its public half, sent in every proof's `jwk` header. */
  publicKey: CryptoKey;
}

/**
 * A {@link TokenStore} that also keeps the device's DPoP key, so the key lives as long as
 * the pairing bound to it: `IndexedDbTokenStore` (`@kalm/device-client/indexeddb`, the
 * `CryptoKey` itself) and `FileTokenStore` (`@kalm/device-client/node`, a 0600 JWK file).
 * `clear()` forgets the pairing but keeps the key: a new pairing binds to the same key.
 *
 * @example
 * ```ts
 * const { publicKey } = await new IndexedDbTokenStore().dpopKey()
 * ```
 */
export interface DpopKeyStore {
  /** The stored key pair, created (and stored) on first use. */
  dpopKey(): Promise<DpopKeyPair>;
}

const ES256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** A new P-256 key pair; `extractable` only for a store that must write the key out. @internal */
export const generateDpopKey = (extractable = false): Promise<DpopKeyPair> =>
  crypto.subtle.generateKey(ES256, extractable, ['sign', 'verify']) as Promise<DpopKeyPair>;

/** A stored private P-256 JWK as a non-extractable signing key with its public half. @internal */
export async function importDpopKey(jwk: JWK): Promise<DpopKeyPair> {
  const { kty, crv, x, y, d } = jwk;
  if (kty !== 'EC' || crv !== 'P-256' || !x || !y || !d) throw new Error('not a P-256 private JWK');
  return {
    privateKey: await crypto.subtle.importKey('jwk', { kty, crv, x, y, d }, ES256, false, ['sign']),
    publicKey: await crypto.subtle.importKey('jwk', { kty, crv, x, y }, ES256, true, ['verify']),
  };
}
