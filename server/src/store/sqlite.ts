import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from './migrate.js';
import { createClientRepository, createUserRepository } from './accounts.js';
import { createDeviceCodeRepository } from './device-codes.js';
import { createAccessTokenRepository, createGrantRepository, createRefreshTokenRepository } from './grants.js';
import { createAuthorizationRepository } from './authorization.js';
import { createKeyRepository } from './keys.js';
import { createRegistrationRepository } from './registration.js';
import { createAttemptRepository, createSessionRepository } from './sessions.js';
import type { Store } from './types.js';

export const DATABASE_FILE = 'kalm.sqlite';

/** Open (creating if needed) the database in `dataDir`, or in memory for `:memory:`. */
export function openDatabase(dataDir: string): Database.Database {
  let file = ':memory:';
  if (dataDir !== ':memory:') {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    file = path.join(dataDir, DATABASE_FILE);
  }
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // In WAL mode NORMAL never corrupts the database; FULL also makes every commit
  // survive a power cut, which an authorization server owes the approvals it acknowledged.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

/** The SQLite implementation of `Store`. Statements are prepared once, here. */
export function createSqliteStore(dataDir: string): Store & { db: Database.Database } {
  const db = openDatabase(dataDir);
  return {
    db,
    clients: createClientRepository(db),
    users: createUserRepository(db),
    deviceCodes: createDeviceCodeRepository(db),
    grants: createGrantRepository(db),
    refreshTokens: createRefreshTokenRepository(db),
    accessTokens: createAccessTokenRepository(db),
    keys: createKeyRepository(db),
    sessions: createSessionRepository(db),
    attempts: createAttemptRepository(db),
    authorization: createAuthorizationRepository(db),
    registration: createRegistrationRepository(db),
    close: () => db.close(),
  };
}
