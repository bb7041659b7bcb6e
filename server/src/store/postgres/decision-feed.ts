/**
 * The `decisionFeed` repository on PostgreSQL: decisions and revocations committed by any
 * instance on the database.
 *
 * Two ways to learn of them. At once: `listen` holds ONE dedicated connection (outside the
 * pool) on `LISTEN kalm_feed`; the triggers of migration 006 send a notification when a
 * deciding or revoking transaction commits, with a FeedEvent of port/decision-feed.ts as JSON:
 *   {"kind": "decided", "deviceCodeId": 12, "status": "approved", "at": 1700000000000}
 *   {"kind": "revoked", "grantId": "…", "at": 1700000000000}
 * And by reading the rows (`decidedSince`, `revokedSince`): the catch-up read after the
 * listening connection was lost, which PostgreSQL does not replay. While it is lost, `listen`
 * reconnects with a capped backoff and calls `reconnected()` once it listens again.
 */
import pg from 'pg';
import type { DecisionFeedRepository, FeedEvent, FeedHandlers } from '../port/index.js';
import { type Db, row, rows } from './database.js';

/** The channel the 006 triggers notify on. */
export const FEED_CHANNEL = 'kalm_feed';
/** How the listening connection names itself in pg_stat_activity (unless the URL sets application_name). */
export const LISTENER_NAME = 'kalm feed listener';

const DECIDED = {
  name: 'feed.decided',
  text: 'SELECT id, status, decided_at AS at FROM device_codes WHERE decided_at >= $1 ORDER BY decided_at',
};
const REVOKED = { name: 'feed.revoked', text: 'SELECT id, revoked_at AS at FROM grants WHERE revoked_at >= $1 ORDER BY revoked_at' };
const LATEST = {
  name: 'feed.latest',
  text: 'SELECT (SELECT max(decided_at) FROM device_codes) AS decided, (SELECT max(revoked_at) FROM grants) AS revoked',
};

export interface ListenOptions {
  /** Reconnection delays of the listening connection: doubling from the first, never above the cap. */
  backoff: { firstMs: number; maxMs: number };
  /**
   * Every `everyMs` the listening connection must answer a `SELECT 1` within `timeoutMs`, or it
   * counts as lost: a connection that died silently (a peer or NAT gone without a reset) would
   * otherwise deliver nothing, with no error, until TCP keepalive noticed it hours later.
   */
  health: { everyMs: number; timeoutMs: number };
}

const DEFAULT_LISTEN: ListenOptions = { backoff: { firstMs: 100, maxMs: 2_000 }, health: { everyMs: 15_000, timeoutMs: 5_000 } };

/**
 * A notification's payload as a FeedEvent, or undefined when it is not one (another writer on
 * the channel, a newer server's event kind): ignored rather than trusted.
 */
export function parseFeedPayload(payload: string | undefined): FeedEvent | undefined {
  if (!payload) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.at !== 'number' || !Number.isFinite(v.at)) return undefined;
  if (v.kind === 'decided' && Number.isSafeInteger(v.deviceCodeId) && (v.status === 'approved' || v.status === 'denied')) {
    return { kind: 'decided', deviceCodeId: v.deviceCodeId as number, status: v.status, at: v.at };
  }
  if (v.kind === 'revoked' && typeof v.grantId === 'string') return { kind: 'revoked', grantId: v.grantId, at: v.at };
  return undefined;
}

export function createDecisionFeedRepository(db: Db, options: Partial<ListenOptions> = {}): DecisionFeedRepository {
  const listenOptions: ListenOptions = { backoff: options.backoff ?? DEFAULT_LISTEN.backoff, health: options.health ?? DEFAULT_LISTEN.health };
  return {
    // The server reads the feed when `listen` delivers, or after `reconnected`: any time it asks
    // here, something may have been committed elsewhere (there is no cheap version counter
    // across connections as SQLite's data_version).
    async changedElsewhere() {
      return true;
    },
    async decidedSince(since) {
      const found = await rows<{ id: number; status: string; at: number }>(db, DECIDED, [since]);
      // A code decided and then redeemed was approved.
      return found.map(({ id, status, at }) => ({ deviceCodeId: id, status: status === 'denied' ? 'denied' : 'approved', at }));
    },
    async revokedSince(since) {
      return (await rows<{ id: string; at: number }>(db, REVOKED, [since])).map(({ id, at }) => ({ grantId: id, at }));
    },
    async latest() {
      const r = (await row<{ decided: number | null; revoked: number | null }>(db, LATEST))!;
      return Math.max(r.decided ?? 0, r.revoked ?? 0);
    },
    listen(handlers) {
      return listenFeed(db, handlers, listenOptions);
    },
  };
}

/**
 * Hold the listening connection until stopped. Resolves once the first connection listens
 * (rejects if it cannot connect: the caller starts without it or fails); after that a lost
 * connection (an error, its end, or a health check unanswered) is reported once to `lost`,
 * retried with the backoff, and `reconnected` is called when it listens again. The result ends
 * the connection, the health checks and any retry.
 */
async function listenFeed(db: Db, handlers: FeedHandlers, { backoff, health }: ListenOptions): Promise<() => Promise<void>> {
  let stopped = false;
  let current: pg.Client | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let connecting: Promise<void> | undefined;
  let failures = 0;
  let checking = false;

  // The handlers run inside the client's event emitter and the retry timer: one that throws
  // must neither break the connection's parser nor end as an unhandled rejection.
  const safely = (call: () => void) => {
    try {
      call();
    } catch (err) {
      db.onError(err);
    }
  };
  const deliver = (msg: pg.Notification) => {
    if (msg.channel !== FEED_CHANNEL) return;
    const event = parseFeedPayload(msg.payload);
    if (event) safely(() => handlers.event(event));
  };

  /** A connected client listening on the channel, with its loss handlers in place. */
  async function open(): Promise<pg.Client> {
    // Outside the pool, on its settings: a pooled client would be handed to queries and lose the LISTEN.
    const client = new pg.Client({ ...db.config, application_name: LISTENER_NAME });
    // Before connect: a failure while connecting is also emitted, and must not crash anything.
    client.on('error', (err) => lose(client, err));
    client.on('end', () => lose(client, new Error('listening connection ended')));
    client.on('notification', deliver);
    try {
      await client.connect();
      await client.query(`LISTEN ${FEED_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    return client;
  }

  function lose(client: pg.Client, err: unknown): void {
    // Only the connection in use counts: a client that failed to connect is the retry's business.
    if (client !== current) return;
    current = undefined;
    client.end().catch(() => {});
    if (stopped) return;
    safely(() => (handlers.lost ? handlers.lost(err) : db.onError(err)));
    schedule();
  }

  function schedule(): void {
    if (stopped || retryTimer) return;
    const delay = Math.min(backoff.maxMs, backoff.firstMs * 2 ** Math.min(failures, 16));
    failures++;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connecting = reconnect().finally(() => {
        connecting = undefined;
      });
    }, delay);
    // A retry alone never keeps the process up; whoever stops listening clears it.
    retryTimer.unref();
  }

  async function reconnect(): Promise<void> {
    let client: pg.Client;
    try {
      client = await open();
    } catch {
      schedule();
      return;
    }
    if (stopped) {
      await client.end().catch(() => {});
      return;
    }
    current = client;
    failures = 0;
    safely(() => handlers.reconnected());
  }

  /** The connection in use answers, or is given up as lost. */
  async function check(): Promise<void> {
    const client = current;
    if (!client || checking) return;
    checking = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the listening connection did not answer within ${health.timeoutMs} ms`)), health.timeoutMs);
    });
    try {
      await Promise.race([client.query('SELECT 1'), timeout]);
    } catch (err) {
      lose(client, err);
    } finally {
      clearTimeout(timer);
      checking = false;
    }
  }

  current = await open();
  const healthTimer = setInterval(() => void check(), health.everyMs);
  healthTimer.unref();
  return async () => {
    stopped = true;
    clearInterval(healthTimer);
    clearTimeout(retryTimer);
    retryTimer = undefined;
    await connecting;
    const client = current;
    current = undefined;
    await client?.end().catch(() => {});
  };
}
