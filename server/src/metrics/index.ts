/**
 * The Prometheus metrics of one server: a prom-client registry of its own (tests run many servers
 * in one process), the default Node process metrics, and the kit's own, fed by the core's
 * observer (core/observer.ts) and events and by the hooks the transports are handed
 * (metrics/hooks.ts). server.ts makes it when `METRICS_PORT` is set; listener.ts serves it.
 */
import type { IncomingMessage } from 'node:http';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { GRANT_TYPES } from '../core/clients.js';
import type { Clock } from '../core/clock.js';
import type { Core } from '../core/index.js';
import type { CoreObserver } from '../core/observer.js';
import type { Logger } from '../logger.js';
import { ENDPOINT_PATHS } from '../urls.js';
import { PendingCodes } from './device-codes.js';
import type { HttpMetrics, MqttMetrics, PushMetrics } from './hooks.js';
import { CounterSlots, HistogramSlots } from './slots.js';

/** What the gauges read when collected. */
export interface GaugeSources {
  /** Open WebSocket push sockets (push/endpoint.ts `size`). */
  pushSockets(): number;
  /** Whether the MQTT bridge is connected and subscribed; absent when there is no bridge. */
  mqttConnected?(): boolean;
}

export interface Metrics {
  registry: Registry;
  /** For `createCore`. */
  observer: CoreObserver;
  http: HttpMetrics;
  push: PushMetrics;
  mqtt: MqttMetrics;
  /** Hear the decisions of `core` (other processes' too) and read the gauges from `sources`; returns the stop function. */
  follow(core: Core, sources: GaugeSources): () => void;
  /** Every metric in the Prometheus text format, and its content type. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

// Seconds. A protocol answer takes about a millisecond; the pages and a stalled disk take longer.
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
// Seconds from approval to tokens: milliseconds over push and MQTT, about half an interval polling.
const APPROVAL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
// `kind` of the attempt limiter's keys (http/pages/kit/attempt-keys.ts) → the `limiter` label.
const ATTEMPT_LIMITERS: Record<string, string> = { device: 'code_entry', signin: 'sign_in' };
const KNOWN_GRANT_TYPES = new Set<string>(Object.values(GRANT_TYPES));
// A `grant_type` missing or not served, so that a client cannot make up label values.
const OTHER_GRANT_TYPE = 'other';
// The route of a page request no route matched (a 404): never its path.
const UNMATCHED_ROUTE = 'unmatched';
// Device codes told `approved` over push and not yet redeemed, at most; beyond it they are forgotten.
const MAX_TOLD = 10_000;

export function createMetrics(options: { clock: Clock; logger: Logger }): Metrics {
  const { clock, logger } = options;
  const registry = new Registry();
  // Process CPU, memory, event loop lag, GC, handles: the names every Node dashboard knows.
  // Their event loop monitor and GC observer last as long as the process.
  collectDefaultMetrics({ register: registry });

  const authorizations = new CounterSlots(registry, 'kalm_device_authorizations_total', 'Device codes issued (RFC 8628 §3.2), over HTTP and MQTT.', ['client_id']);
  const decisions: CounterSlots = new CounterSlots(
    registry,
    'kalm_device_decisions_total',
    'Device codes approved or denied by a person (on this process), or expired undecided (counted by the process that issued them).',
    ['client_id', 'decision'],
    // The codes that ran out since the last scrape are counted now, in this scrape.
    () => pending.sweep(),
  );
  const tokenRequests = new CounterSlots(
    registry,
    'kalm_token_requests_total',
    'Token requests (POST /token, and the MQTT bridge\'s token and refresh requests) by grant_type and result: "ok" or the OAuth error code.',
    ['grant_type', 'result'],
  );
  const reuse = new CounterSlots(registry, 'kalm_refresh_reuse_detected_total', 'Spent refresh tokens presented again (RFC 9700 §4.14.2); each revoked its grant.').slot();
  const codeEntryFailures = new CounterSlots(
    registry,
    'kalm_code_entry_failures_total',
    'User codes entered on /device that matched no pending code (what the code entry limiter counts; typos the check character catches are not).',
  ).slot();
  const rateLimited = new CounterSlots(
    registry,
    'kalm_rate_limited_total',
    'Attempts refused by a limiter: code_entry and sign_in (the attempt limiter), push_sockets (PUSH_MAX_SOCKETS_PER_IP), mqtt_flood (the MQTT per-rid flood guard).',
    ['limiter'],
  );
  const durations = new HistogramSlots(
    registry,
    'kalm_http_request_duration_seconds',
    'HTTP requests of the public listener by route template (never a raw path), method and status, from routing to the end of the answer.',
    ['route', 'method', 'status'],
    DURATION_BUCKETS,
  );
  const approvalToToken = new Histogram({
    name: 'kalm_approval_to_token_seconds',
    help: 'Seconds from a person approving a device code to the device holding its tokens, by how the device learned of it: push (a push socket here was told), poll, or mqtt.',
    labelNames: ['channel'],
    buckets: APPROVAL_BUCKETS,
    registers: [registry],
  });
  const byChannel = { push: approvalToToken.labels('push'), poll: approvalToToken.labels('poll'), mqtt: approvalToToken.labels('mqtt') };

  const pending = new PendingCodes(
    () => clock.now(),
    (clientId) => decisions.slot(clientId, 'expired').n++,
  );
  const toldApproved = new Set<number>();
  let sources: GaugeSources = { pushSockets: () => 0 };
  new Gauge({
    name: 'kalm_push_sockets',
    help: 'Open WebSocket push sockets.',
    registers: [registry],
    collect() {
      this.set(sources.pushSockets());
    },
  });
  new Gauge({
    name: 'kalm_mqtt_connected',
    help: '1 while the MQTT bridge is connected and subscribed, else 0 (also when MQTT_URL is unset).',
    registers: [registry],
    collect() {
      this.set(sources.mqttConnected?.() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kalm_pending_device_codes',
    help: 'Device codes issued by this process, neither decided nor expired.',
    registers: [registry],
    collect() {
      this.set(pending.sweep());
    },
  });

  const observer: CoreObserver = {
    deviceAuthorized(code) {
      authorizations.slot(code.clientId).n++;
      pending.issued(code.id, code.clientId, code.expiresAt);
    },
    deviceDecided(code, decision) {
      decisions.slot(code.clientId, decision).n++;
      pending.decided(code.id);
    },
    deviceCodeRedeemed(code, at, held) {
      const told = toldApproved.delete(code.id);
      if (code.decidedAt === null) return;
      const channel = held ? byChannel.mqtt : told ? byChannel.push : byChannel.poll;
      channel.observe(Math.max(0, at - code.decidedAt) / 1000);
    },
    refreshReuseDetected() {
      reuse.n++;
    },
    attemptFailed(kind) {
      if (kind === 'device') codeEntryFailures.n++;
    },
    attemptLimited(kind) {
      rateLimited.slot(ATTEMPT_LIMITERS[kind] ?? kind).n++;
    },
  };

  const http: HttpMetrics = {
    protocolAnswered(route, method = 'UNKNOWN', status, seconds, req, error) {
      durations.slot(route, method, status).observe(seconds);
      if (route === ENDPOINT_PATHS.token && method === 'POST') tokenRequests.slot(grantTypeOf(req), error ?? 'ok').n++;
    },
    pageAnswered(route = UNMATCHED_ROUTE, method = 'UNKNOWN', status, seconds) {
      durations.slot(route, method, status).observe(seconds);
    },
  };

  const push: PushMetrics = {
    toldApproved(deviceCodeId) {
      if (toldApproved.size >= MAX_TOLD) toldApproved.clear();
      toldApproved.add(deviceCodeId);
    },
    refusedTooMany() {
      rateLimited.slot('push_sockets').n++;
    },
  };

  const mqtt: MqttMetrics = {
    tokenAnswered(action, result) {
      tokenRequests.slot(action === 'token' ? GRANT_TYPES.deviceCode : GRANT_TYPES.refreshToken, result).n++;
    },
    flooded() {
      rateLimited.slot('mqtt_flood').n++;
    },
  };

  return {
    registry,
    observer: guarded(observer, logger),
    http,
    push,
    mqtt,
    follow(core, gaugeSources) {
      sources = gaugeSources;
      // Decisions taken on other processes on the database end a code issued here as well.
      return core.events.subscribe((event) => {
        if (event.type === 'approved' || event.type === 'denied') pending.decided(event.deviceCodeId);
      });
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

/** The `grant_type` of a parsed token request, as a label: one of the grant types served, or `other`. */
function grantTypeOf(req: IncomingMessage): string {
  // The form body parser (http/body-parsers.ts) leaves what it read in `body`.
  const body = (req as IncomingMessage & { body?: unknown }).body;
  const grantType = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).grant_type : undefined;
  return typeof grantType === 'string' && KNOWN_GRANT_TYPES.has(grantType) ? grantType : OTHER_GRANT_TYPE;
}

/** The observer, each call of which logs instead of throwing: a metric must never fail a flow (a redemption is already committed when it is told). */
function guarded(observer: CoreObserver, logger: Logger): CoreObserver {
  const safe = {} as Record<keyof CoreObserver, (...args: never[]) => void>;
  for (const name of Object.keys(observer) as Array<keyof CoreObserver>) {
    const method = observer[name] as (...args: unknown[]) => void;
    safe[name] = (...args: unknown[]) => {
      try {
        method(...args);
      } catch (err) {
        logger.error({ err, metric: name }, 'counting a metric failed');
      }
    };
  }
  return safe as CoreObserver;
}
