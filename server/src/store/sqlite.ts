import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from './migrate.js';
import { createClientRepository, createUserRepository } from './accounts.js';
import { createDecisionFeedRepository } from './decision-feed.js';
import { createDeviceCodeRepository } from './device-codes.js';
import { createAccessTokenRepository, createGrantRepository, createRefreshTokenRepository } from './grants.js';
import { createAuthorizationRepository } from './authorization.js';
import { createKeyRepository } from './keys.js';
import { createRegistrationRepository } from './registration.js';
import { createAttemptRepository, createSessionRepository } from './sessions.js';
import { createDurability, durable } from './durability.js';
import { createMqttRepository } from './mqtt.js';
import type { MqttRepository, Store } from './port/index.js';

export const DATABASE_FILE = 'kalm.sqlite';

/** The database file of `dataDir`, or `:memory:`. */
export function databaseFile(dataDir: string): string {
  return dataDir === ':memory:' ? dataDir : path.join(dataDir, DATABASE_FILE);
}

/** Open (creating if needed) the database in `dataDir`, or in memory for `:memory:`. */
export function openDatabase(dataDir: string): Database.Database {
  if (dataDir !== ':memory:') mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(databaseFile(dataDir));
  db.pragma('journal_mode = WAL');
  // NORMAL: a commit reaches the OS (it survives a kill -9) without an fsync on the event
  // loop; the store's group commit (durability.ts) then fsyncs the WAL before any write is
  // acknowledged, so acknowledged writes also survive a power cut, as with FULL.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

/**
 * The SQLite implementation of `Store`. Statements are prepared once, here; every
 * repository resolves a write only once it is durable (group commit, durability.ts).
 * `mqtt` is the MQTT bridge's own repository, outside the `Store` core sees.
 */
export function createSqliteStore(dataDir: string): Store & { db: Database.Database; mqtt: MqttRepository } {
  const db = openDatabase(dataDir);
  const durability = createDurability(databaseFile(dataDir));
  const repo = <T extends object>(repository: T): T => durable(db, durability, repository);
  return {
    db,
    clients: repo(createClientRepository(db)),
    users: repo(createUserRepository(db)),
    deviceCodes: repo(createDeviceCodeRepository(db)),
    grants: repo(createGrantRepository(db)),
    refreshTokens: repo(createRefreshTokenRepository(db)),
    accessTokens: repo(createAccessTokenRepository(db)),
    keys: repo(createKeyRepository(db)),
    sessions: repo(createSessionRepository(db)),
    attempts: repo(createAttemptRepository(db)),
    authorization: repo(createAuthorizationRepository(db)),
    registration: repo(createRegistrationRepository(db)),
    decisionFeed: repo(createDecisionFeedRepository(db)),
    mqtt: repo(createMqttRepository(db)),
    close: () => {
      durability.close();
      db.close();
    },
  };
}
