/**
 * The PostgreSQL engine of the store port: one pool per instance, migrations at start under an
 * advisory lock, every repository on the pool. Several instances on one database keep every
 * invariant through the database itself (conditional UPDATEs, ON CONFLICT, row locks), share
 * poll pacing (`pollPacing`) and hear each other's decisions by LISTEN/NOTIFY (`decisionFeed`).
 */
import type pg from 'pg';
import type { DecisionFeedRepository, StoreEngine } from '../port/index.js';
import { createAttemptRepository } from './attempts.js';
import { createAuditRepository } from './audit.js';
import { createAuthorizationCodeRepository } from './authorization-codes.js';
import { createClientRepository } from './clients.js';
import { createConsentRepository } from './consents.js';
import { closeDatabase, openDatabase, type Db } from './database.js';
import { createDecisionFeedRepository } from './decision-feed.js';
import { createDeviceCodeRepository, createPollPacingRepository } from './device-codes.js';
import { createDpopRepository } from './dpop.js';
import { createClientGrantRepository, createGrantRepository } from './grants.js';
import { createKeyRepository } from './keys.js';
import { migrate } from './migrate.js';
import { createMqttRepository } from './mqtt-bridge.js';
import { createRegistrationRepository } from './registration.js';
import { createSessionRepository } from './sessions.js';
import { createStatsRepository } from './stats.js';
import { createAccessTokenRepository, createRefreshTokenRepository } from './tokens.js';
import { createUserRepository } from './users.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database`; TLS from its `sslmode`. Never logged. */
  url: string;
  /** Connections in the pool (`DATABASE_POOL_MAX`, default 10). */
  poolMax?: number;
  /** Failures no request waits for: an idle connection dropped, the listening connection lost. */
  onError?: (err: unknown) => void;
}

/**
 * Connect, migrate (under the advisory lock: instances starting at once migrate once; a
 * database newer than this server refuses to start) and build every repository. `close()`
 * stops any listening connection and ends the pool.
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<StoreEngine & { pool: pg.Pool }> {
  const db = openDatabase(options);
  try {
    await migrate(db.pool);
  } catch (err) {
    await closeDatabase(db).catch(() => {});
    throw err;
  }
  const { feed, stopListening } = trackedFeed(db);
  return {
    pool: db.pool,
    clients: createClientRepository(db),
    users: createUserRepository(db),
    deviceCodes: createDeviceCodeRepository(db),
    grants: createGrantRepository(db),
    refreshTokens: createRefreshTokenRepository(db),
    accessTokens: createAccessTokenRepository(db),
    keys: createKeyRepository(db),
    sessions: createSessionRepository(db),
    attempts: createAttemptRepository(db),
    audit: createAuditRepository(db),
    // One repository under one name for core: codes, consent and a client's grants.
    authorization: { ...createAuthorizationCodeRepository(db), ...createConsentRepository(db), ...createClientGrantRepository(db) },
    registration: createRegistrationRepository(db),
    decisionFeed: feed,
    dpop: createDpopRepository(db),
    pollPacing: createPollPacingRepository(db),
    stats: createStatsRepository(db),
    mqtt: createMqttRepository(db),
    async close() {
      await stopListening();
      await closeDatabase(db);
    },
  };
}

/** The decision feed, with every listener it starts remembered, so that `close()` stops them too. */
function trackedFeed(db: Db): { feed: DecisionFeedRepository; stopListening: () => Promise<void> } {
  const feed = createDecisionFeedRepository(db);
  const stops = new Set<() => Promise<void>>();
  const listen = feed.listen?.bind(feed);
  return {
    feed: {
      ...feed,
      ...(listen && {
        async listen(handlers) {
          const stop = await listen(handlers);
          const once = async () => {
            stops.delete(once);
            await stop();
          };
          stops.add(once);
          return once;
        },
      }),
    },
    stopListening: async () => {
      await Promise.all([...stops].map((stop) => stop()));
    },
  };
}

/** `kalm migrate` on PostgreSQL: apply the migrations (under the advisory lock) and nothing else. */
export async function migratePostgres(url: string): Promise<{ from: number; to: number }> {
  const db = openDatabase({ url, poolMax: 1 });
  try {
    return await migrate(db.pool);
  } finally {
    await closeDatabase(db);
  }
}
