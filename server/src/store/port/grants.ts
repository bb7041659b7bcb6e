/**
 * Grants: the record, the `grants` repository (one grant by id, a person's paired devices),
 * and the questions about a client's grants that the authorization code and client
 * credentials flows ask (part of the `authorization` repository, see index.ts).
 */
import type { AuditOnWrite } from './audit.js';

/** A grant: what one person (or client) allowed one client; the family every refresh token descends from. */
export interface GrantRecord {
  id: string;
  clientId: string;
  /** null for grants without a person (client credentials). */
  userId: string | null;
  scopes: string[];
  /** The grant type that created it: `urn:ietf:params:oauth:grant-type:device_code`, `authorization_code`, … */
  origin: string;
  /** A name the person gave the paired device. */
  deviceName: string | null;
  requestIp: string | null;
  requestUserAgent: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
  /**
   * RFC 9449 §5.0: the JWK thumbprint (RFC 7638) the grant's refresh tokens are bound to; a
   * refresh must carry a DPoP proof of that key. Set only for public clients (a confidential
   * client's refresh tokens are bound by its authentication); null when unbound.
   */
  dpopJkt: string | null;
}

export interface GrantRepository {
  get(id: string): Promise<GrantRecord | undefined>;
  listByUser(userId: string): Promise<GrantRecord[]>;
  /**
   * Grants not revoked that `origin` created (the device code grant URN for paired devices),
   * newest first, of one user and/or one client when given (the operator's device list).
   */
  listLive(filter: { origin: string; userId?: string; clientId?: string }): Promise<GrantRecord[]>;
  /** Revoke a grant and with it every refresh token of its family. False when it was already revoked. */
  revoke(id: string, now: number, audit?: AuditOnWrite): Promise<boolean>;
  rename(id: string, deviceName: string): Promise<void>;
}

export interface ClientGrantRepository {
  /** True when `userId` holds a grant for `clientId` that is not revoked. */
  hasActiveGrant(userId: string, clientId: string): Promise<boolean>;
  /** Ids of every grant of `clientId` that is not revoked. */
  activeGrantIds(clientId: string): Promise<string[]>;
  /**
   * Record the grant behind a client credentials access token, and drop the client's
   * earlier ones created before `purgeCreatedBefore` (their tokens have expired).
   */
  insertClientCredentialsGrant(grant: GrantRecord, purgeCreatedBefore: number): Promise<void>;
}
