/**
 * The store our server runs on in `npm run bench`, and how many instances of it.
 *
 * `BENCH_ENGINE=sqlite` (the default, as shipped) or `postgres`: one private PostgreSQL cluster
 * with fsync on (test/helpers/postgres.ts) for the whole run, a fresh database per server
 * started, so each scenario begins as empty as a fresh SQLite DATA_DIR does.
 * `BENCH_INSTANCES=N` (PostgreSQL only, default 1): N processes of our server on that one
 * database behind the round-robin TCP proxy of tcp-proxy.ts; the scenarios talk to the proxy.
 */
import { startPostgres, type PrivatePostgres } from '../../test/helpers/postgres.js';
import { startServerProcess, type ServerProcess } from './processes.js';
import { startTcpProxy } from './tcp-proxy.js';

export interface BenchEngine {
  store: 'sqlite' | 'postgres';
  instances: number;
}

const MAX_INSTANCES = 8;

function engineFromEnv(env: NodeJS.ProcessEnv): BenchEngine {
  const store = env.BENCH_ENGINE || 'sqlite';
  if (store !== 'sqlite' && store !== 'postgres') throw new Error(`BENCH_ENGINE must be sqlite or postgres, not "${store}"`);
  const instances = Number(env.BENCH_INSTANCES || 1);
  if (!Number.isInteger(instances) || instances < 1 || instances > MAX_INSTANCES) {
    throw new Error(`BENCH_INSTANCES must be a whole number from 1 to ${MAX_INSTANCES}, not "${env.BENCH_INSTANCES}"`);
  }
  if (instances > 1 && store !== 'postgres') throw new Error('BENCH_INSTANCES above 1 needs BENCH_ENGINE=postgres (instances share one database)');
  return { store, instances };
}

export const ENGINE = engineFromEnv(process.env);

/** How our server is named in the table: `ours (sqlite)`, `ours (postgres ×2)`. */
export function engineLabel(name: string): string {
  return ENGINE.store === 'sqlite' ? `${name} (sqlite)` : `${name} (postgres ×${ENGINE.instances})`;
}

let postgres: PrivatePostgres | undefined;

/**
 * Run `fn` with the store in place: for PostgreSQL, start the cluster before and remove it
 * after, whatever happens (also on SIGINT or SIGTERM, so no cluster is left running).
 */
export async function withEngine<T>(fn: () => Promise<T>): Promise<T> {
  if (ENGINE.store === 'sqlite') return fn();
  postgres = await startPostgres({ fsync: true });
  const cluster = postgres;
  const interrupted = (signal: NodeJS.Signals) => {
    console.error(`bench: ${signal}, stopping PostgreSQL`);
    void cluster.dispose().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    return await fn();
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    postgres = undefined;
    await cluster.dispose();
  }
}

/**
 * Start our server (bench/refs/ours.ts) on the bench's store. On PostgreSQL the first instance
 * starts alone and makes the set-up data (the bench client, keys); the others then start
 * together on the same database and find it there. The refresh pool is made by the first
 * instance only (`call` goes to it); requests go through the proxy when there are several.
 */
export async function startOurs(name: string, script: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  if (!postgres) {
    if (ENGINE.store === 'postgres') throw new Error('startOurs on PostgreSQL outside withEngine()');
    return startServerProcess(name, script, env);
  }
  const withDatabase = { ...env, DATABASE_URL: await postgres.createDatabase() };
  const first = await startServerProcess(name, script, withDatabase);
  const instances = [first];
  try {
    const others = await Promise.allSettled(Array.from({ length: ENGINE.instances - 1 }, () => startServerProcess(name, script, withDatabase)));
    for (const o of others) if (o.status === 'fulfilled') instances.push(o.value);
    const failure = others.find((o) => o.status === 'rejected');
    if (failure) throw failure.reason;
    if (instances.length === 1) return first;
    const proxy = await startTcpProxy({
      backends: instances.map((s) => ({ host: new URL(s.url).hostname, port: Number(new URL(s.url).port) })),
    });
    return {
      ...first,
      url: proxy.url,
      async stop() {
        await proxy.close();
        await Promise.all(instances.map((s) => s.stop()));
      },
    };
  } catch (err) {
    await Promise.all(instances.map((s) => s.stop()));
    throw err;
  }
}
