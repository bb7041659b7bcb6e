import { createHash } from 'node:crypto';
import type { Clock } from './clock.js';
import { GRANT_TYPES, type ClientService } from './clients.js';
import { refreshTokenBinding, type DpopProof } from './dpop.js';
import { OAuthError } from './errors.js';
import { newGrant } from './grants.js';
import { matchesRegisteredRedirectUri } from './redirect-uris.js';
import { isSubset, resolveRequestedScope, type ScopeCatalog } from './scopes.js';
import { hashSecret, newSecret, safeEqual, type RandomSource } from './secrets.js';
import type { TokenResponse, TokenService } from './tokens.js';
import type { Config } from '../config.js';
import type { ClientRecord, Store } from '../store/port/index.js';

/** RFC 9700 §4.2.1 recommends short-lived codes; one minute is plenty for a redirect and a POST. */
export const AUTHORIZATION_CODE_TTL_SECONDS = 60;

/** Query parameters as the transport parsed them: repeated names arrive as arrays. */
export type AuthorizationParams = Record<string, string | string[] | undefined>;

/** A checked RFC 6749 §4.1.1 authorization request. */
export interface AuthorizationRequest {
  client: ClientRecord;
  /** Where the response goes: the request's redirect_uri, or the single registered one. */
  redirectUri: string;
  redirectUriGiven: boolean;
  scopes: string[];
  state: string | undefined;
  /** RFC 7636 S256 challenge. */
  codeChallenge: string;
  /** OpenID Connect `prompt` values we honour: `consent` forces the screen, `none` forbids it. */
  prompt: Set<'consent' | 'none'>;
  /** RFC 9449 §10 `dpop_jkt`: the code will be redeemable only with a DPoP proof of this key. */
  dpopJkt?: string | undefined;
  /** The request's own parameters, to carry it through sign-in and the consent form unchanged. */
  params: Record<string, string>;
}

/**
 * The outcome of checking an authorization request. RFC 6749 §4.1.2.1: until the client and
 * redirect URI are known good, an error is shown to the person and never redirected (no open
 * redirector); after that it goes back to the client.
 */
export type AuthorizationCheck =
  | { ok: true; request: AuthorizationRequest }
  | { ok: false; redirect: false; error: OAuthError }
  | { ok: false; redirect: true; redirectUrl: string; error: OAuthError };

export interface AuthorizationCodeFlow {
  /** Check an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3). */
  check(params: AuthorizationParams): Promise<AuthorizationCheck>;
  /**
   * The scopes to grant without asking, when `userId` already consented to this client for
   * these scopes and still holds a grant for it; undefined when the consent screen is needed.
   */
  rememberedConsent(request: AuthorizationRequest, userId: string): Promise<string[] | undefined>;
  /** The person approved `grantedScopes`: issue a code, remember the consent, and return the redirect URL. */
  approve(request: AuthorizationRequest, userId: string, grantedScopes: readonly string[]): Promise<string>;
  /** The redirect URL of an error response (`access_denied` when the person said no). */
  errorRedirect(request: Pick<AuthorizationRequest, 'redirectUri' | 'state'>, error: OAuthError): string;
  /** RFC 6749 §4.1.3 token request: PKCE verifier, redirect URI and client are checked; a reused code revokes its tokens. */
  redeem(
    client: ClientRecord,
    input: { code: string; redirectUri?: string | undefined; codeVerifier?: string | undefined; dpop?: DpopProof | undefined },
  ): Promise<TokenResponse>;
}

// RFC 7636 §4.1: 43 to 128 unreserved characters; §4.2: S256 gives 43 base64url characters.
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
// RFC 9449 §10: a base64url SHA-256 JWK thumbprint (RFC 7638), the same shape as an S256 challenge.
const JWK_THUMBPRINT = S256_CHALLENGE;
const MAX_CODE_LENGTH = 512;

/** RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))). */
export function s256(codeVerifier: string): string {
  return createHash('sha256').update(codeVerifier, 'ascii').digest('base64url');
}

/** What the flow works with (the options of {@link createAuthorizationCodeFlow}). */
interface AuthorizationCodeDeps {
  store: Store;
  clients: ClientService;
  tokens: TokenService;
  catalog: ScopeCatalog;
  clock: Clock;
  random: RandomSource;
  config: Config;
}

export function createAuthorizationCodeFlow(deps: AuthorizationCodeDeps): AuthorizationCodeFlow {
  const { store, clients, tokens, catalog, clock, random, config } = deps;
  const flow: AuthorizationCodeDeps = { store, clients, tokens, catalog, clock, random, config };
  return {
    check: (params) => check(flow, params),
    rememberedConsent: (request, userId) => rememberedConsent(flow, request, userId),
    approve: (request, userId, grantedScopes) => approve(flow, request, userId, grantedScopes),
    errorRedirect: (request, error) => errorRedirect(config, request, error),
    redeem: (client, input) => redeem(flow, client, input),
  };
}

/** RFC 6749 §4.1.2 / §4.1.2.1 response parameters, plus RFC 9207 `iss` on every one. */
function responseUrl(config: Config, redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries({ ...params, iss: config.publicUrl })) {
    if (value !== undefined) url.searchParams.append(name, value);
  }
  return url.href;
}

function errorRedirect(config: Config, request: Pick<AuthorizationRequest, 'redirectUri' | 'state'>, error: OAuthError): string {
  return responseUrl(config, request.redirectUri, { error: error.error, error_description: error.description, state: request.state });
}

/** Who asked and where the answer goes, once both are known good. */
interface Recipient {
  client: ClientRecord;
  redirectUri: string;
  redirectUriGiven: boolean;
}

/** An error shown to the person, never redirected. */
type PageError = Extract<AuthorizationCheck, { redirect: false }>;

async function check(flow: AuthorizationCodeDeps, raw: AuthorizationParams): Promise<AuthorizationCheck> {
  const recipient = await checkClientAndRedirectUri(flow, raw);
  if ('error' in recipient) return recipient;
  return checkRequest(flow, raw, recipient);
}

/** The client and its redirect URI; until both are known good, errors are shown on the page (RFC 6749 §4.1.2.1). */
async function checkClientAndRedirectUri(flow: AuthorizationCodeDeps, raw: AuthorizationParams): Promise<Recipient | PageError> {
  const page = (description: string): PageError => ({ ok: false, redirect: false, error: new OAuthError('invalid_request', description) });
  const clientId = raw.client_id;
  if (clientId === undefined || clientId === '') return page('client_id is missing');
  if (typeof clientId !== 'string') return page('client_id is repeated');
  const client = clientId.length <= 128 ? await flow.clients.get(clientId) : undefined;
  if (!client) return page('there is no application with this client_id');
  const requestedUri = raw.redirect_uri;
  if (Array.isArray(requestedUri)) return page('redirect_uri is repeated');
  let redirectUri: string;
  if (requestedUri === undefined || requestedUri === '') {
    // RFC 6749 §3.1.2.3: may be left out only when exactly one is registered, and not a loopback
    // one whose port varies.
    const only = client.redirectUris.length === 1 ? client.redirectUris[0] : undefined;
    if (!only) return page('redirect_uri is missing');
    redirectUri = only;
  } else {
    if (!matchesRegisteredRedirectUri(client.redirectUris, requestedUri)) {
      return page('redirect_uri does not match any redirect URI registered for this application');
    }
    redirectUri = requestedUri;
  }

  // A redirect URI registered around the checks (an operator's CLI typo) is still never followed.
  if (!URL.canParse(redirectUri)) return page('the registered redirect URI is not an absolute URL');
  return { client, redirectUri, redirectUriGiven: requestedUri !== undefined && requestedUri !== '' };
}

/** The rest of an RFC 6749 §4.1.1 request, with RFC 7636 §4.3 PKCE; errors go back to the client. */
function checkRequest(flow: AuthorizationCodeDeps, raw: AuthorizationParams, { client, redirectUri, redirectUriGiven }: Recipient): AuthorizationCheck {
  // From here on errors go back to the client (RFC 6749 §4.1.2.1).
  const state = typeof raw.state === 'string' && raw.state !== '' ? raw.state : undefined;
  const back = (error: OAuthError['error'], description: string): AuthorizationCheck => {
    const error_ = new OAuthError(error, description);
    return { ok: false, redirect: true, error: error_, redirectUrl: errorRedirect(flow.config, { redirectUri, state }, error_) };
  };
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    // RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once."
    if (Array.isArray(value)) return back('invalid_request', `parameter "${name}" is repeated`);
    if (value !== undefined && value !== '') params[name] = value;
  }
  const responseType = params.response_type;
  if (responseType === undefined) return back('invalid_request', 'response_type is missing');
  if (responseType !== 'code') return back('unsupported_response_type', 'only response_type=code is supported');
  if (params.response_mode !== undefined && params.response_mode !== 'query') {
    return back('invalid_request', 'only response_mode=query is supported');
  }
  if (!client.grantTypes.includes(GRANT_TYPES.authorizationCode)) {
    return back('unauthorized_client', 'this application may not use the authorization code flow');
  }
  // RFC 7636 §4.4.1 and RFC 9700 §2.1.1: PKCE for every client, and only S256.
  const challenge = params.code_challenge;
  if (challenge === undefined) return back('invalid_request', 'PKCE is required: send code_challenge and code_challenge_method=S256');
  if (params.code_challenge_method !== 'S256') {
    return back('invalid_request', 'code_challenge_method must be S256 (plain is not accepted)');
  }
  if (!S256_CHALLENGE.test(challenge)) return back('invalid_request', 'code_challenge is not a base64url SHA-256 value');
  let scopes: string[];
  try {
    scopes = resolveRequestedScope(params.scope, client.scopes, flow.catalog);
  } catch (err) {
    if (err instanceof OAuthError) return back(err.error, err.description);
    throw err;
  }
  if (scopes.length === 0) return back('invalid_scope', 'no scope requested and the application has none allowed');
  const prompt = new Set<'consent' | 'none'>();
  for (const value of (params.prompt ?? '').split(' ').filter(Boolean)) {
    if (value !== 'consent' && value !== 'none') return back('invalid_request', `prompt=${value} is not supported`);
    prompt.add(value);
  }
  if (prompt.has('none') && prompt.size > 1) return back('invalid_request', 'prompt=none cannot be combined with other values');
  const dpopJkt = params.dpop_jkt;
  if (dpopJkt !== undefined && !JWK_THUMBPRINT.test(dpopJkt)) return back('invalid_request', 'dpop_jkt is not a base64url SHA-256 JWK thumbprint');
  return { ok: true, request: { client, redirectUri, redirectUriGiven, scopes, state, codeChallenge: challenge, prompt, dpopJkt, params } };
}

async function rememberedConsent({ store }: AuthorizationCodeDeps, request: AuthorizationRequest, userId: string): Promise<string[] | undefined> {
  if (request.prompt.has('consent')) return undefined;
  const consent = await store.authorization.getConsent(userId, request.client.id);
  // Only a request the person has already answered, for an application they have not since revoked.
  if (!consent || !isSubset(request.scopes, consent.requestedScopes)) return undefined;
  const granted = request.scopes.filter((s) => consent.grantedScopes.includes(s));
  if (granted.length === 0) return undefined;
  if (!(await store.authorization.hasActiveGrant(userId, request.client.id))) return undefined;
  return granted;
}

async function approve({ store, clock, random, config }: AuthorizationCodeDeps, request: AuthorizationRequest, userId: string, grantedScopes: readonly string[]): Promise<string> {
  const granted = [...new Set(grantedScopes)];
  if (granted.length === 0 || !isSubset(granted, request.scopes)) {
    throw new OAuthError('invalid_scope', 'the granted scopes must be a non-empty subset of the requested ones');
  }
  const code = newSecret(random, 32);
  const now = clock.now();
  await store.authorization.insertCode({
    codeHash: hashSecret(code),
    clientId: request.client.id,
    userId,
    scopes: granted,
    redirectUri: request.redirectUri,
    redirectUriGiven: request.redirectUriGiven,
    codeChallenge: request.codeChallenge,
    createdAt: now,
    expiresAt: now + AUTHORIZATION_CODE_TTL_SECONDS * 1000,
    usedAt: null,
    grantId: null,
    dpopJkt: request.dpopJkt ?? null,
  });
  await store.authorization.saveConsent({ userId, clientId: request.client.id, requestedScopes: request.scopes, grantedScopes: granted, updatedAt: now });
  return responseUrl(config, request.redirectUri, { code, state: request.state });
}

/** What a token request presents with its code. */
type RedeemInput = Parameters<AuthorizationCodeFlow['redeem']>[1];
type StoredCode = NonNullable<Awaited<ReturnType<Store['authorization']['getCode']>>>;

const invalidGrant = (description: string) => new OAuthError('invalid_grant', description);

async function redeem(flow: AuthorizationCodeDeps, client: ClientRecord, input: RedeemInput): Promise<TokenResponse> {
  const { store, tokens } = flow;
  const hash = hashSecret(input.code);
  const record = await redeemableCode(flow, client, input, hash);
  const now = flow.clock.now();
  const grant = newGrant(flow.random, now, {
    clientId: client.id,
    userId: record.userId,
    scopes: record.scopes,
    origin: GRANT_TYPES.authorizationCode,
    dpopJkt: refreshTokenBinding(client, input.dpop),
  });
  // Sign first, commit second: tokens are handed out only if the commit that spends the code succeeds.
  const { response, refresh } = await tokens.issueForGrant(client, grant, record.scopes, input.dpop);
  if (!(await store.authorization.redeemCode(hash, grant, refresh, now))) {
    // Spent (or expired) between our read and our write: the same as a reuse.
    const spent = await store.authorization.getCode(hash);
    if (spent?.grantId) await tokens.revokeGrant(spent.grantId);
    throw invalidGrant('authorization code has already been used');
  }
  return response;
}

/** The stored code, once it is this client's, unused, unexpired, and matches the redirect URI and the PKCE verifier. */
async function redeemableCode({ store, clock, tokens }: AuthorizationCodeDeps, client: ClientRecord, input: RedeemInput, hash: Buffer): Promise<StoredCode> {
  const record = input.code.length <= MAX_CODE_LENGTH ? await store.authorization.getCode(hash) : undefined;
  if (!record || record.clientId !== client.id) throw invalidGrant('unknown authorization code');
  if (record.usedAt !== null) {
    // RFC 6749 §4.1.2: a code used twice SHOULD revoke the tokens issued from it.
    if (record.grantId) await tokens.revokeGrant(record.grantId);
    throw invalidGrant('authorization code has already been used; the tokens issued from it are revoked');
  }
  if (record.expiresAt <= clock.now()) throw invalidGrant('authorization code has expired');
  // RFC 6749 §4.1.3: the same redirect_uri as the authorization request, when it carried one.
  if (record.redirectUriGiven || input.redirectUri !== undefined) {
    if (input.redirectUri === undefined) throw new OAuthError('invalid_request', 'redirect_uri is required');
    if (input.redirectUri !== record.redirectUri) throw invalidGrant('redirect_uri differs from the authorization request');
  }
  // RFC 7636 §4.5–4.6.
  if (input.codeVerifier === undefined) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE)');
  if (!CODE_VERIFIER.test(input.codeVerifier) || !safeEqual(s256(input.codeVerifier), record.codeChallenge)) {
    throw invalidGrant('code_verifier does not match the code_challenge');
  }
  // RFC 9449 §10: the token request proves the key the authorization request named.
  if (record.dpopJkt !== null && input.dpop?.jkt !== record.dpopJkt) {
    throw invalidGrant('the authorization request named a DPoP key (dpop_jkt): send a DPoP proof of that key');
  }
  return record;
}
