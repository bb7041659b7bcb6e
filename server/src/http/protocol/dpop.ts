/**
 * DPoP (RFC 9449) at the token endpoint, the HTTP half: the `DPoP` request header, the URL a
 * proof must name (the published token endpoint, from `PUBLIC_URL`, so a proxy in front changes
 * nothing), and the `DPoP-Nonce` every answer to a proof-carrying request gets (§8). The proof
 * itself is checked in core/dpop.ts.
 */
import type { IncomingMessage } from 'node:http';
import type { DpopProof } from '../../core/dpop.js';
import { OAuthError } from '../../core/errors.js';
import type { Core } from '../../core/index.js';
import { ENDPOINT_PATHS, endpointUrl } from '../../urls.js';
import { WithHeaders } from './send.js';

/**
 * The request's `DPoP` header, or undefined. RFC 9449 §4.3 check 1: one header only; Node joins
 * repeated headers with ", ", which no compact JWS contains.
 */
export function dpopHeader(req: IncomingMessage): string | undefined {
  const value = req.headers.dpop;
  if (Array.isArray(value) || (value !== undefined && value.includes(','))) throw new OAuthError('invalid_dpop_proof', 'send one DPoP header, not several');
  return value;
}

/** RFC 9449 §5: check the proof of a token request (`POST` to the published token endpoint). */
export function checkTokenRequestProof(core: Core, proof: string): Promise<DpopProof> {
  return core.dpop.checkProof({
    proof,
    htm: 'POST',
    htu: endpointUrl(core.config.publicUrl, ENDPOINT_PATHS.token),
    nonceRequired: core.config.dpopNonce,
  });
}

/**
 * Run the answer of a request that carries a proof. With nonces on (RFC 9449 §8), its answer,
 * success or error, carries the current nonce in `DPoP-Nonce`; otherwise it is left as it is.
 */
export async function withDpopNonce<T>(core: Core, answer: () => Promise<T>): Promise<T | WithHeaders> {
  if (!core.config.dpopNonce) return answer();
  let value: T;
  try {
    value = await answer();
  } catch (err) {
    throw new WithHeaders(err, await nonceHeader(core));
  }
  return new WithHeaders(value, await nonceHeader(core));
}

async function nonceHeader(core: Core): Promise<Record<string, string>> {
  return { 'DPoP-Nonce': (await core.dpop.nonce())! };
}
