import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { defaultConfig, type Config } from '../../server/src/config.js';
import { GRANT_TYPES } from '../../server/src/core/clients.js';
import type { NewClient } from '../../server/src/core/clients.js';
import { createLogger } from '../../server/src/logger.js';
import { startServer, type RunningServer } from '../../server/src/server.js';
import { fakeClock, type FakeClock } from './clock.js';
import { ensureDatabaseFor } from './engine.js';

export interface TestServer extends RunningServer {
  clock: FakeClock;
  dataDir: string;
  /** Every log line the server wrote so far, parsed. */
  logLines(): Array<Record<string, unknown>>;
  /** The raw log text, for "never contains" assertions. */
  logText(): string;
  /** POST a form to `path`, with optional Basic credentials. */
  post(path: string, form: Record<string, string>, init?: { basic?: [string, string]; headers?: Record<string, string> }): Promise<Response>;
  /** Register a client directly through core. */
  createClient(input?: Partial<NewClient>): Promise<{ clientId: string; clientSecret?: string }>;
  /** Create a user through core and return its id. */
  createUser(username?: string, password?: string): Promise<{ id: string; username: string; password: string }>;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  config?: Partial<Config>;
  /** Keep the data dir on stop (to restart on it). */
  dataDir?: string;
  logLevel?: string;
  /** Where the fake clock starts (default 2026-01-01): a test sharing the database with a real-clock process starts it at the real time. */
  clockStart?: number;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const ALL_SCOPES = ['valuate:read', 'valuate:write', 'webhooks:manage', 'organization:read', 'organization:admin', 'billing:read'];

/**
 * Start a real server on 127.0.0.1 with a free port, a temp data dir, a fake clock
 * and captured logs. The one setup every black-box test uses.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'kalm-test-'));
  const clock = fakeClock(options.clockStart);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger(options.logLevel ?? 'debug', sink);
  // The issuer must equal the URL clients discover it at, so the port is chosen first.
  const port = options.config?.port ?? (await freePort());
  // In the postgres project, the data dir stands for a database of its own on the test cluster.
  const databaseUrl = await ensureDatabaseFor(dataDir);
  const config = defaultConfig({ port, host: '127.0.0.1', dataDir, databaseUrl, demo: false, publicUrl: `http://127.0.0.1:${port}`, ...options.config });
  const server = await startServer(config, { clock, logger });
  let userCount = 0;
  return Object.assign(server, {
    clock,
    dataDir,
    logLines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    logText: () => lines.join('\n'),
    post(p: string, form: Record<string, string>, init: { basic?: [string, string]; headers?: Record<string, string> } = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...init.headers };
      if (init.basic) {
        const [id, secret] = init.basic.map((v) => encodeURIComponent(v).replace(/%20/g, '+'));
        headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
      }
      return fetch(`${server.url}${p}`, { method: 'POST', headers, body: new URLSearchParams(form) });
    },
    async createClient(input: Partial<NewClient> = {}) {
      const { client, clientSecret } = await server.core.clients.create({
        name: 'Test app',
        type: 'public',
        grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken],
        scopes: ALL_SCOPES,
        ...input,
      });
      return clientSecret ? { clientId: client.id, clientSecret } : { clientId: client.id };
    },
    async createUser(username = `user${++userCount}`, password = 'correct horse battery') {
      const user = await server.core.users.create({ username, password });
      return { id: user.id, username, password };
    },
    async stop() {
      await server.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

export { GRANT_TYPES, ALL_SCOPES };
