import { EventEmitter } from 'node:events';
import { connect, type IPublishPacket, type MqttClient } from 'mqtt';
import { OAuthError } from '../core/errors.js';
import type { Core } from '../core/index.js';
import type { Logger } from '../logger.js';
import type { MqttRepository } from '../store/port/index.js';
import { backoffDelay, connectionOptions, DEFAULT_BACKOFF, redactedUrl, type Backoff } from './connection.js';
import { createHandlers, type Answer } from './handlers.js';
import { createFloodLimiter, DEFAULT_FLOOD_LIMITS, type FloodLimits } from './limiter.js';
import { MAX_PAYLOAD_BYTES } from './payloads.js';
import { PROOF_MAX_SKEW_SECONDS } from './proofs.js';
import { createStatusNotifier } from './status.js';
import { createTopics, type RequestAction } from './topics.js';
import { createWriteBehind } from './write-behind.js';

export interface MqttBridgeOptions {
  core: Core;
  repo: MqttRepository;
  logger: Logger;
  backoff?: Backoff;
  floodLimits?: FloodLimits;
  /** How often undelivered statuses (expiry above all) are looked for, ms. Default 1000. */
  sweepMs?: number;
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

// Requests being served at once, all rids together; beyond it new ones are dropped (and logged).
const MAX_PENDING = 5000;
// A connected bridge writes a heartbeat this often; one not seen for PRESENCE_STALE_MS is gone.
const PRESENCE_EVERY_MS = 5000;
const PRESENCE_STALE_MS = 15_000;
// Kept refresh answers are purged once a minute (at the default sweep): a scan, not a lookup.
const REFRESH_PURGE_EVERY_SWEEPS = 60;

interface Incoming {
  rid: string;
  action: RequestAction;
  responseTopic: string | undefined;
  correlationData: Buffer | undefined;
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
  const chains = new Map<string, Promise<void>>();
  const floodLogged = new Set<string>();
  let pending = 0;
  let connected = false;
  let stopping = false;
  let attempt = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;

  const connectOptions = connectionOptions(config);
  const clientId = connectOptions.clientId!;
  const client: MqttClient = connect(url, connectOptions);
  let lastBeat = -Infinity;
  function heartbeat(now: number): void {
    lastBeat = now;
    repo.markBridgeSeen(clientId, now).catch((err) => log.error({ err }, 'mqtt bridge heartbeat failed'));
  }

  function publish(topic: string, payload: string, properties?: IPublishPacket['properties']): Promise<void> {
    return new Promise((resolve, reject) => {
      // QoS 1, never retained (issue 6): an answer is for the device that is listening now.
      client.publish(topic, payload, { qos: 1, retain: false, ...(properties ? { properties } : {}) }, (err) => (err ? reject(err) : resolve()));
    });
  }

  const writeBehind = createWriteBehind(repo, (err) => log.error({ err }, 'mqtt bookkeeping write failed'));
  const notifier = createStatusNotifier({
    core,
    repo,
    topics,
    logger: log,
    isConnected: () => connected,
    publish: (topic, body) => publish(topic, JSON.stringify(body)),
    writeBehind,
  });
  const handlers = createHandlers({
    core,
    repo,
    repeatStatus: (rid) => notifier.repeat(rid),
    rememberTokenProof: (rid, jti, expiresAt) => writeBehind.rememberProof(rid, jti, expiresAt),
  });

  function reply(req: Incoming, result: 'accepted' | 'rejected', body: Answer['body'] | Record<string, unknown>): void {
    const payload = typeof body === 'string' ? body : JSON.stringify(body);
    let topic = topics.answer(req.rid, req.action, result);
    const properties: NonNullable<IPublishPacket['properties']> = {};
    // MQTT 5 §4.10: answer on the Response Topic with the Correlation Data echoed.
    if (req.responseTopic && topics.isAllowedResponseTopic(req.rid, req.responseTopic)) {
      topic = req.responseTopic;
      properties.userProperties = { result };
    }
    if (req.correlationData) properties.correlationData = req.correlationData;
    publish(topic, payload, Object.keys(properties).length > 0 ? properties : undefined).catch((err: Error) =>
      log.warn({ rid: req.rid, action: req.action, err: err.message }, 'mqtt answer not acknowledged; the device will ask again'),
    );
  }

  function reject(req: Incoming, error: OAuthError): void {
    log.info({ rid: req.rid, action: req.action, error: error.error }, `mqtt ${req.action} rejected: ${error.description}`);
    reply(req, 'rejected', error.toJSON());
  }

  async function serve(req: Incoming, payload: Buffer): Promise<void> {
    try {
      if (req.responseTopic !== undefined && !topics.isAllowedResponseTopic(req.rid, req.responseTopic)) {
        throw new OAuthError('invalid_request', `Response Topic must lie under ${config.mqttTopicPrefix}/device/{rid}/ and not be a request topic`);
      }
      const answer = await handlers[req.action](req.rid, payload);
      log.debug({ rid: req.rid, action: req.action }, `mqtt ${req.action} accepted`);
      reply(req, 'accepted', answer.body);
    } catch (err) {
      if (err instanceof OAuthError) return reject(req, err);
      log.error({ rid: req.rid, action: req.action, err }, 'mqtt request failed');
      reply(req, 'rejected', { error: 'server_error', error_description: 'the server could not handle this request' });
    }
  }

  function onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const parsed = topics.parse(topic);
    if (!parsed) return; // not a request topic (our subscriptions only match request topics)
    const { rid, action } = parsed;
    if (!limiter.take(rid, core.clock.now())) {
      // One log line per flood, not one per dropped message: a flood must not flood the logs.
      if (!floodLogged.has(rid)) {
        if (floodLogged.size >= 10_000) floodLogged.clear();
        floodLogged.add(rid);
        log.warn({ rid: rid.slice(0, 128), action }, 'mqtt flood from one rid: dropping its messages');
      }
      return;
    }
    floodLogged.delete(rid);
    if (pending >= MAX_PENDING) {
      log.warn({ rid, action, pending }, 'mqtt bridge overloaded: request dropped');
      return;
    }
    const responseTopic = packet.properties?.responseTopic;
    const correlationData = packet.properties?.correlationData;
    const req: Incoming = { rid, action, responseTopic, correlationData };
    if (!parsed.ridValid) {
      log.warn({ action }, 'mqtt request with an invalid rid');
      if (parsed.ridAnswerable) reject(req, new OAuthError('invalid_request', 'rid must be 22 to 128 base64url characters (at least 128 random bits)'));
      return;
    }
    if (payload.length > MAX_PAYLOAD_BYTES) {
      return reject(req, new OAuthError('invalid_request', `payload larger than ${MAX_PAYLOAD_BYTES} bytes`));
    }
    // One request of a rid at a time, in arrival order: a repeated authorize or two token
    // requests in a row see each other's effects.
    pending++;
    const previous = chains.get(rid) ?? Promise.resolve();
    const next = previous.then(() => serve(req, payload)).finally(() => {
      pending--;
      if (chains.get(rid) === next) chains.delete(rid);
    });
    chains.set(rid, next);
  }

  function scheduleReconnect(): void {
    if (stopping || reconnectTimer) return;
    const delay = backoffDelay(attempt++, backoff);
    log.info({ delayMs: delay, attempt }, 'mqtt reconnecting');
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (!stopping) client.reconnect();
    }, delay);
  }

  client.on('connect', (connack) => {
    attempt = 0;
    // Small request/answer packets: without TCP_NODELAY, Nagle and the peer's delayed ACK add
    // about 40 ms to an answer that follows another unacknowledged one (mqtt.js does not set it).
    (client.stream as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    client.subscribe(
      topics.subscriptions,
      // Shared (topics.ts), so No Local is not set: it is a protocol error on a shared
      // subscription (MQTT 5 §3.8.3.1), and none is needed, as no request filter matches an
      // answer or a status the bridge publishes.
      { qos: 1 },
      (err) => {
        if (err) {
          log.error({ err: err.message }, 'mqtt subscribe failed; reconnecting');
          client.end(true, () => scheduleReconnect());
          return;
        }
        connected = true;
        log.info({ sessionPresent: connack.sessionPresent }, 'mqtt bridge connected and subscribed');
        heartbeat(core.clock.now());
        emitter.emit('ready');
        notifier.sweep().catch((e) => log.error({ err: e }, 'mqtt status sweep failed'));
      },
    );
  });
  client.on('close', () => {
    if (connected) {
      log.warn('mqtt connection lost');
      emitter.emit('offline');
    }
    connected = false;
    scheduleReconnect();
  });
  // Errors (refused connection, bad credentials: reason 135) are followed by `close`; never thrown.
  client.on('error', (err) => {
    log.warn({ err: err.message }, 'mqtt connection error');
    emitter.emit('connectionError', err);
  });
  client.on('message', (topic, payload, packet) => {
    try {
      onMessage(topic, payload, packet);
    } catch (err) {
      log.error({ err }, 'mqtt message handling failed');
    }
  });

  const unsubscribe = core.events.subscribe((event) => {
    // A decision taken by another process is that process's bridge's to tell (or, when it has
    // none, this sweep's, from the stored notified status): telling it here too would send the
    // device every status twice.
    if (event.remote) return;
    if (event.type === 'approved' || event.type === 'denied' || event.type === 'expired') notifier.onDeviceCode(event.deviceCodeId);
  });
  // core.expiry publishes `expired` for the codes the bridge watches; this sweep also finds
  // decisions and expiries not yet told (broker away, server restarted), and the stored
  // `notified_status` keeps the two from telling twice.
  let sweeps = 0;
  const sweeper = setInterval(() => {
    const now = core.clock.now();
    if (connected && now - lastBeat >= PRESENCE_EVERY_MS) heartbeat(now);
    limiter.prune(now);
    writeBehind.flush().catch((err) => log.error({ err }, 'mqtt bookkeeping write failed'));
    notifier.sweep().catch((err) => log.error({ err }, 'mqtt status sweep failed'));
    repo.purgeProofs(now - PROOF_MAX_SKEW_SECONDS * 1000).catch((err) => log.error({ err }, 'mqtt proof purge failed'));
    if (++sweeps % REFRESH_PURGE_EVERY_SWEEPS === 0) {
      repo.purgeRefreshAnswers(now).catch((err) => log.error({ err }, 'mqtt refresh answer purge failed'));
    }
  }, options.sweepMs ?? 1000);
  sweeper.unref();

  /**
   * mosquitto keeps routing a share of the requests to a member whose session lives on,
   * connected or not, and queues them until it returns. So a stopping bridge with live peers
   * unsubscribes first, and they take every request at once; a bridge alone keeps its place,
   * so the requests published while it restarts wait for it. (It forgets itself before it
   * counts: of two bridges stopping together, at least one keeps its place.)
   */
  async function leaveShareGroupIfOthersServe(): Promise<void> {
    try {
      await repo.forgetBridge(clientId);
      if (!connected) return;
      const others = await repo.countOtherBridges(clientId, core.clock.now() - PRESENCE_STALE_MS);
      if (others === 0) {
        log.info('mqtt bridge stops alone: it keeps its place in the share group, and the broker queues requests for it');
        return;
      }
      await client.unsubscribeAsync(topics.subscriptions);
      log.info({ others }, 'mqtt bridge left the share group: the other bridges take its requests');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'mqtt bridge could not leave the share group');
    }
  }

  return Object.assign(emitter, {
    get connected() {
      return connected;
    },
    ready(): Promise<void> {
      if (connected) return Promise.resolve();
      return new Promise<void>((resolve) => emitter.once('ready', () => resolve()));
    },
    async stop(): Promise<void> {
      stopping = true;
      clearInterval(sweeper);
      clearTimeout(reconnectTimer);
      unsubscribe();
      await leaveShareGroupIfOthersServe();
      await Promise.allSettled([...chains.values()]);
      await writeBehind.flush().catch((err) => log.error({ err }, 'mqtt bookkeeping write failed'));
      await client.endAsync(!connected);
      connected = false;
    },
  }) as MqttBridge;
}
