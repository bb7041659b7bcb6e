/** IPC messages between the push benchmark's orchestrator and its two child processes. */

/** Orchestrator → server child. */
export type ToServer = { type: 'approve'; seq: number; userCode: string } | { type: 'measure' } | { type: 'ping'; seq: number };

/** Server child → orchestrator. */
export type FromServer =
  | { type: 'ready'; url: string; clientId: string; pid: number }
  | { type: 'approved'; seq: number; error?: string }
  | { type: 'measured'; rssBytes: number; heapUsedBytes: number }
  | { type: 'pong'; seq: number };

/**
 * Orchestrator → clients child. `authorize` gets `devices` device codes over HTTP and then
 * closes its HTTP connections; `subscribe` opens one push socket per code held.
 */
export type ToClients =
  | { type: 'authorize'; url: string; clientId: string; devices: number; concurrency: number }
  | { type: 'subscribe'; concurrency: number };

/** Clients child → orchestrator. */
export type FromClients =
  | { type: 'authorized'; seconds: number; failures: number }
  | { type: 'connected'; userCodes: string[]; seconds: number; failures: number }
  | { type: 'progress'; connected: number }
  /** Device `index` holds a verified access token; `tokenMs` is its /token call plus JWT verification, `verifyMs` the latter. */
  | { type: 'done'; index: number; tokenMs: number; verifyMs: number; error?: string };
