/**
 * DPoP (RFC 9449): checking a proof (§4.3), server nonces (§8) and the rules that bind tokens
 * to the proof's key (§5.0, §6, §10). Protocol logic only: the transport reads the proof from
 * its header (or message) and says which method and URL the request had.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, errors as joseErrors, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { epochSeconds, type Clock } from './clock.js';
import { OAuthError } from './errors.js';
import type { RandomSource } from './secrets.js';
import type { Config } from '../config.js';
import type { ClientRecord, GrantRecord, Store } from '../store/port/index.js';

/** The proof signing algorithms accepted (and advertised as `dpop_signing_alg_values_supported`). */
export const DPOP_ALGORITHMS = ['ES256', 'RS256'] as const;

/** What a checked proof establishes: the RFC 7638 SHA-256 thumbprint of its public key. */
export interface DpopProof {
  jkt: string;
}

/** A proof and the request it came with. */
export interface DpopRequest {
  /** The compact JWS, as sent. */
  proof: string;
  /** The request's method (`POST` for the token endpoint). */
  htm: string;
  /** The URL the request was for, as the server publishes it (query and fragment are ignored). */
  htu: string;
  /** RFC 9449 §7: the access token presented with the proof; its hash must be the proof's `ath`. */
  accessToken?: string;
  /** RFC 9449 §8: the proof must carry a nonce this server gave out. */
  nonceRequired: boolean;
}

export interface DpopService {
  /**
   * RFC 9449 §4.3: check a proof; its jti is remembered (in the store, for every process), so
   * the same proof is refused next time. Throws `invalid_dpop_proof`, or `use_dpop_nonce` when a
   * nonce is required and missing or stale.
   */
  checkProof(request: DpopRequest): Promise<DpopProof>;
  /** RFC 9449 §8: the nonce to hand out now (`DPoP-Nonce`); undefined when nonces are off. */
  nonce(): Promise<string | undefined>;
}

// RFC 9449 §8: a nonce is good for its slot and the next one (5 to 10 minutes).
const NONCE_SLOT_MS = 5 * 60 * 1000;
const NONCE_SECRET = 'dpop-nonce';
const MAX_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;
// RFC 7517 §6.2.2, §6.3.2, §6.4: members that only a private (or symmetric) key has.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

const invalidProof = (description: string) => new OAuthError('invalid_dpop_proof', description);

/** What the DPoP service works with (the options of {@link createDpopService}). */
interface DpopDeps {
  store: Store;
  clock: Clock;
  random: RandomSource;
  config: Config;
}

export function createDpopService(deps: DpopDeps): DpopService {
  const nonces = createNonces(deps);
  return {
    checkProof: (request) => checkProof(deps, nonces, request),
    nonce: () => (deps.config.dpopNonce ? nonces.current() : Promise.resolve(undefined)),
  };
}

/** Nonces: an HMAC of the time slot under a secret kept in the store, so every process agrees. */
function createNonces({ store, clock, random }: DpopDeps) {
  let secret: Promise<Buffer> | undefined;
  let cached: { slot: number; nonce: string } | undefined;
  // Loaded once; a failed load is tried again on the next request rather than kept.
  const key = () =>
    (secret ??= store.dpop.serverSecret(NONCE_SECRET, Buffer.from(random(32)), clock.now()).catch((err: unknown) => {
      secret = undefined;
      throw err;
    }));
  const forSlot = async (slot: number) => createHmac('sha256', await key()).update(`${NONCE_SECRET}:${slot}`).digest().subarray(0, 16).toString('base64url');
  return {
    async current(): Promise<string> {
      const slot = Math.floor(clock.now() / NONCE_SLOT_MS);
      if (cached?.slot !== slot) cached = { slot, nonce: await forSlot(slot) };
      return cached.nonce;
    },
    /** The current slot's nonce or the previous one's. */
    async isFresh(nonce: unknown): Promise<boolean> {
      if (typeof nonce !== 'string') return false;
      const given = Buffer.from(nonce);
      const slot = Math.floor(clock.now() / NONCE_SLOT_MS);
      for (const candidate of [await this.current(), await forSlot(slot - 1)]) {
        const expected = Buffer.from(candidate);
        if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
      }
      return false;
    },
  };
}

type Nonces = ReturnType<typeof createNonces>;

/** The claims a proof must carry (RFC 9449 §4.2). */
interface ProofClaims extends JWTPayload {
  jti: string;
  htm: string;
  htu: string;
  iat: number;
  ath?: string;
  nonce?: string;
}

async function checkProof(deps: DpopDeps, nonces: Nonces, request: DpopRequest): Promise<DpopProof> {
  const { clock, config } = deps;
  const jwk = checkHeader(request.proof);
  let payload: JWTPayload;
  let jkt: string;
  try {
    ({ payload } = await jwtVerify(request.proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: [...DPOP_ALGORITHMS],
      requiredClaims: ['jti', 'htm', 'htu', 'iat'],
      currentDate: new Date(clock.now()),
    }));
    jkt = await calculateJwkThumbprint(jwk, 'sha256');
  } catch (err) {
    if (isProofFault(err)) throw invalidProof(`the DPoP proof does not verify: ${err.message}`);
    throw err;
  }
  const claims = checkClaims(payload, request, epochSeconds(clock), config.dpopProofWindow);
  // RFC 9449 §8: checked after the signature, so only a well-made proof is told to retry.
  if (request.nonceRequired && !(await nonces.isFresh(claims.nonce))) {
    throw new OAuthError('use_dpop_nonce', 'the DPoP proof must carry the nonce of the DPoP-Nonce header');
  }
  // RFC 9449 §11.1: a proof is used once. It is refused by its iat after the window, so its
  // jti need not be kept longer; scoped by key, so nobody can spend another key's jti.
  const proofKey = createHash('sha256').update(`${jkt}.${claims.jti}`).digest();
  const freshUntil = (claims.iat + config.dpopProofWindow) * 1000 + 1000;
  if (!(await deps.store.dpop.rememberProof(proofKey, freshUntil, clock.now()))) {
    throw invalidProof('this DPoP proof has been used already (jti replay)');
  }
  return { jkt };
}

/**
 * What a proof the client made can make jose and WebCrypto throw: jose's own errors, and the
 * TypeError or DOMException of importing a key that is not one (a wrong curve, a short RSA modulus).
 */
function isProofFault(err: unknown): err is Error {
  return err instanceof joseErrors.JOSEError || err instanceof TypeError || err instanceof DOMException;
}

/** RFC 9449 §4.3 checks 2–5 and 7 on the JOSE header, before any key is imported. */
function checkHeader(proof: string): JWK {
  if (proof.length > MAX_PROOF_LENGTH || proof.split('.').length !== 3) throw invalidProof('the DPoP header is not a compact JWS');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw invalidProof('the DPoP proof header is not readable JSON');
  }
  if (header.typ !== 'dpop+jwt') throw invalidProof('the DPoP proof typ must be dpop+jwt');
  if (typeof header.alg !== 'string' || !(DPOP_ALGORITHMS as readonly string[]).includes(header.alg)) {
    throw invalidProof(`the DPoP proof alg must be one of ${DPOP_ALGORITHMS.join(', ')}`);
  }
  const jwk = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw invalidProof('the DPoP proof header has no jwk');
  if (PRIVATE_MEMBERS.some((member) => Object.hasOwn(jwk, member))) throw invalidProof('the DPoP proof jwk must be a public key');
  return jwk;
}

/** RFC 9449 §4.3 checks 8, 9, 11 and 12 on the claims. */
function checkClaims(payload: JWTPayload, request: DpopRequest, now: number, window: number): ProofClaims {
  const { jti, htm, htu, iat, ath } = payload as Partial<ProofClaims>;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) throw invalidProof('the DPoP proof jti must be a string of 1 to 256 characters');
  if (typeof htm !== 'string' || htm !== request.htm) throw invalidProof(`the DPoP proof htm must be ${request.htm}`);
  if (typeof htu !== 'string' || !sameTarget(htu, request.htu)) throw invalidProof(`the DPoP proof htu must be ${request.htu}`);
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalidProof('the DPoP proof iat must be a number');
  if (iat < now - window) throw invalidProof('the DPoP proof is too old (iat)');
  if (iat > now + window) throw invalidProof('the DPoP proof iat is in the future');
  if (request.accessToken !== undefined && ath !== accessTokenHash(request.accessToken)) {
    throw invalidProof('the DPoP proof ath does not match the access token');
  }
  return payload as ProofClaims;
}

/**
 * RFC 9449 §4.3 check 9: `htu` names the request's URL, ignoring query and fragment, compared
 * after syntax- and scheme-based normalisation (RFC 3986 §6.2.2, §6.2.3: case of scheme and host,
 * default port, dot segments, percent-encoding case), which the WHATWG URL parser performs.
 */
function sameTarget(htu: string, expected: string): boolean {
  const target = (value: string) => {
    const url = URL.parse(value);
    return url === null ? undefined : `${url.protocol}//${url.host}${url.pathname}`;
  };
  const actual = target(htu);
  return actual !== undefined && actual === target(expected);
}

/** RFC 9449 §4.2 `ath`: base64url of the SHA-256 of the access token's ASCII. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

/**
 * RFC 9449 §5.0: the key a new grant's refresh tokens are bound to. Only a public client's:
 * a confidential client's refresh tokens are already bound to it by its authentication.
 */
export function refreshTokenBinding(client: ClientRecord, proof: DpopProof | undefined): string | null {
  return client.type === 'public' && proof !== undefined ? proof.jkt : null;
}

/** RFC 9449 §5.0: a refresh of a bound grant must prove its key; `invalid_grant` otherwise. */
export function assertRefreshBinding(grant: GrantRecord, proof: DpopProof | undefined): void {
  if (grant.dpopJkt === null) return;
  if (proof === undefined) throw new OAuthError('invalid_grant', 'this refresh token is bound to a DPoP key: send a DPoP proof of it');
  if (proof.jkt !== grant.dpopJkt) throw new OAuthError('invalid_grant', 'the DPoP proof is not of the key this refresh token is bound to');
}

/** RFC 9449 §5.2: a client registered with `dpop_bound_access_tokens` sends a proof with every token request. */
export function assertProofIfRequired(client: ClientRecord, proof: DpopProof | string | undefined): void {
  if (client.requireDpop === true && proof === undefined) {
    throw invalidProof('this client must send a DPoP proof with every token request');
  }
}
