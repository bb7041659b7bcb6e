/**
 * Schema migrations for PostgreSQL: the numbered `migrations/NNN_name.sql` files (numbered as
 * SQLite's, each its PostgreSQL equivalent), tracked in the one-row table `kalm_schema`.
 * Several instances starting at once on an empty database migrate exactly once: the whole run
 * holds a session advisory lock, and each migration commits in its own transaction with the
 * version it reaches.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';
import { mapError } from './database.js';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

/** The advisory lock every instance takes to migrate: 'kalm' in ASCII. */
export const MIGRATION_LOCK_KEY = 0x6b616c6d;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Every `NNN_name.sql` file of `migrations/`, in version order. */
export function loadMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .map((file) => /^(\d+)_(.+)\.sql$/.exec(file))
    .filter((m): m is RegExpExecArray => m !== null)
    .map(([file, version, name]) => ({
      version: Number(version),
      name: name!,
      sql: readFileSync(new URL(file!, MIGRATIONS_DIR), 'utf8'),
    }))
    .sort((a, b) => a.version - b.version);
}

/** The refusal of a database that a newer server already migrated (the same words on both engines). */
export function newerSchemaMessage(version: number, newest: number): string {
  return `database schema is version ${version}, newer than this server (${newest}); upgrade the server`;
}

/**
 * Apply every migration newer than the database's version, under the advisory lock, each in
 * its own transaction, so a crash mid-way leaves the database at the last whole version.
 * Throws (and changes nothing) when the database is newer than the newest migration.
 */
export async function migrate(pool: pg.Pool): Promise<{ from: number; to: number }> {
  const migrations = loadMigrations();
  const newest = migrations.at(-1)?.version ?? 0;
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw mapError(err);
  }
  let broken: Error | undefined;
  const onClientError = (err: Error) => {
    broken = err;
  };
  client.on('error', onClientError);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query('CREATE TABLE IF NOT EXISTS kalm_schema (version INTEGER NOT NULL)');
      await client.query('INSERT INTO kalm_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM kalm_schema)');
      const { rows } = await client.query<{ version: number }>('SELECT max(version) AS version FROM kalm_schema');
      const from = rows[0]?.version ?? 0;
      if (from > newest) throw new Error(newerSchemaMessage(from, newest));
      let to = from;
      for (const m of migrations) {
        if (m.version <= from) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('UPDATE kalm_schema SET version = $1', [m.version]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw err instanceof Error ? Object.assign(err, { message: `migration ${m.version}_${m.name}: ${err.message}` }) : err;
        }
        to = m.version;
      }
      return { from, to };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch((err: Error) => {
        broken = err;
      });
    }
  } catch (err) {
    broken ??= err instanceof Error && mapError(err) !== err ? err : undefined;
    throw mapError(err);
  } finally {
    client.off('error', onClientError);
    // A client whose unlock failed is closed, which releases the session lock with it.
    client.release(broken);
  }
}
