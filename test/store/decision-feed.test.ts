/**
 * The `decisionFeed` repository: on both engines, what other instances decided and revoked,
 * read from the rows; on PostgreSQL also `listen`, the LISTEN/NOTIFY connection that delivers
 * each decision and revocation committed on any instance, and comes back after it was lost.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeedEvent, FeedHandlers, StoreEngine } from '../../server/src/store/port/index.js';
import { closeDatabase, openDatabase } from '../../server/src/store/postgres/database.js';
import { createDecisionFeedRepository } from '../../server/src/store/postgres/decision-feed.js';
import { createPostgresStore } from '../../server/src/store/postgres/index.js';
import { startPostgres, type PrivatePostgres } from '../helpers/postgres.js';
import { T0, forEachEngine, seedDeviceCode, seedGrant } from './engines.js';

const approve = (store: StoreEngine, id: number, userId: string, at: number) =>
  store.deviceCodes.decide(id, { status: 'approved', userId, grantedScopes: ['valuate:read'] }, at);
const deny = (store: StoreEngine, id: number, userId: string, at: number) => store.deviceCodes.decide(id, { status: 'denied', userId }, at);

/** Handlers that record what `listen` delivers, and promises of what is still to come. */
function recorder() {
  const events: FeedEvent[] = [];
  const lost: unknown[] = [];
  let reconnections = 0;
  const waiters: Array<() => void> = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  /** Resolves once `done()` holds (checked now and after every callback). */
  const until = (done: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      const check = () => (done() ? resolve() : waiters.push(check));
      check();
    });
  const handlers: FeedHandlers = {
    event: (e) => {
      events.push(e);
      wake();
    },
    reconnected: () => {
      reconnections++;
      wake();
    },
    lost: (err) => {
      lost.push(err);
      wake();
    },
  };
  return {
    handlers,
    events,
    lost,
    reconnections: () => reconnections,
    /** The first `n` events delivered. */
    events_: (n: number) => until(() => events.length >= n).then(() => events.slice(0, n)),
    lostOnce: () => until(() => lost.length >= 1),
    reconnected: (n = 1) => until(() => reconnections >= n),
  };
}

forEachEngine((engine) => {
  describe('decision feed (read from the rows)', () => {
    it('knows no decision on a fresh database', async () => {
      const store = await engine.open();
      expect(await store.decisionFeed.latest()).toBe(0);
      expect(await store.decisionFeed.decidedSince(0)).toEqual([]);
      expect(await store.decisionFeed.revokedSince(0)).toEqual([]);
    });

    it('reads the codes decided since a time, oldest first; a redeemed code was approved', async () => {
      const [a, b] = await engine.instances(2);
      const first = await seedDeviceCode(a!);
      const second = await seedDeviceCode(a!);
      const third = await seedDeviceCode(a!);
      const pending = await seedDeviceCode(a!);
      await approve(a!, third.code.id, third.user.id, T0 + 30);
      await deny(a!, second.code.id, second.user.id, T0 + 20);
      await approve(a!, first.code.id, first.user.id, T0 + 10);
      // Redeemed: still reported as the approval it was.
      const { aGrant, aRefreshToken } = await import('./engines.js');
      const grant = aGrant(first.client.id, first.user.id);
      expect(await a!.deviceCodes.redeem(first.code.id, grant, aRefreshToken(grant.id, first.client.id))).toBe(true);

      expect(await b!.decisionFeed.decidedSince(0)).toEqual([
        { deviceCodeId: first.code.id, status: 'approved', at: T0 + 10 },
        { deviceCodeId: second.code.id, status: 'denied', at: T0 + 20 },
        { deviceCodeId: third.code.id, status: 'approved', at: T0 + 30 },
      ]);
      // `since` is inclusive.
      expect((await b!.decisionFeed.decidedSince(T0 + 20)).map((d) => d.deviceCodeId)).toEqual([second.code.id, third.code.id]);
      expect(await b!.decisionFeed.decidedSince(T0 + 31)).toEqual([]);
      expect(await b!.decisionFeed.latest()).toBe(T0 + 30);
      expect((await b!.decisionFeed.decidedSince(0)).some((d) => d.deviceCodeId === pending.code.id)).toBe(false);
    });

    it('reads the grants revoked since a time, oldest first, and the latest stamp of either kind', async () => {
      const [a, b] = await engine.instances(2);
      const one = await seedGrant(a!);
      const two = await seedGrant(a!);
      await seedGrant(a!);
      await a!.grants.revoke(two.grant.id, T0 + 500);
      await a!.grants.revoke(one.grant.id, T0 + 400);
      expect(await b!.decisionFeed.revokedSince(0)).toEqual([
        { grantId: one.grant.id, at: T0 + 400 },
        { grantId: two.grant.id, at: T0 + 500 },
      ]);
      expect(await b!.decisionFeed.revokedSince(T0 + 401)).toEqual([{ grantId: two.grant.id, at: T0 + 500 }]);
      expect(await b!.decisionFeed.latest()).toBe(T0 + 500);
    });

    it('says something changed once another instance committed', async () => {
      const [a, b] = await engine.instances(2);
      await b!.decisionFeed.changedElsewhere();
      const { code, user } = await seedDeviceCode(a!);
      await approve(a!, code.id, user.id, T0 + 10);
      expect(await b!.decisionFeed.changedElsewhere()).toBe(true);
    });
  });
});

forEachEngine(
  (engine) => {
    describe('decision feed (listen)', () => {
      it('delivers each decision and revocation committed on another instance, in commit order', async () => {
        const [a, b] = await engine.instances(2);
        const heard = recorder();
        await b!.decisionFeed.listen!(heard.handlers);
        const approved = await seedDeviceCode(a!);
        const denied = await seedDeviceCode(a!);
        const revoked = await seedGrant(a!);
        // seedGrant approves a code of its own first (at T0 + 1).
        await approve(a!, approved.code.id, approved.user.id, T0 + 10);
        await deny(a!, denied.code.id, denied.user.id, T0 + 20);
        await a!.grants.revoke(revoked.grant.id, T0 + 30);
        expect(await heard.events_(4)).toEqual([
          { kind: 'decided', deviceCodeId: revoked.deviceCodeId, status: 'approved', at: T0 + 1 },
          { kind: 'decided', deviceCodeId: approved.code.id, status: 'approved', at: T0 + 10 },
          { kind: 'decided', deviceCodeId: denied.code.id, status: 'denied', at: T0 + 20 },
          { kind: 'revoked', grantId: revoked.grant.id, at: T0 + 30 },
        ]);
      });

      it('delivers nothing for what changed no decision: a lost race, a redemption, a second revocation, a foreign notification', async () => {
        const url = await engine.location();
        const a = await engine.openAt(url);
        const b = await engine.openAt(url);
        const heard = recorder();
        await b.decisionFeed.listen!(heard.handlers);
        const { code, user, client } = await seedDeviceCode(a);
        await approve(a, code.id, user.id, T0 + 10);
        expect(await deny(a, code.id, user.id, T0 + 11)).toBe(false);
        const { aGrant, aRefreshToken } = await import('./engines.js');
        const grant = aGrant(client.id, user.id);
        await a.deviceCodes.redeem(code.id, grant, aRefreshToken(grant.id, client.id));
        await a.grants.revoke(grant.id, T0 + 20);
        expect(await a.grants.revoke(grant.id, T0 + 21)).toBe(false);
        const raw = new pg.Client({ connectionString: url });
        await raw.connect();
        try {
          for (const payload of ['garbage', '{"kind":"decided","deviceCodeId":"1","status":"approved","at":1}', '{"kind":"other","at":1}', '[]']) {
            await raw.query('SELECT pg_notify($1, $2)', ['kalm_feed', payload]);
          }
          await raw.query("SELECT pg_notify('another_channel', 'x')");
        } finally {
          await raw.end();
        }
        // A marker after all of them: whatever was going to be delivered came before it.
        const marker = await seedDeviceCode(a);
        await deny(a, marker.code.id, marker.user.id, T0 + 40);
        expect(await heard.events_(3)).toEqual([
          { kind: 'decided', deviceCodeId: code.id, status: 'approved', at: T0 + 10 },
          { kind: 'revoked', grantId: grant.id, at: T0 + 20 },
          { kind: 'decided', deviceCodeId: marker.code.id, status: 'denied', at: T0 + 40 },
        ]);
        expect(heard.events).toHaveLength(3);
      });

      it('delivers to every listening instance, the deciding one included', async () => {
        const stores = await engine.instances(3);
        const heard = stores.map(() => recorder());
        await Promise.all(stores.map((s, i) => s.decisionFeed.listen!(heard[i]!.handlers)));
        const { code, user } = await seedDeviceCode(stores[0]!);
        await approve(stores[0]!, code.id, user.id, T0 + 10);
        for (const h of heard) expect(await h.events_(1)).toEqual([{ kind: 'decided', deviceCodeId: code.id, status: 'approved', at: T0 + 10 }]);
      });

      it('ends its connection when stopped, and delivers nothing more', async () => {
        const url = await engine.location();
        const a = await engine.openAt(url);
        const b = await engine.openAt(url);
        const stopped = recorder();
        const still = recorder();
        const stop = await b.decisionFeed.listen!(stopped.handlers);
        await b.decisionFeed.listen!(still.handlers);
        expect(await listeners(url)).toBe(2);
        await stop();
        await expect.poll(() => listeners(url)).toBe(1);
        const { code, user } = await seedDeviceCode(a);
        await approve(a, code.id, user.id, T0 + 10);
        await still.events_(1);
        expect(stopped.events).toEqual([]);
        expect(stopped.lost).toEqual([]);
        // Closing the store stops the listeners it started.
        await b.close();
        await expect.poll(() => listeners(url)).toBe(0);
      });

      it('reports a lost connection, listens again, and says so', async () => {
        const url = await engine.location();
        const a = await engine.openAt(url);
        const b = await engine.openAt(url);
        const heard = recorder();
        await b.decisionFeed.listen!(heard.handlers);
        expect(await terminateListeners(url)).toBe(1);
        await heard.lostOnce();
        await heard.reconnected();
        expect(heard.lost).toHaveLength(1);
        expect(await listeners(url)).toBe(1);
        const { code, user } = await seedDeviceCode(a);
        await approve(a, code.id, user.id, T0 + 10);
        expect(await heard.events_(1)).toEqual([{ kind: 'decided', deviceCodeId: code.id, status: 'approved', at: T0 + 10 }]);

        // And again: each loss is one `lost`, each return one `reconnected`.
        expect(await terminateListeners(url)).toBe(1);
        await heard.reconnected(2);
        expect(heard.lost).toHaveLength(2);
      });

      it('gives up a connection that stopped answering without an error, and listens again', async () => {
        const url = await engine.location();
        const a = await engine.openAt(url);
        // The listener reaches the database through a proxy that can go silent: no reset, no
        // data, as when a NAT or a peer vanishes.
        const proxy = await silentProxy(new URL(url));
        const target = new URL(url);
        target.port = String(proxy.port);
        const db = openDatabase({ url: target.toString(), poolMax: 1 });
        const feed = createDecisionFeedRepository(db, { health: { everyMs: 50, timeoutMs: 250 }, backoff: { firstMs: 10, maxMs: 100 } });
        const heard = recorder();
        const stop = await feed.listen!(heard.handlers);
        try {
          proxy.silence();
          await heard.lostOnce();
          expect(String(heard.lost[0])).toMatch(/did not answer within 250 ms/);
          await heard.reconnected();
          const { code, user } = await seedDeviceCode(a);
          await approve(a, code.id, user.id, T0 + 10);
          expect(await heard.events_(1)).toEqual([{ kind: 'decided', deviceCodeId: code.id, status: 'approved', at: T0 + 10 }]);
          expect(heard.lost).toHaveLength(1);
        } finally {
          await stop();
          await closeDatabase(db);
          await proxy.close();
        }
      });
    });
  },
  ['postgres'],
);

/** Backends of `url`'s database listening on the feed. */
async function listeners(url: string): Promise<number> {
  return withClient(url, async (c) => (await c.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'kalm feed listener'")).rows[0]!.n);
}

/** Cut the feed's listening connections from the server side, as a failover or an idle-timeout proxy would. */
async function terminateListeners(url: string): Promise<number> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ done: boolean }>(
      "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'kalm feed listener'",
    );
    return rows.filter((r) => r.done).length;
  });
}

/** A TCP proxy to `url`'s server whose open connections can be silenced (nothing forwarded, nothing closed); new ones pass. */
async function silentProxy(url: URL): Promise<{ port: number; silence(): void; close(): Promise<void> }> {
  const open = new Set<{ silent: boolean; sockets: net.Socket[] }>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(Number(url.port), url.hostname);
    const link = { silent: false, sockets: [inbound, outbound] };
    open.add(link);
    inbound.on('data', (chunk) => link.silent || outbound.write(chunk));
    outbound.on('data', (chunk) => link.silent || inbound.write(chunk));
    const drop = () => {
      open.delete(link);
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    silence() {
      for (const link of open) link.silent = true;
    },
    async close() {
      for (const link of open) for (const s of link.sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// The whole database server going away and coming back (a restart, a failover): on a private
// cluster of its own, since stopping the one the other cases share would cut them too.
describe('postgres: decision feed (listen) across a database restart', () => {
  let cluster: PrivatePostgres;
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  afterAll(async () => {
    await cluster?.dispose();
  });

  it('reports the loss, listens again once the server is back, and delivers what is committed then', async () => {
    const url = await cluster.createDatabase();
    const errors: unknown[] = [];
    const a = await createPostgresStore({ url, poolMax: 2, onError: (err) => errors.push(err) });
    const b = await createPostgresStore({ url, poolMax: 2, onError: (err) => errors.push(err) });
    try {
      const heard = recorder();
      await b.decisionFeed.listen!(heard.handlers);
      const { code, user } = await seedDeviceCode(a);

      await cluster.stop();
      await heard.lostOnce();
      await cluster.start();
      await heard.reconnected();
      expect(heard.lost).toHaveLength(1);

      await approve(a, code.id, user.id, T0 + 10);
      expect(await heard.events_(1)).toEqual([{ kind: 'decided', deviceCodeId: code.id, status: 'approved', at: T0 + 10 }]);
      // What was decided while the listener was away is there to read back.
      expect(await b.decisionFeed.decidedSince(T0)).toEqual([{ deviceCodeId: code.id, status: 'approved', at: T0 + 10 }]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
