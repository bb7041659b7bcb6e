/**
 * `kalm serve` in a child process, for the MQTT tests that kill a server (SIGKILL) or run two
 * of them on one database. Not a test file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const KALM = fileURLToPath(new URL('../../server/bin/kalm.js', import.meta.url));

export interface KalmProcess {
  proc: ChildProcess;
  port: number;
  /** Every JSON log line written so far. */
  lines: Array<Record<string, unknown>>;
  /** Resolves once `count` log lines match (already written or yet to come). */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, count?: number): Promise<void>;
  /** SIGKILL, and wait for the exit (and the last log line). */
  kill9(): Promise<void>;
  /** SIGTERM (a graceful stop), and wait for the exit (and the last log line). */
  stop(): Promise<void>;
  readonly running: boolean;
}

/** Start `kalm serve` on `dataDir` and `port`, bridged to `mqttUrl`; resolves when its bridge has subscribed. */
export function startKalm(input: { dataDir: string; port: number; mqttUrl: string; logLevel?: string; publicUrl?: string }): Promise<KalmProcess> {
  const proc = spawn(process.execPath, [KALM, 'serve'], {
    env: {
      ...process.env,
      PORT: String(input.port),
      DATA_DIR: input.dataDir,
      MQTT_URL: input.mqttUrl,
      DEMO: '0',
      LOG_LEVEL: input.logLevel ?? 'info',
      PUBLIC_URL: input.publicUrl ?? `http://127.0.0.1:${input.port}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ predicate: (line: Record<string, unknown>) => boolean; count: number; resolve: () => void }> = [];
  const settle = () => {
    for (const w of [...waiters]) {
      if (lines.filter(w.predicate).length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  let rest = '';
  let text = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    const parts = (rest + chunk.toString()).split('\n');
    rest = parts.pop()!;
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        // not a log line (the banner of kalm serve)
      }
    }
    settle();
  });
  proc.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  // 'close', not 'exit': every log line the process wrote has been read by then.
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  const waitForLog = (predicate: (line: Record<string, unknown>) => boolean, count = 1) =>
    new Promise<void>((resolve) => {
      waiters.push({ predicate, count, resolve });
      settle();
    });
  const kalm: KalmProcess = {
    proc,
    port: input.port,
    lines,
    waitForLog,
    async kill9() {
      if (kalm.running) process.kill(proc.pid!, 'SIGKILL');
      await exited;
    },
    async stop() {
      if (kalm.running) process.kill(proc.pid!, 'SIGTERM');
      await exited;
    },
    get running() {
      return proc.exitCode === null && proc.signalCode === null;
    },
  };
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`kalm serve exited with ${code}: ${text}`)));
    waitForLog((line) => line.msg === 'mqtt bridge connected and subscribed').then(() => resolve(kalm), reject);
  });
}
