// Schema migrations of both engines: numbered alike, applied once even when several instances
// start at once on an empty database, and a database newer than the server refused.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { aClient, forEachEngine } from './engines.js';

const migrationFiles = (engine: 'sqlite' | 'postgres') =>
  readdirSync(new URL(`../../server/src/store/${engine}/migrations/`, import.meta.url))
    .filter((f) => f.endsWith('.sql'))
    .sort();
const NEWEST = Math.max(...migrationFiles('sqlite').map((f) => Number(f.slice(0, 3))));

describe('migration files', () => {
  it('are numbered and named alike on both engines, 001 to the newest without a gap', () => {
    const sqlite = migrationFiles('sqlite');
    expect(migrationFiles('postgres')).toEqual(sqlite);
    expect(sqlite.map((f) => Number(f.slice(0, 3)))).toEqual(Array.from({ length: NEWEST }, (_, i) => i + 1));
    expect(NEWEST).toBeGreaterThanOrEqual(8);
  });
});

forEachEngine((engine) => {
  describe('migrations', () => {
    it('bring an empty database to the newest version, and a second run changes nothing', async () => {
      const location = await engine.location();
      expect(await engine.migrate(location)).toEqual({ from: 0, to: NEWEST });
      expect(await engine.schemaVersion(location)).toBe(NEWEST);
      expect(await engine.migrate(location)).toEqual({ from: NEWEST, to: NEWEST });
      const store = await engine.openAt(location);
      const client = aClient();
      await store.clients.create(client);
      expect(await store.clients.get(client.id)).toEqual(client);
    });

    it('run once when several instances start at once on an empty database', async () => {
      const location = await engine.location();
      const stores = await Promise.all(Array.from({ length: 5 }, () => engine.openAt(location)));
      expect(await engine.schemaVersion(location)).toBe(NEWEST);
      // Each sees the others' writes: one schema, not five.
      const client = aClient();
      await stores[0]!.clients.create(client);
      for (const store of stores) expect((await store.clients.get(client.id))!.id).toBe(client.id);
    });

    it('refuse a database newer than the server, at start and in kalm migrate, and leave it alone', async () => {
      const location = await engine.location();
      await engine.migrate(location);
      await engine.setSchemaVersion(location, 99);
      const message = `database schema is version 99, newer than this server (${NEWEST}); upgrade the server`;
      await expect(engine.openAt(location)).rejects.toThrow(message);
      await expect(engine.migrate(location)).rejects.toThrow(message);
      expect(await engine.schemaVersion(location)).toBe(99);
    });

    it('keep what a store wrote across a restart', async () => {
      const location = await engine.location();
      const first = await engine.openAt(location);
      const client = aClient();
      await first.clients.create(client);
      await first.close();
      const second = await engine.openAt(location);
      expect(await second.clients.get(client.id)).toEqual(client);
    });
  });
});
