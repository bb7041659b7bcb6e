import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCore, type Core, type CoreOptions } from './core/index.js';
import type { Config } from './config.js';
import { createApp } from './http/app.js';
import { withTokenFastPath } from './http/token-fast-path.js';
import { createLogger, type Logger } from './logger.js';
import { startMqttBridge, type MqttBridge } from './mqtt/bridge.js';
import { attachPush } from './push/index.js';
import { createSqliteStore } from './store/sqlite.js';

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
  close(): Promise<void>;
}

// Rows of ended device codes are kept this long after expiry, then purged.
const PURGE_AFTER_MS = 60 * 60 * 1000;
const PURGE_EVERY_MS = 10 * 60 * 1000;

/** Open the store, build the core and listen. `config.port` 0 picks a free port. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const store = createSqliteStore(config.dataDir);
  const core = await createCore({ config, store, clock: options.clock, random: options.random, authenticator: options.authenticator });
  const app = createApp(core, logger);
  // Device-code polls take a cheaper route to the token endpoint; everything else goes to the app.
  const http = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 }, withTokenFastPath(core, logger, app));
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  // Transports that ride on the HTTP server (WebSocket push) or beside it (MQTT) push their stop function here.
  const detachers: Array<() => Promise<void>> = [];
  detachers.push(attachPush(http, core, logger).stop);
  // The bridge connects in the background: a broker that is down never delays or blocks HTTP.
  const mqtt = config.mqttUrl ? startMqttBridge({ core, repo: store.mqtt, logger }) : undefined;
  if (mqtt) detachers.push(() => mqtt.stop());
  const purge = setInterval(() => {
    core.store.deviceCodes.purgeExpired(core.clock.now() - PURGE_AFTER_MS).catch((err) => logger.error({ err }, 'purge failed'));
    // Spent authorization codes stay a while after expiry, so a replay still revokes what they issued.
    core.store.authorization.purgeExpiredCodes(core.clock.now() - PURGE_AFTER_MS).catch((err) => logger.error({ err }, 'purge failed'));
  }, PURGE_EVERY_MS);
  purge.unref();
  const running: RunningServer = {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    core,
    logger,
    http,
    ...(mqtt ? { mqtt } : {}),
    async close() {
      clearInterval(purge);
      for (const detach of detachers.reverse()) await detach();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      store.close();
    },
  };
  return running;
}
