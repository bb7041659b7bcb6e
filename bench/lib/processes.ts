import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ReadyMessage } from './child.js';

/** The bench/ folder, so scripts can be found wherever `npm run bench` is started from. */
export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));

/** A TypeScript script run by Node through tsx, in its own process, with an IPC channel. */
export function forkScript(script: string, env: Record<string, string> = {}, execArgv: string[] = []): ChildProcess {
  return fork(fileURLToPath(new URL(`../${script}`, import.meta.url)), [], {
    execArgv: ['--import', 'tsx', ...execArgv],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Resolve with the first IPC message of `type` the child sends; reject if it exits first or takes too long. */
export function nextMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no "${type}" message from pid ${child.pid} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (msg: { type?: string }) => {
      if (msg?.type === type) done(undefined, msg as T);
    };
    const onExit = (code: number | null, signal: string | null) => done(new Error(`pid ${child.pid} exited (${code ?? signal}) before "${type}"`));
    function done(err?: Error, value?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(value as T);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Stop a child we started: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A server under test, running in its own process. */
export interface ServerProcess extends ReadyMessage {
  /** Short name used in tables: `ours`, `oidc-provider`, `node:http`. */
  name: string;
  pid: number;
  /** Call one of the child's handlers (`refreshPool`, `memory`, …). */
  call<T>(name: string, args?: unknown): Promise<T>;
  stop(): Promise<void>;
}

/** Fork a server script from bench/refs/ and wait until it listens. */
export async function startServerProcess(name: string, script: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  // BENCH_PROFILE=ours (or a comma list of server names) writes a V8 CPU profile of that server on exit.
  const profiled = (process.env.BENCH_PROFILE ?? '').split(',').includes(name);
  const child = forkScript(script, env, profiled ? ['--cpu-prof', '--cpu-prof-dir', `${BENCH_DIR}results/profiles`] : []);
  const ready = await nextMessage<ReadyMessage>(child, 'ready', 60_000);
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on('message', (raw) => {
    const msg = raw as { type?: string; id: number; value?: unknown; error?: string };
    if (msg?.type !== 'result') return;
    const waiter = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) waiter?.reject(new Error(`${name}: ${msg.error}`));
    else waiter?.resolve(msg.value);
  });
  child.on('exit', () => {
    for (const w of pending.values()) w.reject(new Error(`${name} exited`));
    pending.clear();
  });
  return {
    ...ready,
    name,
    pid: child.pid!,
    call<T>(handler: string, args?: unknown) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ type: 'call', id, name: handler, args });
      });
    },
    stop: () => stopChild(child),
  };
}
