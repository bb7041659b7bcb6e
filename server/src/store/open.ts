/**
 * The one place an engine is chosen: PostgreSQL when `DATABASE_URL` is set (several instances
 * may share it), else SQLite in `DATA_DIR` (one machine, the embedded default). Only the
 * composition points (`server.ts`, `cli.ts`) call it; everything else sees the port.
 */
import type { Config } from '../config.js';
import type { StoreEngine } from './port/index.js';

export interface OpenStoreOptions {
  /** Failures of the engine that no request is waiting for (a dropped idle connection). */
  onError?: (err: unknown) => void;
}

/** Open (creating and migrating if needed) the store the configuration names. */
export async function openStore(
  config: Pick<Config, 'dataDir' | 'deviceCodeCacheSize' | 'databaseUrl' | 'databasePoolMax'>,
  options: OpenStoreOptions = {},
): Promise<StoreEngine> {
  if (config.databaseUrl) {
    // Loaded only here: a SQLite server never loads the PostgreSQL driver.
    const { createPostgresStore } = await import('./postgres/index.js');
    return createPostgresStore({ url: config.databaseUrl, poolMax: config.databasePoolMax, onError: options.onError });
  }
  const { createSqliteStore } = await import('./sqlite/index.js');
  return createSqliteStore(config.dataDir, { deviceCodeCacheEntries: config.deviceCodeCacheSize });
}

/** Apply the migrations of the configured engine and nothing else (`kalm migrate`). */
export async function migrateStore(config: Pick<Config, 'dataDir' | 'databaseUrl'>): Promise<{ engine: 'postgresql' | 'sqlite'; from: number; to: number }> {
  if (config.databaseUrl) {
    const { migratePostgres } = await import('./postgres/index.js');
    return { engine: 'postgresql', ...(await migratePostgres(config.databaseUrl)) };
  }
  const { migrateSqlite } = await import('./sqlite/index.js');
  return { engine: 'sqlite', ...migrateSqlite(config.dataDir) };
}
