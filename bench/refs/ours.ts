/**
 * Our server as shipped, for the benchmarks: `startServer` with the configuration read
 * from the environment (SQLite on disk in WAL mode, writes group-committed), in a temp DATA_DIR,
 * LOG_LEVEL=warn, plus one public client `bench` allowed the device code and refresh
 * token grants. Started by bench/run.ts in its own process.
 *
 * Metrics are off, as shipped; `BENCH_METRICS=1` turns them on (METRICS_PORT on a free port)
 * and scrapes them every 15 s, as a Prometheus would, to measure what counting costs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configFromEnv } from '../../server/src/config.js';
import { GRANT_TYPES } from '../../server/src/core/clients.js';
import { startServer } from '../../server/src/server.js';
import { memoryMiB, serveParent } from '../lib/child.js';
import { freePort } from '../lib/net.js';

const BENCH_CLIENT_ID = 'bench';
const BENCH_SCOPE = 'valuate:read';

const dataDir = process.env.DATA_DIR ?? mkdtempSync(path.join(tmpdir(), 'kalm-bench-'));
const port = await freePort();
const config = configFromEnv({
  ...process.env,
  DATA_DIR: dataDir,
  PORT: String(port),
  HOST: '127.0.0.1',
  PUBLIC_URL: `http://127.0.0.1:${port}`,
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  DEMO: '0',
  METRICS_PORT: process.env.BENCH_METRICS === '1' ? '0' : '',
});
const server = await startServer(config);
const SCRAPE_EVERY_MS = 15_000;
const scraper = server.metrics
  ? setInterval(() => {
      fetch(server.metrics!.url)
        .then((res) => res.text())
        .catch((err: unknown) => console.error('bench: metrics scrape failed', err));
    }, SCRAPE_EVERY_MS)
  : undefined;
scraper?.unref();
if (server.metrics) console.error(`  ours: metrics on, ${server.metrics.url}, scraped every ${SCRAPE_EVERY_MS / 1000} s`);
const { core } = server;
const client = (await core.clients.get(BENCH_CLIENT_ID)) ??
  (
    await core.clients.create({
      id: BENCH_CLIENT_ID,
      name: 'Benchmark TV',
      type: 'public',
      grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken],
      scopes: [BENCH_SCOPE],
    })
  ).client;

let userId: string | undefined;

/**
 * Refresh tokens of `n` fresh grants, made by driving whole device flows through the
 * core (authorize, approve, redeem) against the same database the server uses.
 */
async function refreshPool(n: unknown): Promise<string[]> {
  userId ??= (await core.users.create({ username: 'bench', password: 'bench-password' })).id;
  const tokens: string[] = [];
  for (let i = 0; i < Number(n); i++) {
    const auth = await core.deviceFlow.authorize(client, BENCH_SCOPE);
    await core.deviceFlow.approve(auth.user_code, userId, [BENCH_SCOPE]);
    const issued = await core.deviceFlow.poll(client, auth.device_code);
    tokens.push(issued.refresh_token!);
  }
  return tokens;
}

const version = (JSON.parse(readFileSync(new URL('../../server/package.json', import.meta.url), 'utf8')) as { version: string }).version;

serveParent(
  { url: server.url, deviceAuthorizationPath: '/device_authorization', tokenPath: '/token', version },
  { refreshPool, memory: async () => memoryMiB(), storage: async () => ({ dataDir }) },
  async () => {
    clearInterval(scraper);
    await server.close();
    if (!process.env.DATA_DIR) rmSync(dataDir, { recursive: true, force: true });
  },
);
