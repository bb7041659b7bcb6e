import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { IClientOptions } from 'mqtt';
import type { Config } from '../config.js';
import { MAX_PACKET_BYTES } from './payloads.js';
import { PROOF_MAX_SKEW_SECONDS } from './proofs.js';

/**
 * How long the broker keeps the bridge's session after the connection drops without a
 * DISCONNECT (a crash): its subscriptions stay, and requests the broker routes to it are
 * queued until it is back. As long as a token proof stays fresh: a request queued longer
 * would be refused as stale anyway. After that the broker drops the session, and with it
 * this bridge's place in the share group, so the other bridges get every request.
 */
export const SESSION_EXPIRY_SECONDS = PROOF_MAX_SKEW_SECONDS;

/** Reconnect backoff: doubles from `minMs` to `maxMs`, with ±20 % jitter so a fleet of servers does not reconnect in step. */
export interface Backoff {
  minMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { minMs: 250, maxMs: 30_000 };

export function backoffDelay(attempt: number, backoff: Backoff): number {
  const base = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.min(attempt, 20));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * A client id stable across restarts of the same server (same host, data dir and port), so the
 * broker keeps the bridge's session (its subscriptions and the QoS 1 requests that arrived
 * while it was away), and different for two servers sharing a broker, even two on one host
 * and one data dir (same id would make the broker drop one connection for the other).
 */
export function defaultClientId(config: Config): string {
  const digest = createHash('sha256').update(`${hostname()}\0${config.dataDir}\0${config.port}`).digest('base64url');
  return `kalm-bridge-${digest.slice(0, 16)}`;
}

/** The broker URL without credentials, for log lines. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '[unparseable MQTT_URL]';
  }
}

/** mqtt.js options of the bridge's connection. Reconnecting is ours (with backoff), so mqtt.js's own is off. */
export function connectionOptions(config: Config): IClientOptions {
  const options: IClientOptions = {
    // MQTT 5 so Response Topic / Correlation Data of v5 devices are seen; 3.1.1 devices talk to the same broker.
    protocolVersion: 5,
    clientId: config.mqttClientId ?? defaultClientId(config),
    clean: false,
    keepalive: 30,
    connectTimeout: 10_000,
    reconnectPeriod: 0,
    resubscribe: false,
    properties: { sessionExpiryInterval: SESSION_EXPIRY_SECONDS, maximumPacketSize: MAX_PACKET_BYTES },
  };
  if (config.mqttUsername !== undefined) options.username = config.mqttUsername;
  if (config.mqttPassword !== undefined) options.password = config.mqttPassword;
  // mqtts:// verifies the broker against the system CAs, or this file for a private CA.
  if (config.mqttCaFile) options.ca = readFileSync(config.mqttCaFile);
  return options;
}
