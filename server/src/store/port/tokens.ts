/** Refresh tokens (stored only hashed) and revoked access tokens: the `refreshTokens` and `accessTokens` repositories. */
import type { AuditOnWrite } from './audit.js';
import type { GrantRecord } from './grants.js';

export interface RefreshTokenRecord {
  tokenHash: Buffer;
  grantId: string;
  clientId: string;
  createdAt: number;
  expiresAt: number;
  /** Set when the token was rotated; presenting it again is reuse. */
  usedAt: number | null;
}

/** A refresh token with its grant (the family) and whether the grant's person is disabled. */
export interface RefreshTokenWithGrant {
  token: RefreshTokenRecord;
  grant: GrantRecord;
  /** The grant's person is disabled (`kalm user disable`); false for a client's own grant. */
  accountDisabled: boolean;
}

export interface RefreshTokenRepository {
  getByHash(tokenHash: Buffer): Promise<RefreshTokenRecord | undefined>;
  /** The token, its grant and its person's state in one read: what a refresh, revocation or introspection needs first. */
  getWithGrant(tokenHash: Buffer): Promise<RefreshTokenWithGrant | undefined>;
  /**
   * Rotate: mark `oldHash` used and insert `next`, atomically, only if the old one
   * was unused and its grant not revoked. False otherwise (reuse or revoked).
   */
  rotate(oldHash: Buffer, next: RefreshTokenRecord, now: number, audit?: AuditOnWrite): Promise<boolean>;
}

export interface AccessTokenRepository {
  /** Remember that the access token `jti` is revoked until it would have expired anyway. */
  revoke(jti: string, expiresAt: number): Promise<void>;
  isRevoked(jti: string): Promise<boolean>;
}
