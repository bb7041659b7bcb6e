import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuditContext, AuditTrail } from './audit.js';
import { NotFoundError, OAuthError } from './errors.js';
import { hashPassword, newId, newSecret, verifyPassword, type RandomSource } from './secrets.js';
import type { Clock } from './clock.js';
import type { ScopeCatalog } from './scopes.js';
import type { TokenService } from './tokens.js';
import type { ClientGrantRepository, ClientRecord, ClientRepository, ClientType, SigningAlg } from '../store/port/index.js';

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

/**
 * What an operator may change of a client (`kalm client update`): each field given replaces the
 * client's; null resets an override to the server default. The id, type and owner stay.
 */
export type ClientChanges = Partial<
  Pick<ClientRecord, 'name' | 'grantTypes' | 'scopes' | 'redirectUris' | 'deviceCodeTtl' | 'devicePollInterval' | 'accessTokenAlg' | 'requireDpop'>
>;

/**
 * Who changes a client, for the audit trail (default: the trail's actor, `cli` in `kalm`).
 * `registered`: an RFC 7591 registration, recorded as `client.registered` by the client itself.
 */
export interface ClientAuditContext extends AuditContext {
  registered?: boolean;
}

export interface ClientService {
  /** Register a client. The secret of a confidential client is returned here once and stored only hashed. */
  create(input: NewClient, context?: ClientAuditContext): Promise<{ client: ClientRecord; clientSecret?: string }>;
  get(id: string): Promise<ClientRecord | undefined>;
  list(): Promise<ClientRecord[]>;
  /**
   * Change a client under the rules of `create`; NotFoundError when unknown. What changes applies
   * to new authorizations and refreshes; grants already approved keep their scopes.
   */
  update(id: string, changes: ClientChanges, context?: AuditContext): Promise<ClientRecord>;
  /**
   * A new secret for a confidential client, returned here once (only its hash is stored); the
   * old one stops working at once. NotFoundError when unknown; invalid_request for a public client.
   */
  rotateSecret(id: string, context?: AuditContext): Promise<{ client: ClientRecord; clientSecret: string }>;
  /**
   * Delete a client. Every grant it holds is revoked first, so its paired devices are told
   * (`revoked` on push), then its grants, tokens, codes, consents and profile go with it.
   * Resolves to the deleted client and how many grants were revoked; NotFoundError when unknown.
   */
  delete(id: string, context?: AuditContext & { by?: 'admin' | 'app' }): Promise<{ client: ClientRecord; revokedGrants: number }>;
  /** RFC 6749 §2.3: authenticate the client of a token-endpoint style request. */
  authenticate(credentials: ClientCredentials): Promise<ClientRecord>;
  /** RFC 6749 §5.2 unauthorized_client unless the client may use `grantType`. */
  assertGrant(client: ClientRecord, grantType: string): void;
}

const CLIENT_ID = /^[\x21-\x7E]{1,128}$/;

function isIntegerIn(n: number, min: number, max: number): boolean {
  return Number.isInteger(n) && n >= min && n <= max;
}

/** A new client id: 16 base64url characters (96 random bits), never beginning with `-` (see newId). */
const newClientId = (random: RandomSource): string => newId(random, 12);

/** The rules every client obeys, at creation and at every change; throws what the caller is told. */
function assertValidClient(client: ClientRecord, catalog: ScopeCatalog): void {
  if (client.name.trim() === '' || /[\u0000-\u001f\u007f]/.test(client.name)) {
    throw new OAuthError('invalid_request', 'the name must be printable and not empty');
  }
  for (const s of client.scopes) {
    if (!catalog.has(s)) throw new OAuthError('invalid_scope', `unknown scope "${s}"`);
  }
  for (const g of client.grantTypes) {
    if (!Object.values(GRANT_TYPES).includes(g as never)) throw new OAuthError('invalid_request', `unknown grant type "${g}"`);
  }
  if (client.type === 'public' && client.grantTypes.includes(GRANT_TYPES.clientCredentials)) {
    throw new OAuthError('invalid_request', 'client_credentials needs a confidential client');
  }
  // RFC 8628 §3.2 sends both as whole seconds; a zero interval would invite a busy loop.
  if (client.deviceCodeTtl != null && !isIntegerIn(client.deviceCodeTtl, 1, 86400)) {
    throw new OAuthError('invalid_request', 'device code lifetime must be an integer from 1 to 86400 seconds');
  }
  if (client.devicePollInterval != null && !isIntegerIn(client.devicePollInterval, 1, 600)) {
    throw new OAuthError('invalid_request', 'polling interval must be an integer from 1 to 600 seconds');
  }
}

export function createClientService(deps: {
  clients: ClientRepository;
  /** The live grants of a client, revoked when it is deleted. */
  grants: Pick<ClientGrantRepository, 'activeGrantIds'>;
  tokens: Pick<TokenService, 'revokeGrant'>;
  audit: AuditTrail;
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
  const unknownClient = (id: string) => new NotFoundError(`no client "${id}"`);

  /** One `client.*` event of the trail, for the write it records (never the secret: at most that it changed). */
  function event(type: 'client.created' | 'client.registered' | 'client.updated' | 'client.secret_rotated' | 'client.deleted', client: ClientRecord, context: ClientAuditContext, details: Record<string, string | number | boolean | readonly string[]> = {}) {
    return deps.audit.event({
      type,
      actor: type === 'client.registered' ? { type: 'client', id: client.id } : context.actor,
      userId: client.ownerUserId,
      clientId: client.id,
      ip: context.ip,
      scopes: client.scopes,
      details: { name: client.name, ...details },
    });
  }

  async function known(id: string): Promise<ClientRecord> {
    const client = await deps.clients.get(id);
    if (!client) throw unknownClient(id);
    return client;
  }

  return {
    async create(input, context = {}) {
      const id = input.id ?? newClientId(deps.random);
      const client: ClientRecord = {
        id,
        name: input.name,
        type: input.type,
        secretHash: null,
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
      assertValidClient(client, deps.catalog);
      if (!CLIENT_ID.test(id)) throw new OAuthError('invalid_request', 'client id must be 1 to 128 visible ASCII characters');
      // Hashed only once the rest is known to be good: scrypt costs about 90 ms.
      const clientSecret = input.type === 'confidential' ? newSecret(deps.random, 32) : undefined;
      if (clientSecret) client.secretHash = await hashPassword(clientSecret, deps.random);
      await deps.clients.create(client, event(context.registered ? 'client.registered' : 'client.created', client, context, { clientType: client.type, grantTypes: client.grantTypes }));
      return clientSecret ? { client, clientSecret } : { client };
    },
    get: (id) => deps.clients.get(id),
    list: () => deps.clients.list(),
    async update(id, changes, context = {}) {
      const client = await known(id);
      const defined = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) as ClientChanges;
      const next: ClientRecord = { ...client, ...defined };
      if (defined.grantTypes) next.grantTypes = [...new Set(defined.grantTypes)];
      if (defined.scopes) next.scopes = [...new Set(defined.scopes)];
      if (defined.redirectUris) next.redirectUris = [...new Set(defined.redirectUris)];
      assertValidClient(next, deps.catalog);
      if (!(await deps.clients.update(next, event('client.updated', next, context, { changed: Object.keys(defined) })))) throw unknownClient(id);
      return next;
    },
    async rotateSecret(id, context = {}) {
      const client = await known(id);
      if (client.type !== 'confidential') throw new OAuthError('invalid_request', `client "${id}" is public and has no secret`);
      const clientSecret = newSecret(deps.random, 32);
      const secretHash = await hashPassword(clientSecret, deps.random);
      if (!(await deps.clients.updateSecretHash(id, secretHash, event('client.secret_rotated', client, context)))) throw unknownClient(id);
      // The cache of checked secrets holds the old hash, which no longer matches: the old secret fails at once.
      return { client: { ...client, secretHash }, clientSecret };
    },
    async delete(id, context = {}) {
      const client = await known(id);
      // Revoke first, so push subscribers of this process, and of other PostgreSQL instances
      // (NOTIFY at the revocation's commit), hear "revoked"; the cascade then removes the rows.
      let revokedGrants = 0;
      const { by = 'admin', ...who } = context;
      // Its device codes go with it: one that ran out undecided is in the trail as expired first.
      await deps.audit.recordExpired();
      for (const grantId of await deps.grants.activeGrantIds(id)) if (await deps.tokens.revokeGrant(grantId, { by, ...who })) revokedGrants++;
      if (!(await deps.clients.delete(id, event('client.deleted', client, who, { revokedGrants })))) throw unknownClient(id);
      verified.delete(id);
      return { client, revokedGrants };
    },
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
