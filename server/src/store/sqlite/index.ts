/** The SQLite engine of the store port: one connection, every repository on it, group commit. */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { DEFAULT_DEVICE_CODE_CACHE_SIZE } from '../../config.js';
import type { StoreEngine } from '../port/index.js';
import { createAttemptRepository } from './attempts.js';
import { createAuditRepository } from './audit.js';
import { createAuthorizationCodeRepository } from './authorization-codes.js';
import { createClientRepository } from './clients.js';
import { createConsentRepository } from './consents.js';
import { databaseFile, openDatabase } from './database.js';
import { createDecisionFeedRepository } from './decision-feed.js';
import { createDeviceCodeRepository } from './device-codes.js';
import { createDpopRepository } from './dpop.js';
import { createDurability, durable } from './durability.js';
import { createClientGrantRepository, createGrantRepository } from './grants.js';
import { createKeyRepository } from './keys.js';
import { createMqttRepository } from './mqtt-bridge.js';
import { createRegistrationRepository } from './registration.js';
import { createSessionRepository } from './sessions.js';
import { createStatsRepository } from './stats.js';
import { createAccessTokenRepository, createRefreshTokenRepository } from './tokens.js';
import { createTurnBatch } from './turn-batch.js';
import { createUserRepository } from './users.js';

/** `kalm migrate` on SQLite: open the database in `dataDir` (which migrates it) and say from which version to which. */
export function migrateSqlite(dataDir: string): { from: number; to: number } {
  const version = (db: Database.Database) => db.pragma('user_version', { simple: true }) as number;
  const file = databaseFile(dataDir);
  let from = 0;
  if (file !== ':memory:' && existsSync(file)) {
    const before = new Database(file, { readonly: true });
    from = version(before);
    before.close();
  }
  const db = openDatabase(dataDir);
  try {
    return { from, to: version(db) };
  } finally {
    db.close();
  }
}

export interface SqliteStoreOptions {
  /** At most this many pending device codes kept in memory (device-codes.ts); 0: none. Default DEFAULT_DEVICE_CODE_CACHE_SIZE. */
  deviceCodeCacheEntries?: number;
}

/**
 * The SQLite implementation of `Store`. Statements are prepared once, here; every
 * repository resolves a write only once it is durable (group commit, durability.ts).
 * `mqtt` is the MQTT bridge's own repository, outside the `Store` core sees.
 */
export function createSqliteStore(dataDir: string, options: SqliteStoreOptions = {}): StoreEngine & { db: Database.Database } {
  const db = openDatabase(dataDir);
  const durability = createDurability(databaseFile(dataDir));
  const turn = createTurnBatch(db);
  const repo = <T extends object>(repository: T): T => durable(db, durability, repository);
  return {
    db,
    clients: repo(createClientRepository(db)),
    users: repo(createUserRepository(db)),
    deviceCodes: repo(createDeviceCodeRepository(db, turn, { cacheEntries: options.deviceCodeCacheEntries ?? DEFAULT_DEVICE_CODE_CACHE_SIZE })),
    grants: repo(createGrantRepository(db)),
    refreshTokens: repo(createRefreshTokenRepository(db, turn)),
    accessTokens: repo(createAccessTokenRepository(db)),
    keys: repo(createKeyRepository(db)),
    sessions: repo(createSessionRepository(db)),
    attempts: repo(createAttemptRepository(db)),
    audit: repo(createAuditRepository(db)),
    // One repository under one name for core: codes, consent and a client's grants.
    authorization: repo({ ...createAuthorizationCodeRepository(db), ...createConsentRepository(db), ...createClientGrantRepository(db) }),
    registration: repo(createRegistrationRepository(db)),
    decisionFeed: repo(createDecisionFeedRepository(db)),
    dpop: repo(createDpopRepository(db)),
    stats: createStatsRepository(db), // read-only: nothing to make durable
    mqtt: repo(createMqttRepository(db, turn)),
    close: () => {
      turn.drain();
      durability.close();
      db.close();
    },
  };
}
