/**
 * The storage port: the interface `core/` talks to, whichever engine implements it
 * (today `store/sqlite/`). Every method is atomic on its own (multi-step changes are one
 * method, run in one transaction), and async, so a networked database can implement it
 * later without touching `core/`. Times are milliseconds since the epoch; secrets arrive
 * here already hashed. Types only: one file per concept, re-exported here.
 */
import type { AccessTokenRepository, RefreshTokenRepository } from './tokens.js';
import type { AttemptRepository } from './attempts.js';
import type { AuditRepository } from './audit.js';
import type { AuthorizationCodeRepository } from './authorization-codes.js';
import type { ClientGrantRepository, GrantRepository } from './grants.js';
import type { ClientRepository } from './clients.js';
import type { ConsentRepository } from './consents.js';
import type { DecisionFeedRepository } from './decision-feed.js';
import type { DeviceCodeRepository, PollPacingRepository } from './device-codes.js';
import type { DpopRepository } from './dpop.js';
import type { KeyRepository } from './keys.js';
import type { MqttRepository } from './mqtt-bridge.js';
import type { RegistrationRepository } from './registration.js';
import type { SessionRepository } from './sessions.js';
import type { StatsRepository } from './stats.js';
import type { UserRepository } from './users.js';

export type * from './attempts.js';
export type * from './audit.js';
export type * from './authorization-codes.js';
export type * from './clients.js';
export type * from './consents.js';
export type * from './decision-feed.js';
export type * from './device-codes.js';
export type * from './dpop.js';
export type * from './grants.js';
export type * from './keys.js';
export type * from './mqtt-bridge.js';
export type * from './registration.js';
export type * from './sessions.js';
export type * from './stats.js';
export type * from './tokens.js';
export type * from './users.js';

/**
 * What the authorization code and client credentials flows keep: authorization codes,
 * remembered consent and the grants of a client, under one name (`store.authorization`).
 */
export interface AuthorizationRepository extends AuthorizationCodeRepository, ConsentRepository, ClientGrantRepository {}

export interface Store {
  clients: ClientRepository;
  users: UserRepository;
  deviceCodes: DeviceCodeRepository;
  grants: GrantRepository;
  refreshTokens: RefreshTokenRepository;
  accessTokens: AccessTokenRepository;
  keys: KeyRepository;
  sessions: SessionRepository;
  attempts: AttemptRepository;
  /** The append-only audit trail: who did what, when, from which address. */
  audit: AuditRepository;
  authorization: AuthorizationRepository;
  registration: RegistrationRepository;
  decisionFeed: DecisionFeedRepository;
  /** RFC 9449: DPoP proofs seen and the nonce secret. */
  dpop: DpopRepository;
  /** Poll pacing shared across instances; absent: core paces in memory (see PollPacingRepository). */
  pollPacing?: PollPacingRepository;
  /** Aggregates of the admin dashboard (read-only). */
  stats: StatsRepository;
  close(): Promise<void> | void;
}

/**
 * What an engine hands the composition points (`server.ts`, `cli.ts`): the `Store` core
 * sees, plus the MQTT bridge's own repository, which core never touches.
 */
export interface StoreEngine extends Store {
  mqtt: MqttRepository;
}
