import { systemClock, type Clock } from './clock.js';
import { createClientService, type ClientService } from './clients.js';
import { createApplicationService, type ApplicationService } from './applications.js';
import { createAuthorizationCodeFlow, type AuthorizationCodeFlow } from './authorization-code.js';
import { createClientCredentialsFlow, type ClientCredentialsFlow } from './client-credentials.js';
import { createRegistrationService, type RegistrationService } from './registration.js';
import { createDeviceFlow, type DeviceFlow } from './device-flow.js';
import { createDpopService, type DpopService } from './dpop.js';
import { createDeviceEvents, type DeviceEvents } from './events.js';
import { createCrossProcessEvents, type CrossProcessEvents } from './cross-process.js';
import { createExpiryWatch, type ExpiryWatch } from './expiry.js';
import { createKeyManager, type KeyManager } from './keys.js';
import { loadScopeCatalog, type ScopeCatalog } from './scopes.js';
import { systemRandom, type RandomSource } from './secrets.js';
import { createTokenService, type TokenService } from './tokens.js';
import { createUserService, type UserService } from './users.js';
import { auditedAuthenticator, localAuthenticator, type Authenticator } from './auth.js';
import { createSessionService, type SessionService } from './sessions.js';
import { createAttemptLimiter, type AttemptLimiter } from './attempt-limiter.js';
import { createPairedDevices, type PairedDevices } from './paired-devices.js';
import { createDashboardService, type DashboardService } from './dashboard.js';
import { createAuditTrail, type AuditActor, type AuditTrail } from './audit.js';
import { NO_OBSERVER, type CoreObserver } from './observer.js';
import type { Config } from '../config.js';
import type { Store } from '../store/port/index.js';

/** Every flow of the authorization server, over a store, a clock and a random source. No transport inside. */
export interface Core {
  config: Config;
  store: Store;
  clock: Clock;
  random: RandomSource;
  catalog: ScopeCatalog;
  events: DeviceEvents;
  keys: KeyManager;
  clients: ClientService;
  users: UserService;
  tokens: TokenService;
  /** RFC 9449 DPoP: proof checks (jti replay in the store) and server nonces. */
  dpop: DpopService;
  deviceFlow: DeviceFlow;
  /** RFC 6749 §4.1 with RFC 7636 PKCE (S256 only). */
  authorizationCode: AuthorizationCodeFlow;
  /** RFC 6749 §4.4. */
  clientCredentials: ClientCredentialsFlow;
  /** Applications developers register on /apps. */
  applications: ApplicationService;
  /** RFC 7591 dynamic registration and its initial access tokens. */
  registration: RegistrationService;
  /** How people sign in on the pages; local scrypt accounts unless an operator plugs in another. */
  authenticator: Authenticator;
  /** Browser sessions of the pages (stored hashed). */
  sessions: SessionService;
  /** Brute-force limiter of user code entry and sign-in (RFC 8628 §5.1). */
  attempts: AttemptLimiter;
  /** "My devices": a person's device grants. */
  pairedDevices: PairedDevices;
  /** Publishes `expired` for the device codes a transport is holding a waiting device for. */
  expiry: ExpiryWatch;
  /** Decisions of other server processes on the same database, published on `events`. */
  crossProcess: CrossProcessEvents;
  /** The audit trail: the flows record who did what, when, from where; `recent()` reads it back. */
  audit: AuditTrail;
  /** What the admin dashboard shows: device flows counted by the store's `stats`. */
  dashboard: DashboardService;
}

export interface CoreOptions {
  config: Config;
  store: Store;
  clock?: Clock;
  random?: RandomSource;
  events?: DeviceEvents;
  /** Replaces the local-account sign-in (see core/auth.ts). */
  authenticator?: Authenticator;
  /** The audit trail's default actor (`cli` in `kalm`; the server itself otherwise). */
  audit?: { actor?: AuditActor };
  /** Told of what the flows do that has no event of its own (the metrics); default nobody. */
  observer?: CoreObserver;
}

export async function createCore(options: CoreOptions): Promise<Core> {
  const { config, store } = options;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const events = options.events ?? createDeviceEvents();
  const observer = options.observer ?? NO_OBSERVER;
  const catalog = loadScopeCatalog(config.scopesFile);
  const audit = createAuditTrail({ audit: store.audit, clock, retentionDays: () => config.auditRetentionDays, ...options.audit });
  // A retired key stays published as long as a token it signed may still be in use.
  const keys = createKeyManager(store.keys, clock, () => config.accessTokenTtl, { audit });
  await keys.ensureKeys();
  const tokens = createTokenService({ store, keys, clock, random, config, events, audit, observer });
  // Deleting a client or an account revokes its grants first, so its paired devices are told.
  const clients = createClientService({ audit, clients: store.clients, grants: store.authorization, tokens, catalog, clock, random });
  const users = createUserService({ users: store.users, grants: store.grants, tokens, clock, random });
  const dpop = createDpopService({ store, clock, random, config });
  const deviceFlow = createDeviceFlow({ audit, store, clients, tokens, catalog, events, clock, random, config, observer });
  const authorizationCode = createAuthorizationCodeFlow({ store, clients, tokens, catalog, clock, random, config });
  const clientCredentials = createClientCredentialsFlow({ store, tokens, catalog, clock, random, config });
  const applications = createApplicationService({ store, clients, tokens, catalog, random });
  const registration = createRegistrationService({ store, applications, catalog, clock, random });
  const expiry = createExpiryWatch({ deviceCodes: store.deviceCodes, events, clock });
  const crossProcess = await createCrossProcessEvents({ feed: store.decisionFeed, events });
  // Every sign-in goes to the audit trail, whichever authenticator checks it.
  const authenticator = auditedAuthenticator(options.authenticator ?? localAuthenticator(users), { audit, users });
  const sessions = createSessionService({ sessions: store.sessions, clock, random });
  const attempts = createAttemptLimiter({ attempts: store.attempts, clock, observer });
  const pairedDevices = createPairedDevices({ grants: store.grants, users: store.users, clients, tokens });
  const dashboard = createDashboardService({ stats: store.stats, clock, attemptPolicy: attempts.policy });
  return { config, store, clock, random, catalog, audit, events, keys, clients, users, tokens, dpop, deviceFlow, authorizationCode, clientCredentials, applications, registration, expiry, crossProcess, authenticator, sessions, attempts, pairedDevices, dashboard };
}

export { OAuthError } from './errors.js';
export type { AuditActor, AuditContext, AuditTrail } from './audit.js';
export type { Clock } from './clock.js';
export type { CoreObserver } from './observer.js';
export type { RandomSource } from './secrets.js';
