import WebSocket from 'ws';
import type { Logger } from '../logger.js';
import { PUSH_CLOSE, type PushLimits } from './limits.js';
import { parseSubscribe, type PushMessage, type PushStatus, type SubscribeRequest } from './protocol.js';

/** What a session needs from the hub: to register its subscription, and to be forgotten. */
export interface SessionHost {
  subscribe(session: PushSession, request: SubscribeRequest): Promise<void>;
  remove(session: PushSession): void;
}

type State = 'awaiting' | 'subscribing' | 'subscribed' | 'ended';

/**
 * One socket: waits for the subscribe message, hands it to the hub, relays the one
 * final status and closes. Every way out goes through `end`, which forgets the
 * session in the hub exactly once.
 */
export class PushSession {
  private state: State = 'awaiting';
  private authTimer: NodeJS.Timeout | undefined;
  /** Set by a pong, cleared by each heartbeat. */
  private alive = true;

  constructor(
    readonly ws: WebSocket,
    readonly ip: string,
    private readonly host: SessionHost,
    private readonly limits: PushLimits,
    private readonly logger: Logger,
    onClosed: () => void,
  ) {
    // A socket that never says who it is holds a file descriptor for nothing.
    this.authTimer = setTimeout(() => this.end(PUSH_CLOSE.authTimeout, 'no subscribe message in time'), limits.authTimeoutMs);
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('pong', () => {
      this.alive = true;
    });
    // ws reports protocol violations (oversized frame → 1009, bad UTF-8 → 1007) here and closes by itself.
    ws.on('error', (err) => logger.debug({ ip, reason: err.message }, 'push socket error'));
    ws.once('close', () => {
      this.forget();
      onClosed();
    });
  }

  get ended(): boolean {
    return this.state === 'ended';
  }

  /** Ping, or drop the peer that did not answer the last ping. */
  heartbeat(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (!this.alive) {
      this.logger.debug({ ip: this.ip }, 'push peer missed a heartbeat, dropped');
      this.forget();
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  /** Tell the client it is subscribed. A decided status ends the subscription at once. */
  subscribed(status: PushStatus): void {
    if (this.state === 'ended') return;
    this.state = 'subscribed';
    this.clearAuthTimer();
    this.send({ type: 'subscribed', status });
    if (status !== 'pending' && status !== 'paired') this.end(PUSH_CLOSE.normal, status);
  }

  /** Deliver the final status and close normally. */
  finish(status: Exclude<PushStatus, 'pending' | 'paired'>): void {
    if (this.state === 'ended') return;
    this.send({ type: 'status', status });
    this.end(PUSH_CLOSE.normal, status);
  }

  /** Close with `code`; the hub forgets the session now, not when the peer answers. */
  end(code: number, reason: string): void {
    if (this.state === 'ended') return;
    this.forget();
    if (code !== PUSH_CLOSE.normal) this.logger.debug({ ip: this.ip, code, reason }, 'push socket closed');
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
  }

  private send(message: PushMessage): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    // Never buffer for a peer that does not read: what the kernel has not taken yet stays bounded.
    if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) {
      this.logger.debug({ ip: this.ip, buffered: this.ws.bufferedAmount }, 'push peer does not read, dropped');
      this.forget();
      this.ws.terminate();
      return;
    }
    this.ws.send(JSON.stringify(message));
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.state !== 'awaiting') {
      // The protocol has one client message; anything after it is a client bug or an attack.
      this.end(PUSH_CLOSE.malformed, 'unexpected message');
      return;
    }
    const request = parseSubscribe(data, isBinary);
    if (!request) {
      this.end(PUSH_CLOSE.malformed, 'malformed subscribe message');
      return;
    }
    this.state = 'subscribing';
    this.host.subscribe(this, request).catch((err: unknown) => {
      this.logger.error({ err }, 'push subscribe failed');
      this.end(PUSH_CLOSE.internalError, 'internal error');
    });
  }

  private clearAuthTimer(): void {
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = undefined;
  }

  private forget(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.clearAuthTimer();
    this.host.remove(this);
  }
}
