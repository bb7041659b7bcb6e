import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { inject } from 'vitest';
import pg from 'pg';
import { databaseFile } from '../../server/src/store/sqlite/database.js';

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

/**
 * `name` on SQLite, `name-postgres` on PostgreSQL: the name of a file a test leaves behind (a
 * screenshot), since the two projects may run the same test file at the same time.
 */
export function artefactName(name: string): string {
  return testEngine === 'postgres' ? `${name}-postgres` : name;
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

/**
 * The rows of a read-only query on `dataDir`'s database, outside the server (no repository in
 * between): the SQLite file, or its database on the test cluster. `?` marks a parameter on both
 * engines; BIGINT and count(*) come back as numbers on both, as the store reads them.
 */
export async function queryDatabase<Row = Record<string, unknown>>(dataDir: string, sql: string, params: unknown[] = []): Promise<Row[]> {
  const url = databaseUrlFor(dataDir);
  if (!url) {
    const db = new Database(databaseFile(dataDir), { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all(...params) as Row[];
    } finally {
      db.close();
    }
  }
  let n = 0;
  const client = new pg.Client({ connectionString: url, types: { getTypeParser: bigintAsNumber } });
  await client.connect();
  try {
    return (await client.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows as Row[];
  } finally {
    await client.end();
  }
}

const INT8_OID = 20;
const bigintAsNumber = ((oid: number, format?: string) =>
  oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'];

function databaseName(dataDir: string): string {
  return `kalm_${createHash('sha256').update(dataDir).digest('hex').slice(0, 20)}`;
}
