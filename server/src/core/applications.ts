import { GRANT_TYPES, type ClientService } from './clients.js';
import { NotFoundError, OAuthError } from './errors.js';
import { assertValidRedirectUri } from './redirect-uris.js';
import type { RandomSource } from './secrets.js';
import type { ScopeCatalog } from './scopes.js';
import type { TokenService } from './tokens.js';
import type { ApplicationKind, ClientProfileRecord, ClientRecord, Store, UserRecord } from '../store/port/index.js';

export const APPLICATION_KINDS: readonly ApplicationKind[] = ['spa', 'mobile', 'cli', 'tv', 'server'];

/** What a developer registers: on `/apps`, or mapped from RFC 7591 metadata. */
export interface ApplicationInput {
  name: string;
  kind: ApplicationKind;
  redirectUris: string[];
  /** Grant type values as RFC 7591 spells them (the device code URN in full). */
  grantTypes: string[];
  scopes: string[];
}

export interface Application {
  client: ClientRecord;
  profile: ClientProfileRecord | undefined;
}

export interface ApplicationService {
  /** Validate and register; a confidential (server) application's secret is returned here once. */
  create(
    owner: UserRecord | null,
    input: ApplicationInput,
    registration?: { via: ClientProfileRecord['registeredVia']; tokenEndpointAuthMethod?: string; metadata?: Record<string, unknown>; requireDpop?: boolean; ip?: string | null | undefined },
  ): Promise<{ client: ClientRecord; clientSecret?: string }>;
  /** The applications `owner` registered. */
  listOwned(owner: UserRecord): Promise<Application[]>;
  /** A new secret for a confidential application; the old one stops working at once. */
  rotateSecret(owner: UserRecord, clientId: string): Promise<string>;
  /** Delete an application; every grant it holds is revoked first, so paired devices are told. */
  delete(owner: UserRecord, clientId: string): Promise<void>;
  /** Developers and admins may register applications. */
  mayRegister(user: UserRecord): boolean;
}

const MAX_NAME_LENGTH = 100;
const MAX_REDIRECT_URIS = 10;
const KNOWN_GRANTS: readonly string[] = Object.values(GRANT_TYPES);

const metadataError = (description: string) => new OAuthError('invalid_client_metadata', description);

/**
 * RFC 7591 §2 consistency rules, shared by `/apps` and `POST /register`; throws
 * `invalid_client_metadata` or `invalid_redirect_uri`.
 */
export function validateApplication(input: ApplicationInput, catalog: ScopeCatalog): ApplicationInput {
  const name = input.name.trim();
  if (name === '' || name.length > MAX_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(name)) {
    throw metadataError(`the name must be 1 to ${MAX_NAME_LENGTH} printable characters`);
  }
  if (!APPLICATION_KINDS.includes(input.kind)) throw metadataError(`the type must be one of ${APPLICATION_KINDS.join(', ')}`);
  const grantTypes = [...new Set(input.grantTypes)];
  if (grantTypes.length === 0) throw metadataError('choose at least one grant type');
  for (const g of grantTypes) if (!KNOWN_GRANTS.includes(g)) throw metadataError(`unsupported grant type "${g}"`);
  // RFC 6749 §4.4: client credentials are for confidential clients only.
  if (grantTypes.includes(GRANT_TYPES.clientCredentials) && input.kind !== 'server') {
    throw metadataError('client_credentials is only for confidential (server) applications');
  }
  if (grantTypes.includes(GRANT_TYPES.refreshToken) && !grantTypes.some((g) => g === GRANT_TYPES.authorizationCode || g === GRANT_TYPES.deviceCode)) {
    throw metadataError('refresh_token needs authorization_code or the device code grant beside it');
  }
  const redirectUris = [...new Set(input.redirectUris.map((u) => u.trim()).filter(Boolean))];
  if (redirectUris.length > MAX_REDIRECT_URIS) throw metadataError(`at most ${MAX_REDIRECT_URIS} redirect URIs`);
  const native = input.kind === 'mobile' || input.kind === 'cli';
  for (const uri of redirectUris) assertValidRedirectUri(uri, native);
  if (grantTypes.includes(GRANT_TYPES.authorizationCode) && redirectUris.length === 0) {
    throw new OAuthError('invalid_redirect_uri', 'the authorization code flow needs at least one redirect URI');
  }
  const scopes = [...new Set(input.scopes)];
  if (scopes.length === 0) throw metadataError('choose at least one scope');
  for (const s of scopes) if (!catalog.has(s)) throw metadataError(`unknown scope "${s}"`);
  return { name, kind: input.kind, redirectUris, grantTypes, scopes };
}

export function createApplicationService(deps: {
  store: Store;
  clients: ClientService;
  tokens: TokenService;
  catalog: ScopeCatalog;
  random: RandomSource;
}): ApplicationService {
  const { store } = deps;

  const mayRegister = (user: UserRecord) => user.role === 'developer' || user.role === 'admin';

  async function owned(owner: UserRecord, clientId: string): Promise<ClientRecord> {
    const client = await deps.clients.get(clientId);
    // Someone else's application answers like a missing one.
    if (!client || (client.ownerUserId !== owner.id && owner.role !== 'admin')) {
      throw new NotFoundError('no such application');
    }
    return client;
  }

  return {
    mayRegister,
    async create(owner, input, registration = { via: 'apps' }) {
      // An initial access token is the operator's say-so; on /apps the account's role decides.
      if (registration.via === 'apps' && (!owner || !mayRegister(owner))) throw new OAuthError('access_denied', 'only developer and admin accounts register applications');
      const app = validateApplication(input, deps.catalog);
      const { client, clientSecret } = await deps.clients.create({
        name: app.name,
        type: app.kind === 'server' ? 'confidential' : 'public',
        grantTypes: app.grantTypes,
        scopes: app.scopes,
        redirectUris: app.redirectUris,
        ownerUserId: owner?.id ?? null,
        requireDpop: registration.requireDpop ?? false,
      }, registration.via === 'register' ? { registered: true, ip: registration.ip } : { actor: owner ? { type: 'user', id: owner.id, name: owner.username } : undefined });
      await store.registration.saveProfile({
        clientId: client.id,
        kind: app.kind,
        registeredVia: registration.via,
        tokenEndpointAuthMethod: registration.tokenEndpointAuthMethod ?? (client.type === 'public' ? 'none' : 'client_secret_basic'),
        metadata: registration.metadata ?? {},
      });
      return clientSecret ? { client, clientSecret } : { client };
    },
    async listOwned(owner) {
      const clients = await store.clients.listByOwner(owner.id);
      return Promise.all(clients.map(async (client) => ({ client, profile: await store.registration.getProfile(client.id) })));
    },
    async rotateSecret(owner, clientId) {
      const client = await owned(owner, clientId);
      if (client.type !== 'confidential') throw new OAuthError('invalid_request', 'a public application has no secret');
      return (await deps.clients.rotateSecret(client.id, { actor: { type: 'user', id: owner.id, name: owner.username } })).clientSecret;
    },
    async delete(owner, clientId) {
      const client = await owned(owner, clientId);
      // Every grant it holds is revoked first, so paired devices are told; the cascade then removes the rows.
      await deps.clients.delete(client.id, { by: 'app', actor: { type: 'user', id: owner.id, name: owner.username } });
    },
  };
}
