/** Schema migrations for SQLite: the numbered `migrations/NNN_name.sql` files, tracked by `PRAGMA user_version`. */
import { readdirSync, readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Every `NNN_name.sql` file of `migrations/`, in version order. */
function loadMigrations(): Migration[] {
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
 * Apply every migration newer than the database's `user_version`, each in its own
 * transaction, so a crash mid-way leaves the database at the last whole version.
 * Throws (and changes nothing) when the database is newer than the newest migration: a newer
 * server wrote it, and this one would misread its schema.
 */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const migrations = loadMigrations();
  const newest = migrations.at(-1)?.version ?? 0;
  if (current > newest) throw new Error(newerSchemaMessage(current, newest));
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
