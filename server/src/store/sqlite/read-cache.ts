import type Database from 'better-sqlite3';

/**
 * Rows as last read, kept per connection, exact rather than timed.
 *
 * This connection's own writes keep a cache right by dropping what they change (each
 * repository says where); another connection's commit (the CLI, a second process on the same
 * file) is seen through `PRAGMA data_version`, which moves whenever any other connection
 * commits anything, and empties every cache of the connection. At most `maxEntries` are kept;
 * past that the oldest kept goes first.
 *
 * The version is read once per job: the first cache read of an I/O callback, timer or
 * immediate reads it, and the job's later reads (its ticks and promise jobs) go by it. That
 * is as exact as reading it at each: whatever a job answers (a request, a message) had arrived
 * before the job began, so every commit it could have been told of came before that first
 * read. A commit made meanwhile is concurrent with the job, and its next job sees it. The
 * read is two `fcntl` calls (SQLite's read lock): once per request instead of once per cache
 * read was 6 % of a pending poll's CPU.
 *
 * A request handler can go further with `fresh()`: it waits for the check phase of the event
 * loop's turn, where one version read serves every request of the turn that waits. That is
 * exact for the same reason: each waiting request was read from its socket before the check,
 * so every commit it could have been told of came before the version read.
 */
export interface ReadCache<V> {
  /**
   * Undefined when this job has read the version already; else a promise, shared by every
   * caller of this turn, that settles once the version has been read in the turn's check phase
   * (and every cache of the connection emptied if another connection has committed). The
   * caller's reads after it, in the same promise-job drain, go by that read.
   */
  fresh(): Promise<void> | undefined;
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): void;
  clear(): void;
  readonly size: number;
}

interface Caches {
  named: Map<string, NamedCache<unknown>>;
  /** Empty every cache if another connection has committed since the last check of an earlier job. */
  checkVersion(): void;
  /** See `ReadCache.fresh`. */
  fresh(): Promise<void> | undefined;
}

interface NamedCache<V> {
  entries: Map<string, V>;
  maxEntries: number;
}

const connections = new WeakMap<Database.Database, Caches>();

// Taken at load, so that a test which fakes timers cannot stop a job from ending or a turn from
// reaching its check phase.
const beforeNextJob = process.nextTick;
const checkPhase = setImmediate;

function cachesOf(db: Database.Database): Caches {
  let caches = connections.get(db);
  if (!caches) {
    const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    const named = new Map<string, NamedCache<unknown>>();
    let seenVersion = -1;
    let checkedThisJob = false;
    // Node runs a job's ticks and promise jobs before it starts the next job.
    const endOfJob = () => {
      checkedThisJob = false;
    };
    const readVersion = () => {
      const version = dataVersion.get()!;
      if (version === seenVersion) return;
      seenVersion = version;
      for (const cache of named.values()) cache.entries.clear();
    };
    let waiting: { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } | undefined;
    const checkForWaiters = () => {
      const { resolve, reject } = waiting!;
      waiting = undefined;
      try {
        readVersion();
      } catch (err) {
        // A closed connection, say: each waiter's request fails as its own read would have,
        // rather than the immediate throwing the process down.
        reject(err);
        return;
      }
      checkedThisJob = true;
      resolve();
      // The waiters go on in promise jobs queued by resolve(); a tick queued here would run
      // before them, so it is queued from a promise job queued after theirs.
      queueMicrotask(() => beforeNextJob(endOfJob));
    };
    caches = {
      named,
      checkVersion() {
        if (checkedThisJob) return;
        checkedThisJob = true;
        beforeNextJob(endOfJob);
        readVersion();
      },
      fresh() {
        if (checkedThisJob) return undefined;
        if (!waiting) {
          let resolve!: () => void;
          let reject!: (err: unknown) => void;
          const promise = new Promise<void>((res, rej) => {
            resolve = res;
            reject = rej;
          });
          waiting = { promise, resolve, reject };
          checkPhase(checkForWaiters);
        }
        return waiting.promise;
      },
    };
    connections.set(db, caches);
  }
  return caches;
}

/** The cache `name` of `db` (created on first use, holding at most `maxEntries`). */
export function readCache<V>(db: Database.Database, name: string, maxEntries: number): ReadCache<V> {
  const caches = cachesOf(db);
  let cache = caches.named.get(name) as NamedCache<V> | undefined;
  if (!cache) {
    cache = { entries: new Map(), maxEntries };
    caches.named.set(name, cache as NamedCache<unknown>);
  }
  const { entries, maxEntries: bound } = cache;
  return {
    fresh: () => caches.fresh(),
    get(key) {
      caches.checkVersion();
      return entries.get(key);
    },
    set(key, value) {
      if (bound <= 0) return;
      if (!entries.has(key) && entries.size >= bound) entries.delete(entries.keys().next().value!);
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
