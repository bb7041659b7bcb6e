import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../helpers/server.js';

const KALM_BIN = fileURLToPath(new URL('../../../server/bin/kalm.js', import.meta.url));
const READY_LINE = 'Kalm authorization server on ';
const STARTUP_TIMEOUT_MS = 30_000;

/** `kalm serve` running as a separate process, so it can be killed with SIGKILL. */
export interface ChildServer {
  url: string;
  pid: number;
  process: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resident set size of the process in bytes (Linux `/proc`). */
  rss(): number;
  /** SIGKILL, and resolve once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful close), and resolve once the process is gone. */
  stop(): Promise<void>;
}

/**
 * Start `node server/bin/kalm.js serve` on a free port with `dataDir`, resolving on
 * its "listening" line (an event, never a sleep) and rejecting if it exits first.
 */
export async function startChildServer(dataDir: string, env: Record<string, string> = {}): Promise<ChildServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [KALM_BIN, 'serve'], {
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: url,
      DEMO: '0',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kalm serve did not start within ${STARTUP_TIMEOUT_MS} ms:\n${output}`));
    }, STARTUP_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(READY_LINE)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`kalm serve exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  const ended = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    url,
    pid: child.pid!,
    process: child,
    output: () => output,
    rss() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+) kB/.exec(status);
      return kb ? Number(kb[1]) * 1024 : Number.NaN;
    },
    kill: () => ended('SIGKILL'),
    stop: () => ended('SIGTERM'),
  };
}
