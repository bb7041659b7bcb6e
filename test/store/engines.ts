/**
 * The store contract tests run the same cases on both engines: `forEachEngine((engine) => …)`
 * declares the file's cases once per engine, in a `describe` named after it. Each `open()`
 * gives a fresh, migrated, empty store (SQLite in a temp dir, PostgreSQL on a database of its
 * own: new, or one an earlier test of the file used, emptied);
 * `instances(n)` gives n stores on one fresh database (n server instances: n pools on
 * PostgreSQL, n connections to one file on SQLite), for the cross-instance races. Every store
 * opened in a test is closed after it. PostgreSQL runs on one private cluster per test file,
 * started before its first case and removed after its last.
 *
 * Also here: builders of valid records (`aClient`, `aUser`, `aGrant`, …) so that a test says
 * only what matters to it, and `seed` helpers that insert the rows a record depends on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe } from 'vitest';
import type {
  AuthorizationCodeRecord,
  ClientRecord,
  GrantRecord,
  NewDeviceCode,
  RefreshTokenRecord,
  StoreEngine,
  UserRecord,
} from '../../server/src/store/port/index.js';
import { createSqliteStore } from '../../server/src/store/sqlite/index.js';
import { startPostgres, type PrivatePostgres } from '../helpers/postgres.js';

export type EngineName = 'sqlite' | 'postgres';

export interface TestEngine {
  readonly name: EngineName;
  /** A fresh store on a fresh, empty database, migrated. */
  open(): Promise<StoreEngine>;
  /** `n` stores on one fresh database: `n` server instances sharing it. */
  instances(n: number): Promise<StoreEngine[]>;
  /** A fresh, empty database (a temp dir on SQLite, a database URL on PostgreSQL), nothing in it. */
  location(): Promise<string>;
  /** Open a store on `location` (migrating it first, as the server does at start); `onError` as the server gives it (PostgreSQL). */
  openAt(location: string, options?: { onError?: (err: unknown) => void }): Promise<StoreEngine>;
  /** Apply the migrations alone (`kalm migrate`). */
  migrate(location: string): Promise<{ from: number; to: number }>;
  /** The schema version recorded in `location` (kalm_schema / PRAGMA user_version). */
  schemaVersion(location: string): Promise<number>;
  /** Record `version` as the schema version of `location`, as a newer server would have left it. */
  setSchemaVersion(location: string, version: number): Promise<void>;
  /** PostgreSQL: stop and start the file's cluster (connections are cut; data kept). */
  server?: { stop(): Promise<void>; start(): Promise<void> };
}

/** Declare the cases of `cases` once per engine: `describe('sqlite')` and `describe('postgres')`. */
export function forEachEngine(cases: (engine: TestEngine) => void, only?: EngineName[]): void {
  for (const name of only ?? (['sqlite', 'postgres'] as const)) {
    describe(name, () => {
      const engine = name === 'sqlite' ? sqliteEngine() : postgresEngine();
      cases(engine);
    });
  }
}

// Stores opened in the running test: closed after it.
const opened: StoreEngine[] = [];
afterEach(async () => {
  const stores = opened.splice(0);
  await Promise.all(stores.map((s) => s.close()));
});

/** Remember `store` to close after the test; its `close` becomes safe to call twice (a test may close it itself). */
function track(store: StoreEngine): StoreEngine {
  const close = store.close.bind(store);
  let closing: Promise<void> | undefined;
  store.close = () => (closing ??= Promise.resolve(close()));
  opened.push(store);
  return store;
}

function sqliteEngine(): TestEngine {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const location = async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kalm-store-'));
    dirs.push(dir);
    return dir;
  };
  const openAt = async (dir: string) => track(createSqliteStore(dir));
  const file = (dir: string) => path.join(dir, 'kalm.sqlite');
  return {
    name: 'sqlite',
    location,
    openAt,
    open: async () => openAt(await location()),
    async instances(n) {
      const dir = await location();
      const stores: StoreEngine[] = [];
      for (let i = 0; i < n; i++) stores.push(await openAt(dir));
      return stores;
    },
    async migrate(dir) {
      const { migrateSqlite } = await import('../../server/src/store/sqlite/index.js');
      return migrateSqlite(dir);
    },
    async schemaVersion(dir) {
      const db = new Database(file(dir), { readonly: true });
      try {
        return db.pragma('user_version', { simple: true }) as number;
      } finally {
        db.close();
      }
    },
    async setSchemaVersion(dir, version) {
      const db = new Database(file(dir));
      try {
        db.pragma(`user_version = ${Number(version)}`);
      } finally {
        db.close();
      }
    },
  };
}

// One cluster per test file, shared by every `describe('postgres')` in it.
let cluster: Promise<PrivatePostgres> | undefined;
let clusterUsers = 0;

// Migrated databases of this file, recycled between tests: CREATE DATABASE costs about a second
// here (and migrating half of one), emptying one costs a few ms. A test takes a free one (or a
// new one) for each `open()`/`instances()`, gets it emptied first, and gives it back after.
const freeDatabases: string[] = [];
const takenDatabases: string[] = [];
afterEach(() => {
  freeDatabases.push(...takenDatabases.splice(0));
});

/** Every table of the schema but `kalm_schema` emptied, ids restarted: as freshly migrated. */
async function emptyDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      "SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'kalm_schema'",
    );
    if (rows.length > 0) await client.query(`TRUNCATE ${rows.map((r) => r.name).join(', ')} RESTART IDENTITY CASCADE`);
  } finally {
    await client.end();
  }
}

function postgresEngine(): TestEngine {
  clusterUsers++;
  beforeAll(async () => {
    cluster ??= startPostgres();
    await cluster;
  });
  afterAll(async () => {
    if (--clusterUsers > 0 || !cluster) return;
    const running = cluster;
    cluster = undefined;
    freeDatabases.length = 0;
    await (await running).dispose();
  });
  const location = async () => (await cluster!).createDatabase();
  const openAt = async (url: string, options: { onError?: (err: unknown) => void } = {}) => {
    const { createPostgresStore } = await import('../../server/src/store/postgres/index.js');
    return track(await createPostgresStore({ url, poolMax: 4, ...options }));
  };
  /** A migrated, empty database for this test alone. */
  const freshDatabase = async () => {
    const recycled = freeDatabases.pop();
    const url = recycled ?? (await location());
    takenDatabases.push(url);
    if (recycled) await emptyDatabase(url);
    return url;
  };
  const withClient = async <T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    name: 'postgres',
    location,
    openAt,
    server: {
      stop: async () => (await cluster!).stop(),
      start: async () => (await cluster!).start(),
    },
    open: async () => openAt(await freshDatabase()),
    async instances(n) {
      const url = await freshDatabase();
      // The first migrates; the others find the schema current (several at once is the migration test's case).
      const stores = [await openAt(url)];
      for (let i = 1; i < n; i++) stores.push(await openAt(url));
      return stores;
    },
    async migrate(url) {
      const { migratePostgres } = await import('../../server/src/store/postgres/index.js');
      return migratePostgres(url);
    },
    schemaVersion: (url) =>
      withClient(url, async (client) => {
        const { rows } = await client.query<{ version: number }>('SELECT max(version)::int AS version FROM kalm_schema');
        return rows[0]?.version ?? 0;
      }),
    setSchemaVersion: (url, version) =>
      withClient(url, async (client) => {
        await client.query('CREATE TABLE IF NOT EXISTS kalm_schema (version INTEGER NOT NULL)');
        await client.query('DELETE FROM kalm_schema');
        await client.query('INSERT INTO kalm_schema (version) VALUES ($1)', [version]);
      }),
  };
}

// ---- records ---------------------------------------------------------------------------

/** A fixed instant the tests count from (ms). */
export const T0 = Date.UTC(2026, 0, 1);

let serial = 0;
/** A short unique suffix for ids within one test run. */
export function unique(prefix = 'x'): string {
  return `${prefix}-${process.pid}-${++serial}`;
}

/** SHA-256 of `value`, as the store receives secrets. */
export function hash(value: string = randomBytes(16).toString('hex')): Buffer {
  return createHash('sha256').update(value).digest();
}

export function aClient(overrides: Partial<ClientRecord> = {}): ClientRecord {
  return {
    id: unique('client'),
    name: 'Living room TV',
    type: 'public',
    secretHash: null,
    grantTypes: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    scopes: ['valuate:read', 'billing:read'],
    redirectUris: [],
    deviceCodeTtl: null,
    devicePollInterval: null,
    accessTokenAlg: null,
    ownerUserId: null,
    createdAt: T0,
    requireDpop: false,
    ...overrides,
  };
}

export function aUser(overrides: Partial<UserRecord> = {}): UserRecord {
  const id = overrides.id ?? unique('user');
  return { id, username: `name-${id}`, passwordHash: 'scrypt$hash', role: 'user', createdAt: T0, disabledAt: null, ...overrides };
}

export function aGrant(clientId: string, userId: string | null, overrides: Partial<GrantRecord> = {}): GrantRecord {
  return {
    id: unique('grant'),
    clientId,
    userId,
    scopes: ['valuate:read'],
    origin: 'urn:ietf:params:oauth:grant-type:device_code',
    deviceName: null,
    requestIp: '203.0.113.7',
    requestUserAgent: 'TV/1.0',
    createdAt: T0,
    lastUsedAt: null,
    revokedAt: null,
    dpopJkt: null,
    ...overrides,
  };
}

export function aRefreshToken(grantId: string, clientId: string, overrides: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord {
  return { tokenHash: hash(), grantId, clientId, createdAt: T0, expiresAt: T0 + 30 * 86_400_000, usedAt: null, ...overrides };
}

let userCodes = 0;
/** A device code request, live for 10 minutes from T0, with a user code unique in the run. */
export function aDeviceCode(clientId: string, overrides: Partial<NewDeviceCode> = {}): NewDeviceCode {
  return {
    deviceCodeHash: hash(),
    userCode: `WDJB${String(++userCodes).padStart(4, '0')}`,
    clientId,
    scopes: ['valuate:read', 'billing:read'],
    createdAt: T0,
    expiresAt: T0 + 600_000,
    interval: 5,
    requestIp: '203.0.113.7',
    requestUserAgent: 'TV/1.0',
    ...overrides,
  };
}

export function anAuthorizationCode(clientId: string, userId: string, overrides: Partial<AuthorizationCodeRecord> = {}): AuthorizationCodeRecord {
  return {
    codeHash: hash(),
    clientId,
    userId,
    scopes: ['valuate:read'],
    redirectUri: 'https://app.example/callback',
    redirectUriGiven: true,
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    createdAt: T0,
    expiresAt: T0 + 60_000,
    usedAt: null,
    grantId: null,
    dpopJkt: null,
    ...overrides,
  };
}

/** Insert a client and a user for a test to hang rows on. */
export async function seed(store: StoreEngine, client: Partial<ClientRecord> = {}): Promise<{ client: ClientRecord; user: UserRecord }> {
  const c = aClient(client);
  const u = aUser();
  await store.clients.create(c);
  await store.users.create(u);
  return { client: c, user: u };
}

/** A client, a user, and a pending device code of theirs. */
export async function seedDeviceCode(store: StoreEngine, overrides: Partial<NewDeviceCode> = {}) {
  const { client, user } = await seed(store);
  const code = await store.deviceCodes.insert(aDeviceCode(client.id, overrides), T0);
  if (!code) throw new Error('seedDeviceCode: user code taken');
  return { client, user, code };
}

/** A client, a user, a live grant of theirs and its first refresh token. */
export async function seedGrant(store: StoreEngine, grant: Partial<GrantRecord> = {}) {
  const { client, user } = await seed(store);
  const g = aGrant(client.id, user.id, grant);
  const refresh = aRefreshToken(g.id, client.id);
  const code = await store.deviceCodes.insert(aDeviceCode(client.id), T0);
  await store.deviceCodes.decide(code!.id, { status: 'approved', userId: user.id, grantedScopes: g.scopes }, T0 + 1);
  if (!(await store.deviceCodes.redeem(code!.id, g, refresh))) throw new Error('seedGrant: redemption failed');
  return { client, user, grant: g, refresh, deviceCodeId: code!.id };
}
