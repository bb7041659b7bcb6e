import { EventEmitter } from 'node:events';
import { connect, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Core } from '../core/index.js';
import type { Logger } from '../logger.js';
import type { MqttMetrics } from '../metrics/hooks.js';
import type { MqttRepository } from '../store/port/index.js';
import { backoffDelay, connectionOptions, DEFAULT_BACKOFF, redactedUrl, type Backoff } from './connection.js';
import { createHandlers } from './handlers.js';
import { createFloodLimiter, DEFAULT_FLOOD_LIMITS, type FloodLimiter, type FloodLimits } from './limiter.js';
import { createPresence, type Presence } from './presence.js';
import { PROOF_MAX_SKEW_SECONDS } from './proofs.js';
import { createRequestRouter, type RequestRouter } from './requests.js';
import { createStatusNotifier, type StatusNotifier } from './status.js';
import { createTopics, type Topics } from './topics.js';
import { createWriteBehind, type WriteBehind } from './write-behind.js';

export interface MqttBridgeOptions {
  core: Core;
  repo: MqttRepository;
  logger: Logger;
  backoff?: Backoff;
  floodLimits?: FloodLimits;
  /** How often undelivered statuses (expiry above all) are looked for, ms. Default 1000. */
  sweepMs?: number;
  /** Hears the token and refresh answers and the flood drops (server.ts, with METRICS_PORT). */
  metrics?: MqttMetrics | undefined;
}

/**
 * The running bridge. Emits `ready` each time it is connected and subscribed, `offline`
 * each time the connection drops, `connectionError` (with the error) when the broker
 * refuses or cannot be reached.
 */
export interface MqttBridge extends EventEmitter {
  readonly connected: boolean;
  /** Resolves when the bridge is connected and subscribed (at once if it is now). */
  ready(): Promise<void>;
  /** Stop: finish requests being served, disconnect, stop reconnecting. */
  stop(): Promise<void>;
}

// Kept refresh answers are purged once a minute (at the default sweep): a scan, not a lookup.
const REFRESH_PURGE_EVERY_SWEEPS = 60;

/** The bridge's parts and its connection state, shared by the steps below. */
interface Bridge {
  core: Core;
  repo: MqttRepository;
  log: Logger;
  client: MqttClient;
  topics: Topics;
  emitter: EventEmitter;
  backoff: Backoff;
  limiter: FloodLimiter;
  writeBehind: WriteBehind;
  notifier: StatusNotifier;
  requests: RequestRouter;
  presence: Presence;
  connected: boolean;
  stopping: boolean;
  attempt: number;
  reconnectTimer: NodeJS.Timeout | undefined;
}

/**
 * Connect to `config.mqttUrl` and serve the device flow over the topics of `topics.ts`.
 * Returns at once; connecting (and every reconnect, with backoff) happens in the background,
 * so a missing broker never holds up the HTTP side.
 */
export function startMqttBridge(options: MqttBridgeOptions): MqttBridge {
  const { core, repo, logger } = options;
  const config = core.config;
  if (!config.mqttUrl) throw new Error('startMqttBridge needs config.mqttUrl');
  const url = config.mqttUrl;
  const log = logger.child({ component: 'mqtt', broker: redactedUrl(url) });
  const topics = createTopics(config.mqttTopicPrefix);
  const limiter = createFloodLimiter(options.floodLimits ?? DEFAULT_FLOOD_LIMITS);
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const emitter = new EventEmitter();
  const connectOptions = connectionOptions(config);
  const clientId = connectOptions.clientId!;
  const client: MqttClient = connect(url, connectOptions);
  // Asked only once the bridge runs, by when `bridge` below is there to answer.
  const isConnected = () => bridge.connected;
  const publish = publisher(client);
  const writeBehind = createWriteBehind(repo, (err) => log.error({ err }, 'mqtt bookkeeping write failed'));
  const notifier = createStatusNotifier({
    core,
    repo,
    topics,
    logger: log,
    isConnected,
    publish: (topic, body) => publish(topic, JSON.stringify(body)),
    writeBehind,
  });
  const handlers = createHandlers({
    core,
    repo,
    repeatStatus: (rid) => notifier.repeat(rid),
    rememberTokenProof: (rid, jti, expiresAt) => writeBehind.rememberProof(rid, jti, expiresAt),
  });
  const requests = createRequestRouter({ core, topics, limiter, handlers, publish, log, metrics: options.metrics });
  const presence = createPresence({ repo, client, clientId, topics, clock: core.clock, log, isConnected });
  const bridge: Bridge = { core, repo, log, client, topics, emitter, backoff, limiter, writeBehind, notifier, requests, presence, connected: false, stopping: false, attempt: 0, reconnectTimer: undefined };
  listen(bridge);
  const unsubscribe = tellDecisions(core, notifier);
  const sweeper = startSweeper(bridge, options.sweepMs ?? 1000);
  // A getter, not a value: Object.assign would copy what `connected` is now, once.
  Object.defineProperty(emitter, 'connected', { get: () => bridge.connected, enumerable: true });
  return Object.assign(emitter, {
    ready(): Promise<void> {
      if (bridge.connected) return Promise.resolve();
      return new Promise<void>((resolve) => emitter.once('ready', () => resolve()));
    },
    stop: () => stop(bridge, sweeper, unsubscribe),
  }) as MqttBridge;
}

/** Publishes on the bridge's connection; resolves when the broker acknowledges. */
function publisher(client: MqttClient) {
  return (topic: string, payload: string, properties?: IPublishPacket['properties']): Promise<void> =>
    new Promise((resolve, reject) => {
      // QoS 1, never retained (issue 6): an answer is for the device that is listening now.
      client.publish(topic, payload, { qos: 1, retain: false, ...(properties ? { properties } : {}) }, (err) => (err ? reject(err) : resolve()));
    });
}

/** The connection's events: subscribe on connect, reconnect on close, route every message. */
function listen(bridge: Bridge): void {
  const { client, log, emitter } = bridge;
  client.on('connect', (connack) => {
    bridge.attempt = 0;
    // Small request/answer packets: without TCP_NODELAY, Nagle and the peer's delayed ACK add
    // about 40 ms to an answer that follows another unacknowledged one (mqtt.js does not set it).
    (client.stream as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    subscribe(bridge, connack.sessionPresent);
  });
  client.on('close', () => {
    if (bridge.connected) {
      log.warn('mqtt connection lost');
      emitter.emit('offline');
    }
    bridge.connected = false;
    scheduleReconnect(bridge);
  });
  // Errors (refused connection, bad credentials: reason 135) are followed by `close`; never thrown.
  client.on('error', (err) => {
    log.warn({ err: err.message }, 'mqtt connection error');
    emitter.emit('connectionError', err);
  });
  client.on('message', (topic, payload, packet) => {
    try {
      bridge.requests.route(topic, payload, packet);
    } catch (err) {
      log.error({ err }, 'mqtt message handling failed');
    }
  });
}

/** Subscribe to the request topics; once subscribed the bridge is ready and tells what is pending. */
function subscribe(bridge: Bridge, sessionPresent: boolean): void {
  const { client, log, core } = bridge;
  client.subscribe(
    bridge.topics.subscriptions,
    // Shared (topics.ts), so No Local is not set: it is a protocol error on a shared
    // subscription (MQTT 5 §3.8.3.1), and none is needed, as no request filter matches an
    // answer or a status the bridge publishes.
    { qos: 1 },
    (err) => {
      if (err) {
        log.error({ err: err.message }, 'mqtt subscribe failed; reconnecting');
        client.end(true, () => scheduleReconnect(bridge));
        return;
      }
      bridge.connected = true;
      log.info({ sessionPresent }, 'mqtt bridge connected and subscribed');
      bridge.presence.heartbeat(core.clock.now());
      bridge.emitter.emit('ready');
      // Back (or new) on the broker: what was decided meanwhile is told now.
      bridge.notifier.sweep(true).catch((e) => log.error({ err: e }, 'mqtt status sweep failed'));
    },
  );
}

function scheduleReconnect(bridge: Bridge): void {
  if (bridge.stopping || bridge.reconnectTimer) return;
  const delay = backoffDelay(bridge.attempt++, bridge.backoff);
  bridge.log.info({ delayMs: delay, attempt: bridge.attempt }, 'mqtt reconnecting');
  bridge.reconnectTimer = setTimeout(() => {
    bridge.reconnectTimer = undefined;
    if (!bridge.stopping) bridge.client.reconnect();
  }, delay);
}

/** Publishes this process's decisions and expiries to the devices waiting on them; returns the unsubscribe. */
function tellDecisions(core: Core, notifier: StatusNotifier): () => void {
  return core.events.subscribe((event) => {
    // A decision taken by another process is that process's bridge's to tell (or, when it has
    // none, this sweep's, from the stored notified status): telling it here too would send the
    // device every status twice.
    if (event.remote) return;
    if (event.type === 'approved' || event.type === 'denied' || event.type === 'expired') notifier.onDeviceCode(event.deviceCodeId);
  });
}

// core.expiry publishes `expired` for the codes the bridge watches; this sweep also finds
// decisions and expiries not yet told (broker away, server restarted), and the stored
// `notified_status` keeps the two from telling twice.
// The flush and the sweep take turns, flush first, and a tick is skipped while the last one's are
// still running: the sweep's read then starts after the statuses told so far are stored, and no
// flush takes a status out of memory while a sweep that read the store before it was stored
// still decides whether to tell it (it would tell the device a second time).
function startSweeper(bridge: Bridge, sweepMs: number): NodeJS.Timeout {
  const { core, repo, log } = bridge;
  let sweeps = 0;
  let running = false;
  const flushThenSweep = async () => {
    try {
      await bridge.writeBehind.flush().catch((err) => log.error({ err }, 'mqtt bookkeeping write failed'));
      await bridge.notifier.sweep().catch((err) => log.error({ err }, 'mqtt status sweep failed'));
    } finally {
      running = false;
    }
  };
  const sweeper = setInterval(() => {
    const now = core.clock.now();
    if (bridge.connected) bridge.presence.heartbeatIfDue(now);
    bridge.limiter.prune(now);
    if (!running) {
      running = true;
      void flushThenSweep();
    }
    repo.purgeProofs(now - PROOF_MAX_SKEW_SECONDS * 1000).catch((err) => log.error({ err }, 'mqtt proof purge failed'));
    if (++sweeps % REFRESH_PURGE_EVERY_SWEEPS === 0) {
      repo.purgeRefreshAnswers(now).catch((err) => log.error({ err }, 'mqtt refresh answer purge failed'));
    }
  }, sweepMs);
  sweeper.unref();
  return sweeper;
}

/** Stop: finish requests being served, disconnect, stop reconnecting. */
async function stop(bridge: Bridge, sweeper: NodeJS.Timeout, unsubscribe: () => void): Promise<void> {
  bridge.stopping = true;
  clearInterval(sweeper);
  clearTimeout(bridge.reconnectTimer);
  unsubscribe();
  await bridge.presence.leaveShareGroupIfOthersServe();
  await bridge.requests.drain();
  await bridge.writeBehind.flush().catch((err) => bridge.log.error({ err }, 'mqtt bookkeeping write failed'));
  await bridge.client.endAsync(!bridge.connected);
  bridge.connected = false;
}
