import type { Config } from '../config.js';

/**
 * Close codes of the push protocol. 1000/1009 are RFC 6455 §7.4.1; the 4xxx range is
 * ours (RFC 6455 §7.4.2: "reserved for private use"), numbered after the HTTP status
 * a client would recognise.
 */
export const PUSH_CLOSE = {
  /** The subscription ended: a final status was delivered. */
  normal: 1000,
  /** The server is shutting down; the device falls back to polling. */
  goingAway: 1001,
  /** Something broke on our side. */
  internalError: 1011,
  /** A frame larger than `maxPayloadBytes` (ws closes with it itself). */
  tooLarge: 1009,
  /** A malformed first message, a binary frame, or any message after subscribing. */
  malformed: 4400,
  /** No subscribe message within the timeout. */
  authTimeout: 4401,
  /**
   * A DPoP-bound access token without a valid proof of its key (missing, of another key, for
   * another URL, stale or replayed): RFC 9449 §7.1, answered 401 `invalid_dpop_proof` over HTTP.
   */
  dpopProof: 4403,
  /** Unknown, expired or used device code, or an invalid access token. */
  notFound: 4404,
  /** Too many sockets from this IP address. */
  tooMany: 4429,
} as const;

/** Every limit the endpoint enforces; all have defaults so nothing is unbounded. */
export interface PushLimits {
  /** Largest accepted frame (the subscribe message); larger ones are closed with 1009. */
  maxPayloadBytes: number;
  /** Time from the handshake to the subscribe message. */
  authTimeoutMs: number;
  /** Sockets one remote address may hold. */
  maxSocketsPerIp: number;
  /** Ping interval; a peer silent for a whole interval is terminated. */
  heartbeatMs: number;
  /**
   * Bytes the kernel may not yet have taken from us for one socket. A peer that lets
   * that much pile up does not read, and is dropped rather than buffered for.
   */
  maxBufferedBytes: number;
  /** On shutdown, how long to wait for peers to answer the close before cutting them. */
  shutdownGraceMs: number;
}

export function pushLimits(config: Config): PushLimits {
  return {
    maxPayloadBytes: 4 * 1024,
    authTimeoutMs: config.pushAuthTimeoutMs,
    maxSocketsPerIp: config.pushMaxSocketsPerIp,
    heartbeatMs: config.pushHeartbeatMs,
    maxBufferedBytes: 64 * 1024,
    shutdownGraceMs: 1_000,
  };
}

/** Query parameters that would carry a credential: refused before the handshake (they end up in logs and histories). */
export const CREDENTIAL_PARAMS = ['device_code', 'access_token', 'token', 'refresh_token', 'code', 'client_secret'];
