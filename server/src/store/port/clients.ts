/** Registered OAuth clients: the record and the `clients` repository. */
import type { AuditOnWrite } from './audit.js';
import type { SigningAlg } from './keys.js';

export type ClientType = 'public' | 'confidential';

export interface ClientRecord {
  id: string;
  name: string;
  type: ClientType;
  /** scrypt hash of the client secret; null for public clients. */
  secretHash: string | null;
  grantTypes: string[];
  scopes: string[];
  redirectUris: string[];
  /** Per-client override of the device code lifetime, seconds. */
  deviceCodeTtl: number | null;
  /** Per-client override of the polling interval, seconds. */
  devicePollInterval: number | null;
  /** Per-client access token algorithm; null means the server default. */
  accessTokenAlg: SigningAlg | null;
  ownerUserId: string | null;
  createdAt: number;
  /**
   * RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request of this client must carry a
   * DPoP proof (`kalm client create --require-dpop`). Absent means false.
   */
  requireDpop?: boolean;
}

export interface ClientRepository {
  create(client: ClientRecord, audit?: AuditOnWrite): Promise<void>;
  get(id: string): Promise<ClientRecord | undefined>;
  list(): Promise<ClientRecord[]>;
  /** The clients a person registered (on /apps or with their initial access token). */
  listByOwner(ownerUserId: string): Promise<ClientRecord[]>;
  /**
   * Write what an operator may change of a client (name, grant types, scopes, redirect URIs, the
   * device code lifetime and interval, the token algorithm, requireDpop); its id, type, secret,
   * owner and creation time stay. False when there is no such client.
   */
  update(client: ClientRecord, audit?: AuditOnWrite): Promise<boolean>;
  /** Replace a confidential client's secret hash. False when there is no such confidential client. */
  updateSecretHash(id: string, secretHash: string, audit?: AuditOnWrite): Promise<boolean>;
  /** Delete a client; its grants, refresh tokens, codes and consents go with it. False when unknown. */
  delete(id: string, audit?: AuditOnWrite): Promise<boolean>;
}
