import type Database from 'better-sqlite3';

/**
 * Rows as last read, kept per connection, exact rather than timed.
 *
 * This connection's own writes keep a cache right by dropping what they change (each
 * repository says where); another connection's commit (the CLI, a second process on the same
 * file) is seen through `PRAGMA data_version`, which moves whenever any other connection
 * commits anything, and empties every cache of the connection at its next read. At most
 * `maxEntries` are kept; past that the oldest kept goes first.
 */
export interface ReadCache<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): void;
  clear(): void;
  readonly size: number;
}

interface Caches {
  dataVersion: Database.Statement<[], number>;
  named: Map<string, NamedCache<unknown>>;
}

interface NamedCache<V> {
  entries: Map<string, V>;
  seenVersion: number;
  maxEntries: number;
}

const connections = new WeakMap<Database.Database, Caches>();

function cachesOf(db: Database.Database): Caches {
  let caches = connections.get(db);
  if (!caches) {
    caches = { dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(), named: new Map() };
    connections.set(db, caches);
  }
  return caches;
}

/** The cache `name` of `db` (created on first use, holding at most `maxEntries`). */
export function readCache<V>(db: Database.Database, name: string, maxEntries: number): ReadCache<V> {
  const caches = cachesOf(db);
  let cache = caches.named.get(name) as NamedCache<V> | undefined;
  if (!cache) {
    cache = { entries: new Map(), seenVersion: -1, maxEntries };
    caches.named.set(name, cache as NamedCache<unknown>);
  }
  const { entries } = cache;
  const current = cache;
  return {
    get(key) {
      const version = caches.dataVersion.get()!;
      if (version !== current.seenVersion) {
        entries.clear();
        current.seenVersion = version;
      }
      return entries.get(key);
    },
    set(key, value) {
      if (current.maxEntries <= 0) return;
      if (!entries.has(key) && entries.size >= current.maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(key, value);
    },
    delete: (key) => entries.delete(key),
    clear: () => entries.clear(),
    get size() {
      return entries.size;
    },
  };
}

/** Empty the cache `name` of `db`, if it has one: for writes made outside the repository that owns it. */
export function forgetCached(db: Database.Database, name: string): void {
  cachesOf(db).named.get(name)?.entries.clear();
}
