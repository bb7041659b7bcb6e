/** RFC 6749 §4.1 authorization codes: the record and the code half of the `authorization` repository (see index.ts). */
import type { GrantRecord } from './grants.js';
import type { RefreshTokenRecord } from './tokens.js';

/** RFC 6749 §4.1.2: an issued authorization code (stored only hashed). */
export interface AuthorizationCodeRecord {
  codeHash: Buffer;
  clientId: string;
  userId: string;
  scopes: string[];
  redirectUri: string;
  /** The authorization request carried redirect_uri, so the token request must too (RFC 6749 §4.1.3). */
  redirectUriGiven: boolean;
  /** RFC 7636 S256 code challenge. */
  codeChallenge: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  /** The grant its redemption created; revoked when the code comes back (RFC 6749 §4.1.2). */
  grantId: string | null;
  /** RFC 9449 §10: the `dpop_jkt` of the authorization request; the token request must prove that key. */
  dpopJkt: string | null;
}

export interface AuthorizationCodeRepository {
  insertCode(code: AuthorizationCodeRecord): Promise<void>;
  getCode(codeHash: Buffer): Promise<AuthorizationCodeRecord | undefined>;
  /**
   * Spend an unused, unexpired code and create its grant and first refresh token, in one
   * transaction. False when the code was already used (or had expired) at `now`.
   */
  redeemCode(codeHash: Buffer, grant: GrantRecord, refreshToken: RefreshTokenRecord | undefined, now: number): Promise<boolean>;
  /** Delete codes that expired before `before`. Returns how many. */
  purgeExpiredCodes(before: number): Promise<number>;
}
