import { createHash } from 'node:crypto';
import { inject } from 'vitest';
import pg from 'pg';

/**
 * Which store engine the black-box tests run on. The `postgres` project of vitest.config.ts runs
 * the same HTTP, pages, push and MQTT test files again with `KALM_TEST_ENGINE=postgres`, on the
 * private cluster its global setup started (test/postgres-setup.ts): every server a test starts
 * then gets a database of its own, named after its data dir, so a test that restarts a server or
 * runs the CLI "on the same data dir" reaches the same database, as it reaches the same file on SQLite.
 */
export const testEngine: 'sqlite' | 'postgres' = process.env.KALM_TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the private cluster's maintenance database (`…/postgres`), in the postgres project. */
    kalmPostgresUrl: string;
  }
}

/** The database that stands for `dataDir` on the test cluster (postgres project only). */
export function databaseUrlFor(dataDir: string): string | undefined {
  if (testEngine !== 'postgres') return undefined;
  const url = new URL(inject('kalmPostgresUrl'));
  url.pathname = `/${databaseName(dataDir)}`;
  return url.href;
}

/** Create the database of `dataDir` unless it exists; its URL, or undefined on SQLite. */
export async function ensureDatabaseFor(dataDir: string): Promise<string | undefined> {
  const url = databaseUrlFor(dataDir);
  if (!url) return undefined;
  const client = new pg.Client({ connectionString: inject('kalmPostgresUrl') });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${databaseName(dataDir)}"`);
  } catch (err) {
    // 42P04 duplicate_database: a restart on the same data dir.
    if ((err as { code?: string }).code !== '42P04') throw err;
  } finally {
    await client.end();
  }
  return url;
}

/** The environment of a `kalm` child process on `dataDir`'s database. */
export function engineEnv(dataDir: string): Record<string, string> {
  const url = databaseUrlFor(dataDir);
  return url ? { DATA_DIR: dataDir, DATABASE_URL: url } : { DATA_DIR: dataDir };
}

function databaseName(dataDir: string): string {
  return `kalm_${createHash('sha256').update(dataDir).digest('hex').slice(0, 20)}`;
}
