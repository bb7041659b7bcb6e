/**
 * The child side of a benchmark process: a server (ours or a reference) or a load
 * generator talks to bench/run.ts over the IPC channel of `child_process.fork`.
 */

/** Calls the parent may make on a server child, by name. */
export type Handlers = Record<string, (args: unknown) => Promise<unknown>>;

/** What a server child announces once it listens. */
export interface ReadyMessage {
  type: 'ready';
  url: string;
  /** Path of the RFC 8628 device authorization endpoint on this server. */
  deviceAuthorizationPath: string;
  tokenPath: string;
  version: string;
}

interface CallMessage {
  type: 'call';
  id: number;
  name: string;
  args: unknown;
}

/** Announce readiness, then answer the parent's calls until it disconnects or sends SIGTERM. */
export function serveParent(ready: Omit<ReadyMessage, 'type'>, handlers: Handlers, close: () => Promise<void>): void {
  if (!process.send) throw new Error('this script is started by bench/run.ts (it needs an IPC channel)');
  process.on('message', (raw) => {
    const msg = raw as CallMessage;
    if (msg?.type !== 'call') return;
    const handler = handlers[msg.name];
    const reply = handler ? handler(msg.args) : Promise.reject(new Error(`no handler "${msg.name}"`));
    reply.then(
      (value) => process.send!({ type: 'result', id: msg.id, value }),
      (err: unknown) => process.send!({ type: 'result', id: msg.id, error: String((err as Error)?.stack ?? err) }),
    );
  });
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
  process.send({ type: 'ready', ...ready });
}

/** Resident memory and heap of this process, in MiB. */
export function memoryMiB(): { rss: number; heapUsed: number } {
  const m = process.memoryUsage();
  return { rss: m.rss / 2 ** 20, heapUsed: m.heapUsed / 2 ** 20 };
}
