import { systemClock, type Clock } from './clock.js';
import { createClientService, type ClientService } from './clients.js';
import { createDeviceFlow, type DeviceFlow } from './device-flow.js';
import { createDeviceEvents, type DeviceEvents } from './events.js';
import { createKeyManager, type KeyManager } from './keys.js';
import { loadScopeCatalog, type ScopeCatalog } from './scopes.js';
import { systemRandom, type RandomSource } from './secrets.js';
import { createTokenService, type TokenService } from './tokens.js';
import { createUserService, type UserService } from './users.js';
import type { Config } from '../config.js';
import type { Store } from '../store/types.js';

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
  deviceFlow: DeviceFlow;
}

export interface CoreOptions {
  config: Config;
  store: Store;
  clock?: Clock;
  random?: RandomSource;
  events?: DeviceEvents;
}

export async function createCore(options: CoreOptions): Promise<Core> {
  const { config, store } = options;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const events = options.events ?? createDeviceEvents();
  const catalog = loadScopeCatalog(config.scopesFile);
  // A retired key stays published as long as a token it signed may still be in use.
  const keys = createKeyManager(store.keys, clock, () => config.accessTokenTtl);
  await keys.ensureKeys();
  const clients = createClientService({ clients: store.clients, catalog, clock, random });
  const users = createUserService({ users: store.users, clock, random });
  const tokens = createTokenService({ store, keys, clock, random, config, events });
  const deviceFlow = createDeviceFlow({ store, clients, tokens, catalog, events, clock, random, config });
  return { config, store, clock, random, catalog, events, keys, clients, users, tokens, deviceFlow };
}

export { OAuthError } from './errors.js';
export type { Clock } from './clock.js';
export type { RandomSource } from './secrets.js';
