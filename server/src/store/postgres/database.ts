/**
 * The PostgreSQL connection: one pool per store (per server instance), the `query` and
 * `transaction` helpers every repository runs its SQL through, and the mapping of a database
 * that cannot be reached to `StoreUnavailableError` (answered 503 `temporarily_unavailable`).
 *
 * Conventions every repository follows (see the repositories' header comments):
 * - times are BIGINT ms since the epoch, always passed as parameters (never `now()`: tests run
 *   the server on a fake clock); int8 is parsed as a JS number here, once for the pool;
 * - BYTEA arrives and leaves as Buffer, TEXT[] as string[], BOOLEAN as boolean; a JSONB
 *   parameter is passed as `JSON.stringify(value)` (pg would turn a JS array into a PostgreSQL
 *   array literal);
 * - SQL is a named statement (`{ name, text }`: prepared once per connection) or plain text;
 * - correctness across instances comes from the database (conditional UPDATE, ON CONFLICT,
 *   SELECT … FOR UPDATE in a transaction), never from memory.
 */
import pg from 'pg';
import { StoreUnavailableError } from '../../core/errors.js';

/** A statement: plain SQL, or named so that pg prepares it once per connection. */
export type Sql = string | { name: string; text: string };

/** The handle repositories are built on: the pool of one store. */
export interface Db {
  readonly pool: pg.Pool;
  /** The pool's connection settings, for a dedicated client outside it (LISTEN). */
  readonly config: pg.ClientConfig;
  /** Where errors nobody awaits go (an idle pooled client dropped, a listener connection lost). */
  readonly onError: (err: unknown) => void;
}

/** One open transaction on one pooled client (see `transaction`). */
export interface Tx {
  readonly client: pg.PoolClient;
  /** Savepoints opened by nested `transaction` calls, for their names. */
  depth: number;
}

/** What `query` runs on: the pool (one statement, its own implicit transaction) or a transaction. */
export type Queryable = Db | Tx;

export interface DatabaseOptions {
  url: string;
  /** Pool size (`DATABASE_POOL_MAX`, default 10). */
  poolMax?: number;
  onError?: (err: unknown) => void;
}

const INT8_OID = 20;

/** int8 (BIGINT, count(*)) as a JS number: every time is ms since the epoch, every id far below 2^53. */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * Open the pool (no connection yet: the first query connects). TLS follows `sslmode` in the
 * URL, as pg reads it. The pool's `'error'` event (an idle client whose server went away) goes
 * to `onError`, so a database that stops never crashes the process; the pool opens new
 * connections when it is back.
 */
export function openDatabase(options: DatabaseOptions): Db {
  const onError = options.onError ?? (() => {});
  const config: pg.ClientConfig = {
    connectionString: options.url,
    types,
    keepAlive: true,
    // A pool connect that waits this long (server unreachable, every client busy) fails with
    // "timeout exceeded when trying to connect": unavailable, not a request hung forever.
    connectionTimeoutMillis: 10_000,
  };
  const pool = new pg.Pool({ ...config, max: options.poolMax ?? 10, idleTimeoutMillis: 30_000 });
  pool.on('error', (err) => onError(err));
  return { pool, config, onError };
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 53300 too_many_connections.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const CONNECTION_MESSAGES = [/Connection terminated/i, /timeout exceeded when trying to connect/i, /not queryable/i, /connection timeout/i];

/** Whether `err` says the database could not be reached (as opposed to a statement that failed). */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (CONNECTION_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code)) return true;
    // SQLSTATE class 08: connection exception.
    if (/^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  if (err instanceof AggregateError) return err.errors.some(isUnavailable);
  return CONNECTION_MESSAGES.some((re) => re.test(err.message));
}

/** `StoreUnavailableError` for a connection-class failure (its code kept as the reason, never a value); `err` otherwise. */
export function mapError(err: unknown): unknown {
  if (err instanceof StoreUnavailableError || !isUnavailable(err)) return err;
  const code = (err as { code?: unknown }).code;
  return new StoreUnavailableError(typeof code === 'string' ? code : (err as Error).message);
}

function isTx(on: Queryable): on is Tx {
  return 'client' in on;
}

/** Run one statement on the pool or inside a transaction. Connection failures become `StoreUnavailableError`. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(on: Queryable, sql: Sql, values: readonly unknown[] = []): Promise<pg.QueryResult<R>> {
  const config: pg.QueryConfig = typeof sql === 'string' ? { text: sql, values: values as unknown[] } : { ...sql, values: values as unknown[] };
  try {
    return await (isTx(on) ? on.client.query<R>(config) : on.pool.query<R>(config));
  } catch (err) {
    throw mapError(err);
  }
}

/** The rows of `query`. */
export async function rows<R extends pg.QueryResultRow = pg.QueryResultRow>(on: Queryable, sql: Sql, values: readonly unknown[] = []): Promise<R[]> {
  return (await query<R>(on, sql, values)).rows;
}

/** The first row of `query`, or undefined. */
export async function row<R extends pg.QueryResultRow = pg.QueryResultRow>(on: Queryable, sql: Sql, values: readonly unknown[] = []): Promise<R | undefined> {
  return (await query<R>(on, sql, values)).rows[0];
}

/** How many rows `query` changed. */
export async function changes(on: Queryable, sql: Sql, values: readonly unknown[] = []): Promise<number> {
  return (await query(on, sql, values)).rowCount ?? 0;
}

/**
 * Run `fn` in one transaction: BEGIN and COMMIT on one pooled client, ROLLBACK when `fn`
 * throws (the error is rethrown), the client always released (and thrown away when its
 * connection broke). Called with a `Tx`, it nests as a savepoint, so a repository can run
 * another's multi-statement step inside its own transaction (the MQTT bridge spends a code and
 * keeps its answer in one commit) and that step still rolls back alone when it throws.
 * The isolation level is PostgreSQL's default, READ COMMITTED: where a read decides a write,
 * the read takes a row lock (`FOR UPDATE`) or the write is a conditional UPDATE.
 */
export async function transaction<T>(on: Queryable, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (isTx(on)) return savepoint(on, fn);
  let client: pg.PoolClient;
  try {
    client = await on.pool.connect();
  } catch (err) {
    throw mapError(err);
  }
  // A checked-out client has no listener for its 'error' event (the pool only listens while it
  // is idle): without one, a connection lost mid-transaction would crash the process.
  let broken: unknown;
  const onClientError = (err: unknown) => {
    broken = err;
  };
  client.on('error', onClientError);
  const tx: Tx = { client, depth: 0 };
  try {
    await client.query('BEGIN');
    const result = await fn(tx);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    if (broken === undefined && !isUnavailable(err)) {
      await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
        broken = rollbackErr;
      });
    } else {
      broken ??= err;
    }
    throw mapError(err);
  } finally {
    client.off('error', onClientError);
    // Released with an error, the client is closed instead of going back to the pool.
    client.release(broken === undefined ? undefined : broken instanceof Error ? broken : new Error('connection lost'));
  }
}

async function savepoint<T>(tx: Tx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const name = `kalm_sp_${++tx.depth}`;
  try {
    await query(tx, `SAVEPOINT ${name}`);
    try {
      const result = await fn(tx);
      await query(tx, `RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      if (!isUnavailable(err)) await query(tx, `ROLLBACK TO SAVEPOINT ${name}`);
      throw err;
    }
  } finally {
    tx.depth--;
  }
}

/** A client outside the pool on the same settings (a LISTEN connection); the caller connects and ends it. */
export function dedicatedClient(db: Db): pg.Client {
  return new pg.Client(db.config);
}

/** End the pool: every idle client is closed, and `end` resolves once the busy ones are released. */
export async function closeDatabase(db: Db): Promise<void> {
  await db.pool.end();
}
