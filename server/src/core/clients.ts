import { createHash, timingSafeEqual } from 'node:crypto';
import { OAuthError } from './errors.js';
import { hashPassword, newSecret, verifyPassword, type RandomSource } from './secrets.js';
import type { Clock } from './clock.js';
import type { ScopeCatalog } from './scopes.js';
import type { ClientRecord, ClientRepository, ClientType, SigningAlg } from '../store/port/index.js';

export const GRANT_TYPES = {
  deviceCode: 'urn:ietf:params:oauth:grant-type:device_code',
  refreshToken: 'refresh_token',
  authorizationCode: 'authorization_code',
  clientCredentials: 'client_credentials',
} as const;

/** Short names accepted by the CLI for the grant URNs. */
export const GRANT_ALIASES: Record<string, string> = {
  device_code: GRANT_TYPES.deviceCode,
  'device-code': GRANT_TYPES.deviceCode,
  [GRANT_TYPES.deviceCode]: GRANT_TYPES.deviceCode,
  refresh_token: GRANT_TYPES.refreshToken,
  authorization_code: GRANT_TYPES.authorizationCode,
  client_credentials: GRANT_TYPES.clientCredentials,
};

export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

/** What the transport extracted from a request; http/ has already refused contradicting methods. */
export interface ClientCredentials {
  clientId: string;
  clientSecret?: string;
  method: ClientAuthMethod;
}

export interface NewClient {
  id?: string;
  name: string;
  type: ClientType;
  grantTypes: string[];
  scopes: string[];
  redirectUris?: string[];
  deviceCodeTtl?: number | null;
  devicePollInterval?: number | null;
  accessTokenAlg?: SigningAlg | null;
  ownerUserId?: string | null;
  /** RFC 9449 §5.2 `dpop_bound_access_tokens`: refuse this client's token requests without a DPoP proof. */
  requireDpop?: boolean;
}

export interface ClientService {
  /** Register a client. The secret of a confidential client is returned here once and stored only hashed. */
  create(input: NewClient): Promise<{ client: ClientRecord; clientSecret?: string }>;
  get(id: string): Promise<ClientRecord | undefined>;
  list(): Promise<ClientRecord[]>;
  /** RFC 6749 §2.3: authenticate the client of a token-endpoint style request. */
  authenticate(credentials: ClientCredentials): Promise<ClientRecord>;
  /** RFC 6749 §5.2 unauthorized_client unless the client may use `grantType`. */
  assertGrant(client: ClientRecord, grantType: string): void;
}

const CLIENT_ID = /^[\x21-\x7E]{1,128}$/;

function isIntegerIn(n: number, min: number, max: number): boolean {
  return Number.isInteger(n) && n >= min && n <= max;
}

/**
 * A new client id: 16 base64url characters (96 random bits) that never begin with `-`, so that
 * a command line (`kalm-device login --client-id ID`, `kalm client show ID`) never reads one as an
 * option. One id in 64 is drawn again; the rest of the alphabet is untouched.
 */
function newClientId(random: RandomSource): string {
  for (;;) {
    const id = newSecret(random, 12);
    if (!id.startsWith('-')) return id;
  }
}

export function createClientService(deps: {
  clients: ClientRepository;
  catalog: ScopeCatalog;
  clock: Clock;
  random: RandomSource;
}): ClientService {
  // Successful secret checks, keyed by client: SHA-256 of the secret that passed and the stored
  // hash it passed against. A confidential client polling every 5 s would otherwise pay ~90 ms
  // of scrypt per poll; a changed stored hash (secret rotated) invalidates the entry.
  const verified = new Map<string, { secretDigest: Buffer; secretHash: string }>();
  const VERIFIED_MAX = 10_000;

  async function checkSecret(client: ClientRecord, secret: string): Promise<boolean> {
    const digest = createHash('sha256').update(secret).digest();
    const hit = verified.get(client.id);
    if (hit && hit.secretHash === client.secretHash) return timingSafeEqual(hit.secretDigest, digest);
    if (!client.secretHash || !(await verifyPassword(secret, client.secretHash))) return false;
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
    verified.set(client.id, { secretDigest: digest, secretHash: client.secretHash });
    return true;
  }

  const invalidClient = (description: string) => new OAuthError('invalid_client', description);

  return {
    async create(input) {
      for (const s of input.scopes) {
        if (!deps.catalog.has(s)) throw new OAuthError('invalid_scope', `unknown scope "${s}"`);
      }
      for (const g of input.grantTypes) {
        if (!Object.values(GRANT_TYPES).includes(g as never)) throw new OAuthError('invalid_request', `unknown grant type "${g}"`);
      }
      if (input.type === 'public' && input.grantTypes.includes(GRANT_TYPES.clientCredentials)) {
        throw new OAuthError('invalid_request', 'client_credentials needs a confidential client');
      }
      // RFC 8628 §3.2 sends both as whole seconds; a zero interval would invite a busy loop.
      if (input.deviceCodeTtl != null && !isIntegerIn(input.deviceCodeTtl, 1, 86400)) {
        throw new OAuthError('invalid_request', 'device code lifetime must be an integer from 1 to 86400 seconds');
      }
      if (input.devicePollInterval != null && !isIntegerIn(input.devicePollInterval, 1, 600)) {
        throw new OAuthError('invalid_request', 'polling interval must be an integer from 1 to 600 seconds');
      }
      const id = input.id ?? newClientId(deps.random);
      if (!CLIENT_ID.test(id)) throw new OAuthError('invalid_request', 'client id must be 1 to 128 visible ASCII characters');
      const clientSecret = input.type === 'confidential' ? newSecret(deps.random, 32) : undefined;
      const client: ClientRecord = {
        id,
        name: input.name,
        type: input.type,
        secretHash: clientSecret ? await hashPassword(clientSecret, deps.random) : null,
        grantTypes: [...new Set(input.grantTypes)],
        scopes: [...new Set(input.scopes)],
        redirectUris: input.redirectUris ?? [],
        deviceCodeTtl: input.deviceCodeTtl ?? null,
        devicePollInterval: input.devicePollInterval ?? null,
        accessTokenAlg: input.accessTokenAlg ?? null,
        ownerUserId: input.ownerUserId ?? null,
        createdAt: deps.clock.now(),
        requireDpop: input.requireDpop ?? false,
      };
      await deps.clients.create(client);
      return clientSecret ? { client, clientSecret } : { client };
    },
    get: (id) => deps.clients.get(id),
    list: () => deps.clients.list(),
    async authenticate({ clientId, clientSecret, method }) {
      const client = await deps.clients.get(clientId);
      if (!client) throw invalidClient('unknown client');
      if (client.type === 'public') {
        if (method !== 'none') throw invalidClient('this client is public and has no secret');
        return client;
      }
      if (method === 'none' || clientSecret === undefined) throw invalidClient('client authentication required');
      if (!(await checkSecret(client, clientSecret))) throw invalidClient('client authentication failed');
      return client;
    },
    assertGrant(client, grantType) {
      if (!client.grantTypes.includes(grantType)) {
        throw new OAuthError('unauthorized_client', `this client may not use the ${grantType} grant`);
      }
    },
  };
}
