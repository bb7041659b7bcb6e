import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from './core/clock.js';
import { createCore, type Core, type CoreOptions } from './core/index.js';
import type { Config } from './config.js';
import { createApp } from './http/app.js';
import { createProtocolRouter } from './http/protocol/router.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics/index.js';
import { listenForScrapes, type MetricsListener } from './metrics/listener.js';
import { startMqttBridge, type MqttBridge } from './mqtt/bridge.js';
import { attachPush } from './push/index.js';
import { openStore } from './store/open.js';
import type { StoreEngine } from './store/port/index.js';

export interface StartOptions {
  clock?: CoreOptions['clock'];
  random?: CoreOptions['random'];
  logger?: Logger;
  /** Replaces the local-account sign-in of the pages (see core/auth.ts). */
  authenticator?: CoreOptions['authenticator'];
}

/** A running server: its URL, its core (for tests and the CLI), and how to stop it. */
export interface RunningServer {
  url: string;
  port: number;
  core: Core;
  logger: Logger;
  http: Server;
  /** The MQTT bridge, when `config.mqttUrl` is set. */
  mqtt?: MqttBridge;
  /** The Prometheus listener (`url` ends in `/metrics`), when `config.metricsPort` is set. */
  metrics?: Pick<MetricsListener, 'url' | 'port'>;
  close(): Promise<void>;
}

// Rows of ended device codes are kept this long after expiry, then purged.
const PURGE_AFTER_MS = 60 * 60 * 1000;
const PURGE_EVERY_MS = 10 * 60 * 1000;
// How often to look for decisions committed by other server processes on the same database.
const CROSS_PROCESS_EVERY_MS = 200;

/**
 * What a lost database connection's error may put in a log: its message and SQLSTATE. Never the
 * error whole: pg hangs its client on it, with the connection parameters and the backend's
 * cancel key.
 */
function connectionFailure(err: unknown): { message: string; sqlState?: string } {
  if (!(err instanceof Error)) return { message: String(err) };
  const sqlState = (err as { code?: unknown }).code;
  return typeof sqlState === 'string' ? { message: err.message, sqlState } : { message: err.message };
}

/**
 * Open the store, build the core and listen. `config.port` 0 picks a free port (`port` of the
 * result), which the default public URL in `core.config` then names (see `boundPublicUrl`).
 * The caller's `config` object is not changed.
 */
export async function startServer(input: Config, options: StartOptions = {}): Promise<RunningServer> {
  const config: Config = { ...input };
  const logger = options.logger ?? createLogger(config.logLevel);
  const store = await openStore(config, {
    onError: (err) => logger.warn({ failure: connectionFailure(err) }, 'database connection lost; requests answer 503 until it is back'),
  });
  // METRICS_PORT unset: no registry, and the core and transports are handed no metrics at all.
  const clock = options.clock ?? systemClock;
  const metrics = config.metricsPort === undefined ? undefined : createMetrics({ clock, logger });
  let core: Core;
  try {
    core = await createCore({ config, store, clock, random: options.random, authenticator: options.authenticator, observer: metrics?.observer });
  } catch (err) {
    await store.close();
    throw err;
  }
  const http = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 });
  // Transports that ride on the HTTP server (WebSocket push) or beside it (MQTT) push their stop function here.
  const detachers: Array<() => Promise<void>> = [];
  let port: number;
  let pushSockets = () => 0;
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.port, config.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
    port = (http.address() as AddressInfo).port;
    // The app is built once the URL is final (some routers read it as they are built). This runs in the
    // tick that reported 'listening', before the event loop can read any connection.
    Object.assign(config, boundPublicUrl(config, port));
    // The protocol endpoints are answered by the protocol router; every other request goes to the pages app.
    http.on('request', createProtocolRouter(core, logger, createApp(core, logger, metrics?.http), metrics?.http));
    const push = attachPush(http, core, logger, undefined, metrics?.push);
    detachers.push(push.stop);
    pushSockets = () => push.size;
    if (typeof config.trustProxy === 'number' && (config.host === '0.0.0.0' || config.host === '::')) {
      // A hop count trusts whoever connects: fine behind a proxy that alone can reach the port.
      logger.warn(
        { trustProxy: config.trustProxy, host: config.host },
        'TRUST_PROXY is a hop count and the server listens on every interface: a client that connects directly can choose its own X-Forwarded-For address; list the proxy addresses in TRUST_PROXY or bind HOST to the proxy side',
      );
    }
  } catch (err) {
    if (http.listening) http.close();
    await store.close();
    throw err;
  }
  let scrapes: MetricsListener | undefined;
  if (metrics) {
    try {
      scrapes = await listenForScrapes(metrics, config.metricsHost, config.metricsPort!, logger);
    } catch (err) {
      for (const detach of detachers.reverse()) await detach();
      http.closeAllConnections();
      http.close();
      await store.close();
      throw new Error(`METRICS_PORT ${config.metricsPort} on ${config.metricsHost}: ${(err as Error).message}`, { cause: err });
    }
  }
  // The bridge connects in the background: a broker that is down never delays or blocks HTTP.
  const mqtt = config.mqttUrl ? startMqttBridge({ core, repo: store.mqtt, logger, metrics: metrics?.mqtt }) : undefined;
  if (mqtt) detachers.push(() => mqtt.stop());
  if (metrics) {
    const unfollow = metrics.follow(core, { pushSockets, ...(mqtt ? { mqttConnected: () => mqtt.connected } : {}) });
    detachers.push(async () => unfollow());
  }
  if (scrapes) detachers.push(scrapes.close);
  const purge = setInterval(() => {
    // The audit purge first, and the device code rows only once it has succeeded: it records the
    // codes that ran out undecided, which must be in the trail before their rows go (on PostgreSQL
    // the two would otherwise run at once, on two connections of the pool). If it failed, the rows
    // wait for the next tick.
    const endedBefore = core.clock.now() - PURGE_AFTER_MS;
    core.audit
      .purge()
      .then(
        () => true,
        (err) => {
          logger.error({ err }, 'audit purge failed');
          return false;
        },
      )
      .then((recorded) => (recorded ? core.store.deviceCodes.purgeExpired(endedBefore) : 0))
      .catch((err) => logger.error({ err }, 'purge failed'));
    // Spent authorization codes stay a while after expiry, so a replay still revokes what they issued.
    core.store.authorization.purgeExpiredCodes(endedBefore).catch((err) => logger.error({ err }, 'purge failed'));
    // A DPoP proof's jti is kept only while the proof could still be accepted (RFC 9449 §11.1).
    core.store.dpop.purgeExpiredProofs(core.clock.now()).catch((err) => logger.error({ err }, 'purge failed'));
  }, PURGE_EVERY_MS);
  purge.unref();
  const stopCrossProcess = await followOtherInstances(store, core, logger);
  const running: RunningServer = {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    core,
    logger,
    http,
    ...(mqtt ? { mqtt } : {}),
    ...(scrapes ? { metrics: { url: scrapes.url, port: scrapes.port } } : {}),
    async close() {
      clearInterval(purge);
      await stopCrossProcess();
      for (const detach of detachers.reverse()) await detach();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await store.close();
    },
  };
  return running;
}

/**
 * Decisions and revocations committed by other server processes or instances on this database
 * reach the devices waiting here: at once where the engine is told of commits (PostgreSQL
 * LISTEN/NOTIFY; after a lost listening connection returns, what was missed is read back), else
 * within `CROSS_PROCESS_EVERY_MS` (SQLite: one PRAGMA read a tick when no other process writes).
 */
async function followOtherInstances(store: StoreEngine, core: Core, logger: Logger): Promise<() => Promise<void>> {
  const catchUp = () => {
    core.crossProcess.check().catch((err) => logger.error({ err }, "reading other instances' decisions failed"));
  };
  if (store.decisionFeed.listen) {
    const stop = await store.decisionFeed.listen({
      event: (event) => core.crossProcess.deliver(event),
      reconnected: () => {
        logger.info('listening for other instances again; reading what was decided meanwhile');
        catchUp();
      },
      lost: (err) => logger.warn({ err }, 'lost the connection that hears other instances; retrying'),
    });
    // Whatever was committed between opening the store and listening.
    catchUp();
    return stop;
  }
  const timer = setInterval(catchUp, CROSS_PROCESS_EVERY_MS);
  timer.unref();
  return async () => clearInterval(timer);
}

/**
 * `PORT=0` without `PUBLIC_URL`: the default public URL (`http://localhost:0`) names the port just
 * bound, so the issuer, `verification_uri`, `push_uri` and the metadata point at a live server.
 * The default audience follows the issuer. An explicit URL with a real port is left alone.
 */
function boundPublicUrl(config: Config, port: number): Pick<Config, 'publicUrl' | 'accessTokenAudience'> | undefined {
  const url = new URL(config.publicUrl);
  if (url.port !== '0') return undefined;
  url.port = String(port);
  const publicUrl = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  return { publicUrl, accessTokenAudience: config.accessTokenAudience === config.publicUrl ? publicUrl : config.accessTokenAudience };
}
