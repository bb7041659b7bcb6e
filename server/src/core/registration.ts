import type { AuditContext } from './audit.js';
import type { Clock } from './clock.js';
import { GRANT_ALIASES, GRANT_TYPES } from './clients.js';
import { validateApplication, type ApplicationService } from './applications.js';
import { OAuthError } from './errors.js';
import { formatScope, parseScope, type ScopeCatalog } from './scopes.js';
import { hashSecret, newSecret, type RandomSource } from './secrets.js';
import type { ApplicationKind, Store } from '../store/port/index.js';

export interface RegistrationService {
  /** RFC 7591 §3: an initial access token; only its hash is stored. */
  issueInitialAccessToken(input: { ownerUserId: string | null; expiresIn: number; uses: number }): Promise<{ token: string; expiresAt: number }>;
  /**
   * RFC 7591 §3.1–3.2: register a client from its metadata, authorised by an initial access
   * token; the answer is the §3.2.1 client information response.
   */
  register(initialAccessToken: string | undefined, metadata: unknown, context?: AuditContext): Promise<Record<string, unknown>>;
}

const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const;
// Human-readable members echoed back as registered (RFC 7591 §2).
const ECHOED_STRINGS = ['client_uri', 'logo_uri', 'tos_uri', 'policy_uri', 'software_id', 'software_version'] as const;

const invalidMetadata = (description: string) => new OAuthError('invalid_client_metadata', description);

function stringArray(metadata: Record<string, unknown>, name: string): string[] | undefined {
  const value = metadata[name];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw invalidMetadata(`${name} must be an array of strings`);
  return value as string[];
}

function optionalString(metadata: Record<string, unknown>, name: string): string | undefined {
  const value = metadata[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidMetadata(`${name} must be a string`);
  return value;
}

export function createRegistrationService(deps: {
  store: Store;
  applications: ApplicationService;
  catalog: ScopeCatalog;
  clock: Clock;
  random: RandomSource;
}): RegistrationService {
  const { store, clock } = deps;
  const invalidToken = (description: string) => new OAuthError('invalid_token', description);

  return {
    async issueInitialAccessToken({ ownerUserId, expiresIn, uses }) {
      if (!Number.isInteger(expiresIn) || expiresIn < 60 || expiresIn > 365 * 86400) {
        throw new OAuthError('invalid_request', 'expires-in must be 60 s to one year');
      }
      if (!Number.isInteger(uses) || uses < 1 || uses > 1_000_000) throw new OAuthError('invalid_request', 'uses must be a positive integer');
      const token = newSecret(deps.random, 32);
      const now = clock.now();
      const expiresAt = now + expiresIn * 1000;
      await store.registration.insertInitialAccessToken({ tokenHash: hashSecret(token), ownerUserId, createdAt: now, expiresAt, usesLeft: uses });
      return { token, expiresAt };
    },

    async register(initialAccessToken, body, context = {}) {
      if (initialAccessToken === undefined) throw invalidToken('an initial access token is required (Authorization: Bearer …)');
      const tokenHash = hashSecret(initialAccessToken);
      const live = initialAccessToken.length <= 512 ? await store.registration.findInitialAccessToken(tokenHash, clock.now()) : undefined;
      if (!live) throw invalidToken('the initial access token is invalid, expired or used up');

      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidMetadata('the body must be a JSON object');
      const metadata = body as Record<string, unknown>;
      const method = optionalString(metadata, 'token_endpoint_auth_method') ?? 'client_secret_basic'; // RFC 7591 §2 default
      if (!(AUTH_METHODS as readonly string[]).includes(method)) {
        throw invalidMetadata(`token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`);
      }
      const grantTypes = (stringArray(metadata, 'grant_types') ?? ['authorization_code']).map((g) => {
        const grant = Object.hasOwn(GRANT_ALIASES, g) ? GRANT_ALIASES[g] : undefined;
        if (!grant) throw invalidMetadata(`unsupported grant type "${g}"`);
        return grant;
      });
      const usesCode = grantTypes.includes(GRANT_TYPES.authorizationCode);
      // RFC 7591 §2.1: response_types and grant_types must agree; "code" is the only response type here.
      const responseTypes = stringArray(metadata, 'response_types') ?? (usesCode ? ['code'] : []);
      for (const r of responseTypes) if (r !== 'code') throw invalidMetadata(`unsupported response type "${r}"`);
      if ((responseTypes.length > 0) !== usesCode) throw invalidMetadata('response_types "code" goes with grant_types "authorization_code"');
      const redirectUris = stringArray(metadata, 'redirect_uris') ?? [];
      const scope = optionalString(metadata, 'scope');
      if (scope === undefined) throw invalidMetadata('scope is required: the scopes this client may ask for');
      let scopes: string[];
      try {
        scopes = parseScope(scope);
      } catch {
        throw invalidMetadata('scope is not a valid RFC 6749 §3.3 scope');
      }
      const applicationType = optionalString(metadata, 'application_type');
      const kind: ApplicationKind =
        method !== 'none' ? 'server'
        : !usesCode && grantTypes.includes(GRANT_TYPES.deviceCode) ? 'tv'
        : applicationType === 'native' ? 'mobile'
        : 'spa';
      const echoed: Record<string, unknown> = {};
      for (const name of ECHOED_STRINGS) {
        const value = optionalString(metadata, name);
        if (value !== undefined) echoed[name] = value;
      }
      const contacts = stringArray(metadata, 'contacts');
      if (contacts) echoed.contacts = contacts;
      if (applicationType !== undefined) echoed.application_type = applicationType;
      const name = optionalString(metadata, 'client_name') ?? 'Unnamed application';
      // RFC 9449 §5.2: the client always uses DPoP, so its token requests without a proof are refused.
      const dpopBound = metadata.dpop_bound_access_tokens ?? false;
      if (typeof dpopBound !== 'boolean') throw invalidMetadata('dpop_bound_access_tokens must be a boolean');

      const owner = live.ownerUserId ? ((await store.users.get(live.ownerUserId)) ?? null) : null;
      const input = { name, kind, redirectUris, grantTypes, scopes };
      // Take the token's use only once the metadata is known good, so a typo does not burn it.
      validateApplication(input, deps.catalog);
      if (!(await store.registration.useInitialAccessToken(tokenHash, clock.now()))) {
        throw invalidToken('the initial access token is invalid, expired or used up');
      }
      const { client, clientSecret } = await deps.applications.create(owner, input, { via: 'register', tokenEndpointAuthMethod: method, metadata: echoed, requireDpop: dpopBound, ip: context.ip });
      // RFC 7591 §3.2.1 client information response.
      return {
        client_id: client.id,
        ...(clientSecret !== undefined && { client_secret: clientSecret, client_secret_expires_at: 0 }),
        client_id_issued_at: Math.floor(client.createdAt / 1000),
        client_name: client.name,
        redirect_uris: client.redirectUris,
        grant_types: client.grantTypes,
        response_types: responseTypes,
        token_endpoint_auth_method: method,
        scope: formatScope(client.scopes),
        dpop_bound_access_tokens: client.requireDpop === true,
        ...echoed,
      };
    },
  };
}
