import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './server.js';

/**
 * A private, throwaway PostgreSQL cluster on 127.0.0.1: `initdb` into a temp dir, `pg_ctl start`
 * on a free port, trust authentication for the one superuser `kalm`. Never the system service.
 * As root the server must run as an ordinary user: Debian's `postgres` account runs it then.
 */
export interface PrivatePostgres {
  port: number;
  dataDir: string;
  /** `postgres://kalm@127.0.0.1:{port}/{database}` */
  url(database?: string): string;
  /** Create an empty database (a fresh name unless given) and return its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stop the server (fast shutdown: open connections are cut), keeping the data dir. */
  stop(): Promise<void>;
  /** Start it again on the same port, after `stop`. */
  start(): Promise<void>;
  /** Stop for good and remove the data dir. */
  dispose(): Promise<void>;
}

export interface PrivatePostgresOptions {
  /**
   * Keep PostgreSQL's own fsync (default off: a test cluster is thrown away, and a process
   * killed with SIGKILL loses nothing the OS already has). The crash benchmark turns it on.
   */
  fsync?: boolean;
  /** `max_connections` (default 200: several instances with their pools, and the tests' own). */
  maxConnections?: number;
}

/** The newest PostgreSQL of Debian's `postgresql` package (or `PG_BIN` when set). */
export function postgresBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  if (versions.length === 0) throw new Error('PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)');
  return path.join(root, versions.sort((a, b) => Number(b) - Number(a))[0]!, 'bin');
}

const asRoot = userInfo().uid === 0;

function run(command: string, args: string[], options: SpawnSyncOptions = {}): void {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  const result = spawnSync(file, argv, { encoding: 'utf8', ...options });
  if (result.status !== 0) throw new Error(`${path.basename(command)} failed (${result.status}): ${result.stderr || result.stdout}`);
}

let databases = 0;

export async function startPostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = postgresBin();
  const dir = mkdtempSync(path.join(tmpdir(), 'kalm-pg-'));
  const dataDir = path.join(dir, 'data');
  if (asRoot) {
    chownSync(dir, Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout), Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout));
    chmodSync(dir, 0o700);
  }
  run(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'kalm', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const settings = [
    `-p ${port}`,
    "-c listen_addresses='127.0.0.1'",
    `-c unix_socket_directories='${dir}'`,
    `-c max_connections=${options.maxConnections ?? 200}`,
    `-c fsync=${options.fsync ? 'on' : 'off'}`,
    '-c shared_buffers=64MB',
  ].join(' ');

  const start = async () => {
    run(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-o', settings, '-l', path.join(dir, 'server.log'), '-w', '-t', '30', 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
  };
  const stop = async () => {
    run(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']);
  };
  await start();
  running.add(dataDir);
  const url = (database = 'postgres') => `postgres://kalm@127.0.0.1:${port}/${database}`;

  return {
    port,
    dataDir,
    url,
    async createDatabase(name = `kalm_${process.pid}_${++databases}`) {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop,
    start,
    async dispose() {
      running.delete(dataDir);
      await stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Clusters this process started and has not disposed of: stopped (immediately) when it exits,
// so a test that times out leaves no server behind.
const running = new Set<string>();
process.once('exit', () => {
  for (const dataDir of running) {
    spawn(asRoot ? 'runuser' : path.join(postgresBin(), 'pg_ctl'), asRoot ? ['-u', 'postgres', '--', path.join(postgresBin(), 'pg_ctl'), '-D', dataDir, '-m', 'immediate', 'stop'] : ['-D', dataDir, '-m', 'immediate', 'stop'], { detached: true, stdio: 'ignore' }).unref();
  }
});
