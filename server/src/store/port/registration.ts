/** How applications were registered (client profiles) and RFC 7591 initial access tokens: the `registration` repository. */

export type ApplicationKind = 'spa' | 'mobile' | 'cli' | 'tv' | 'server';

/** How an application was registered and what it registered as; `metadata` is the RFC 7591 echo. */
export interface ClientProfileRecord {
  clientId: string;
  kind: ApplicationKind;
  registeredVia: 'apps' | 'register';
  tokenEndpointAuthMethod: string;
  metadata: Record<string, unknown>;
}

/** RFC 7591 §3: an initial access token `kalm iat create` issued (stored only hashed). */
export interface InitialAccessTokenRecord {
  tokenHash: Buffer;
  ownerUserId: string | null;
  createdAt: number;
  expiresAt: number;
  usesLeft: number;
}

export interface RegistrationRepository {
  saveProfile(profile: ClientProfileRecord): Promise<void>;
  getProfile(clientId: string): Promise<ClientProfileRecord | undefined>;
  insertInitialAccessToken(token: InitialAccessTokenRecord): Promise<void>;
  /** A live initial access token (not expired at `now`, uses left), without taking a use. */
  findInitialAccessToken(tokenHash: Buffer, now: number): Promise<InitialAccessTokenRecord | undefined>;
  /** Take one use of a live initial access token; undefined when unknown, expired or used up. */
  useInitialAccessToken(tokenHash: Buffer, now: number): Promise<InitialAccessTokenRecord | undefined>;
}
