/**
 * What the transports tell the metrics (metrics/index.ts), as interfaces only: the HTTP stacks,
 * the push endpoint and the MQTT bridge each get theirs from server.ts, or none when
 * `METRICS_PORT` is unset, and none of them imports prom-client, the metrics or another transport.
 * Every method is cheap and never throws.
 */
import type { IncomingMessage } from 'node:http';

/** The end of every HTTP request of the public listener. */
export interface HttpMetrics {
  /**
   * A protocol endpoint (http/protocol/routes.ts) answered `status` after `seconds`. `route` is
   * the endpoint's path as it is published, `req` the request with its parsed form (`body`),
   * `error` the OAuth error code of an error answer (`server_error` for a fault).
   */
  protocolAnswered(route: string, method: string | undefined, status: number, seconds: number, req: IncomingMessage, error: string | undefined): void;
  /** The pages app answered: `route` is the template of the route that matched, undefined when none did. */
  pageAnswered(route: string | undefined, method: string | undefined, status: number, seconds: number): void;
}

/** The WebSocket push endpoint. */
export interface PushMetrics {
  /** The sockets waiting on this device code were told it is approved. */
  toldApproved(deviceCodeId: number): void;
  /** A socket was refused: its address holds `PUSH_MAX_SOCKETS_PER_IP` already. */
  refusedTooMany(): void;
}

/** The MQTT bridge. */
export interface MqttMetrics {
  /** A token (device code) or refresh request was answered: `result` is `ok` or the OAuth error code. */
  tokenAnswered(action: 'token' | 'refresh', result: string): void;
  /** A request was dropped by the per-rid flood guard (mqtt/limiter.ts). */
  flooded(): void;
}
