import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './server.js';

// Debian installs the broker in /usr/sbin, which a non-login PATH may lack.
const MOSQUITTO = process.env.MOSQUITTO_BIN ?? (existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto');

// Every broker this process started and has not stopped. A test that times out never reaches
// its own `finally`; when its file's worker process exits, these go with it instead of living on.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of running) proc.kill('SIGKILL');
});

/** A private mosquitto on 127.0.0.1, for one test file. */
export interface Mosquitto {
  port: number;
  /** `mqtt://127.0.0.1:{port}` (`mqtts://` with `tls`) */
  url: string;
  /** Stop the broker (SIGTERM to its PID) and wait for it to exit. */
  stop(): Promise<void>;
  /** Start it again on the same port (after `stop`). */
  start(): Promise<void>;
  /** Stop for good and remove its temp dir. */
  dispose(): Promise<void>;
}

export interface MosquittoOptions {
  /** Require this user name and password (anonymous refused unless `allowAnonymous`). */
  credentials?: { username: string; password: string };
  allowAnonymous?: boolean;
  /** Contents of an ACL file (`acl_file`). */
  acl?: string;
  /** Serve TLS only (`mqtts://`) with this PEM certificate and key. */
  tls?: { certFile: string; keyFile: string };
}

/**
 * Start mosquitto with a temp config: `user root` (as root it would otherwise drop to a
 * user that cannot read our temp dir), one listener on 127.0.0.1, persistence off. Ready
 * when it logs that it is running: no polling, no sleeping.
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kalm-mosquitto-'));
  const port = await freePort();
  const lines = ['user root', `listener ${port} 127.0.0.1`, 'persistence false', 'set_tcp_nodelay true', 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice', 'log_type information'];
  if (options.credentials) {
    const passwordFile = path.join(dir, 'passwd');
    const made = spawnSync('mosquitto_passwd', ['-c', '-b', passwordFile, options.credentials.username, options.credentials.password]);
    if (made.status !== 0) throw new Error(`mosquitto_passwd failed: ${made.stderr}`);
    lines.push(`allow_anonymous ${options.allowAnonymous ? 'true' : 'false'}`, `password_file ${passwordFile}`);
  } else {
    lines.push('allow_anonymous true');
  }
  if (options.tls) lines.push(`certfile ${options.tls.certFile}`, `keyfile ${options.tls.keyFile}`);
  if (options.acl) {
    const aclFile = path.join(dir, 'acl');
    writeFileSync(aclFile, options.acl);
    lines.push(`acl_file ${aclFile}`);
  }
  const configFile = path.join(dir, 'mosquitto.conf');
  writeFileSync(configFile, `${lines.join('\n')}\n`);
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const proc = spawn(MOSQUITTO, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        if (/mosquitto version \S+ running/.test(log)) {
          proc.stderr!.off('data', onData);
          proc.stderr!.resume();
          resolve();
        }
      };
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`mosquitto exited with ${code}: ${log}`)));
      proc.once('error', reject);
    });
  }

  async function stop(): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    process.kill(proc.pid!, 'SIGTERM');
    await exited;
  }

  await start();
  return {
    port,
    url: `${options.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    start,
    stop,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
