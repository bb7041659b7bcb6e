import path from 'node:path';
import proxyAddr from 'proxy-addr';

/**
 * Which peers are reverse proxies whose X-Forwarded-For (and X-Forwarded-Proto) we believe:
 * `false` none; a number n the n nearest hops, whoever they are; or a list of addresses,
 * CIDR ranges and the names `loopback`, `linklocal`, `uniquelocal`. Express's `trust proxy`.
 */
export type TrustProxy = false | number | readonly string[];

/** Signing algorithms for JWT access tokens. RFC 9068 §4 makes RS256 mandatory to support. */
export type AccessTokenAlg = 'ES256' | 'RS256';

/**
 * The whole server configuration. Every default lives here and nowhere else;
 * the README's configuration table is written from this type.
 */
export interface Config {
  /** TCP port to listen on; 0 picks a free one. Env `PORT`. Default 8080. */
  port: number;
  /** Interface to bind. Env `HOST`. Default `127.0.0.1`; use `0.0.0.0` to reach the demo from a phone. */
  host: string;
  /**
   * Port of the Prometheus `GET /metrics` listener, its own, never the public port (which answers
   * 404 there); 0 picks a free one. Env `METRICS_PORT`. Default unset: no metrics, nothing counted.
   */
  metricsPort: number | undefined;
  /** Interface the metrics listener binds. Env `METRICS_HOST`. Default `127.0.0.1`: only this machine may scrape. */
  metricsHost: string;
  /**
   * The issuer identifier and the base of every URL shown to people or encoded
   * in QR codes, without a trailing slash. Env `PUBLIC_URL`.
   * Default `http://localhost:{port}`, naming the port actually bound when `port` is 0.
   */
  publicUrl: string;
  /**
   * Reverse proxies in front of the server (nginx, Caddy, a load balancer). Per-address limits
   * (sign-in and code-entry attempts, the push socket cap) and the network shown on the consent
   * page use the client address they forward in X-Forwarded-For; from any other peer the header
   * is ignored. Env `TRUST_PROXY`: a hop count (`1`: one proxy, whatever its address) or a
   * comma-separated list (`127.0.0.1,10.0.0.0/8`, `loopback`). Default `false`: the socket's address.
   * Set it only when every request comes through the proxy: a client that reaches the port
   * directly could otherwise name any address it likes.
   */
  trustProxy: TrustProxy;
  /** Folder of the SQLite database, when `databaseUrl` is unset. Env `DATA_DIR`. Default `./data`. */
  dataDir: string;
  /**
   * On SQLite, at most this many pending device codes kept in memory, so that a pending poll
   * reads no row (exact: decisions and other processes' commits drop them). About 0.9 KB each.
   * 0 turns it off. Env `DEVICE_CODE_CACHE_SIZE`. Default 100000.
   */
  deviceCodeCacheSize: number;
  /**
   * PostgreSQL instead of SQLite: `postgres://user:password@host:5432/database` (TLS with
   * `?sslmode=require`, or `verify-full` with `sslrootcert=`). Several instances on several
   * machines may share it. Env `DATABASE_URL`. Default unset: SQLite in `dataDir`. Never logged.
   */
  databaseUrl: string | undefined;
  /** Most PostgreSQL connections one instance opens (its pool), plus one for LISTEN. Env `DATABASE_POOL_MAX`. Default 10. */
  databasePoolMax: number;
  /** MQTT broker the bridge connects to; the bridge is off when unset. Env `MQTT_URL`. */
  mqttUrl: string | undefined;
  /** Topic prefix of the MQTT bridge. Env `MQTT_TOPIC_PREFIX`. Default `kalm/v1`. */
  mqttTopicPrefix: string;
  /** Broker user name (credentials inside `MQTT_URL` work too). Env `MQTT_USERNAME`. */
  mqttUsername: string | undefined;
  /** Broker password; never logged. Env `MQTT_PASSWORD`. */
  mqttPassword: string | undefined;
  /** PEM file of the CA that signed the broker's certificate, for `mqtts://` with a private CA. Env `MQTT_CA_FILE`. Default the system CAs. */
  mqttCaFile: string | undefined;
  /** Client id of the bridge. Env `MQTT_CLIENT_ID`. Default `kalm-bridge-` + a hash of host name, data dir and port (stable across restarts). */
  mqttClientId: string | undefined;
  /** pino log level. Env `LOG_LEVEL`. Default `info`. */
  logLevel: string;
  /** Path of a JSON scope catalogue replacing the built-in one. Env `SCOPES_FILE`. */
  scopesFile: string | undefined;
  /** Lifetime of a device code in seconds (RFC 8628 `expires_in`); a client may override it. Env `DEVICE_CODE_TTL`. Default 600. */
  deviceCodeTtl: number;
  /** Minimum polling interval in seconds (RFC 8628 `interval`); a client may override it. Env `DEVICE_POLL_INTERVAL`. Default 5. */
  devicePollInterval: number;
  /** Lifetime of an access token in seconds. Env `ACCESS_TOKEN_TTL`. Default 3600. */
  accessTokenTtl: number;
  /** Lifetime of a refresh token in seconds (each rotation starts a new one). Env `REFRESH_TOKEN_TTL`. Default 30 days. */
  refreshTokenTtl: number;
  /** Default signing algorithm of access tokens; a client may choose its own. Env `ACCESS_TOKEN_ALG`. Default `ES256`. */
  accessTokenAlg: AccessTokenAlg;
  /** `aud` of access tokens: the resource server(s) they are for. Env `ACCESS_TOKEN_AUDIENCE`. Default the issuer. */
  accessTokenAudience: string;
  /** Largest accepted request body in bytes. Default 16 KiB. */
  maxBodyBytes: number;
  /** Create the `tv-demo` client and a `demo` user on a fresh database. Env `DEMO` (`0` turns it off). Default on. */
  demo: boolean;
  /**
   * WebSocket push (`/push`): most sockets one IP address may hold open; the next is closed with 4429.
   * Raise it behind a NAT that many devices share. Env `PUSH_MAX_SOCKETS_PER_IP`. Default 50.
   */
  pushMaxSocketsPerIp: number;
  /** WebSocket push: time a new socket has to send its subscribe message, ms; then it is closed with 4401. Default 5000. */
  pushAuthTimeoutMs: number;
  /** WebSocket push: ping interval, ms; a peer that has not answered the previous ping is dropped. Default 30000. */
  pushHeartbeatMs: number;
  /**
   * DPoP (RFC 9449 §4.3, §11.1): how far a proof's `iat` may lie from the server's clock, seconds,
   * either way (devices' clocks drift; with `DPOP_NONCE` on the nonce bounds a proof's age too).
   * A proof's `jti` is remembered as long as the proof is acceptable, so a replay within the
   * window is refused. Env `DPOP_PROOF_WINDOW`. Default 60.
   */
  dpopProofWindow: number;
  /**
   * DPoP server nonces (RFC 9449 §8): every proof at `/token` must carry a nonce the server gave
   * (`use_dpop_nonce` with a `DPoP-Nonce` header otherwise). Nonces change every 5 minutes and
   * the previous one stays good, and every process on the database accepts them. Env
   * `DPOP_NONCE` (`1` turns it on). Default off.
   */
  dpopNonce: boolean;
  /**
   * Days the audit trail (`audit_events`: `kalm audit`, the admin dashboard) keeps an event; older
   * ones are deleted by the server's purge, every 10 minutes. Env `AUDIT_RETENTION_DAYS`. Default 90.
   */
  auditRetentionDays: number;
}

const DEFAULT_PORT = 8080;

/** Pending device codes a SQLite store keeps in memory unless told otherwise (`deviceCodeCacheSize`). */
export const DEFAULT_DEVICE_CODE_CACHE_SIZE = 100_000;

/** Built-in defaults, before the environment is applied. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  const port = overrides.port ?? DEFAULT_PORT;
  const publicUrl = stripTrailingSlash(overrides.publicUrl ?? `http://localhost:${port}`);
  return {
    port,
    host: '127.0.0.1',
    metricsPort: undefined,
    metricsHost: '127.0.0.1',
    trustProxy: false,
    dataDir: path.resolve('data'),
    deviceCodeCacheSize: DEFAULT_DEVICE_CODE_CACHE_SIZE,
    databaseUrl: undefined,
    databasePoolMax: 10,
    mqttUrl: undefined,
    mqttTopicPrefix: 'kalm/v1',
    mqttUsername: undefined,
    mqttPassword: undefined,
    mqttCaFile: undefined,
    mqttClientId: undefined,
    logLevel: 'info',
    scopesFile: undefined,
    deviceCodeTtl: 600,
    devicePollInterval: 5,
    accessTokenTtl: 3600,
    refreshTokenTtl: 30 * 24 * 3600,
    accessTokenAlg: 'ES256',
    maxBodyBytes: 16 * 1024,
    demo: true,
    pushMaxSocketsPerIp: 50,
    pushAuthTimeoutMs: 5_000,
    pushHeartbeatMs: 30_000,
    dpopProofWindow: 60,
    dpopNonce: false,
    auditRetentionDays: 90,
    ...overrides,
    publicUrl,
    accessTokenAudience: overrides.accessTokenAudience ?? publicUrl,
  };
}

/** Maps environment variables onto the config. Unknown or malformed values fail loudly at start. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const o: Partial<Config> = {};
  if (env.PORT) o.port = integer('PORT', env.PORT, 0, 65535);
  if (env.HOST) o.host = env.HOST;
  if (env.METRICS_PORT) o.metricsPort = integer('METRICS_PORT', env.METRICS_PORT, 0, 65535);
  if (env.METRICS_HOST) o.metricsHost = env.METRICS_HOST;
  if (o.metricsPort !== undefined && o.metricsPort !== 0 && o.metricsPort === (o.port ?? DEFAULT_PORT)) {
    throw new Error(`METRICS_PORT must differ from PORT (${o.metricsPort}): the metrics have a listener of their own, never the public one`);
  }
  if (env.PUBLIC_URL) o.publicUrl = url('PUBLIC_URL', env.PUBLIC_URL);
  if (env.TRUST_PROXY) o.trustProxy = trustProxy(env.TRUST_PROXY);
  if (env.DATA_DIR) o.dataDir = path.resolve(env.DATA_DIR);
  if (env.DEVICE_CODE_CACHE_SIZE) o.deviceCodeCacheSize = integer('DEVICE_CODE_CACHE_SIZE', env.DEVICE_CODE_CACHE_SIZE, 0, 10_000_000);
  if (env.DATABASE_URL) o.databaseUrl = databaseUrl(env.DATABASE_URL);
  if (env.DATABASE_POOL_MAX) o.databasePoolMax = integer('DATABASE_POOL_MAX', env.DATABASE_POOL_MAX, 1, 1000);
  if (env.MQTT_URL) o.mqttUrl = url('MQTT_URL', env.MQTT_URL);
  if (env.MQTT_TOPIC_PREFIX) o.mqttTopicPrefix = env.MQTT_TOPIC_PREFIX.replace(/\/+$/, '');
  if (env.MQTT_USERNAME) o.mqttUsername = env.MQTT_USERNAME;
  if (env.MQTT_PASSWORD) o.mqttPassword = env.MQTT_PASSWORD;
  if (env.MQTT_CA_FILE) o.mqttCaFile = path.resolve(env.MQTT_CA_FILE);
  if (env.MQTT_CLIENT_ID) o.mqttClientId = env.MQTT_CLIENT_ID;
  if (env.LOG_LEVEL) o.logLevel = env.LOG_LEVEL;
  if (env.SCOPES_FILE) o.scopesFile = path.resolve(env.SCOPES_FILE);
  if (env.DEVICE_CODE_TTL) o.deviceCodeTtl = integer('DEVICE_CODE_TTL', env.DEVICE_CODE_TTL, 60, 86400);
  if (env.DEVICE_POLL_INTERVAL) o.devicePollInterval = integer('DEVICE_POLL_INTERVAL', env.DEVICE_POLL_INTERVAL, 1, 60);
  if (env.ACCESS_TOKEN_TTL) o.accessTokenTtl = integer('ACCESS_TOKEN_TTL', env.ACCESS_TOKEN_TTL, 60, 86400);
  if (env.REFRESH_TOKEN_TTL) o.refreshTokenTtl = integer('REFRESH_TOKEN_TTL', env.REFRESH_TOKEN_TTL, 60, 365 * 86400);
  if (env.ACCESS_TOKEN_ALG) {
    if (env.ACCESS_TOKEN_ALG !== 'ES256' && env.ACCESS_TOKEN_ALG !== 'RS256') {
      throw new Error('ACCESS_TOKEN_ALG must be ES256 or RS256');
    }
    o.accessTokenAlg = env.ACCESS_TOKEN_ALG;
  }
  if (env.ACCESS_TOKEN_AUDIENCE) o.accessTokenAudience = env.ACCESS_TOKEN_AUDIENCE;
  if (env.PUSH_MAX_SOCKETS_PER_IP) o.pushMaxSocketsPerIp = integer('PUSH_MAX_SOCKETS_PER_IP', env.PUSH_MAX_SOCKETS_PER_IP, 1, 1_000_000);
  if (env.DPOP_PROOF_WINDOW) o.dpopProofWindow = integer('DPOP_PROOF_WINDOW', env.DPOP_PROOF_WINDOW, 5, 600);
  if (env.DPOP_NONCE) o.dpopNonce = env.DPOP_NONCE !== '0' && env.DPOP_NONCE !== 'false';
  if (env.AUDIT_RETENTION_DAYS) o.auditRetentionDays = integer('AUDIT_RETENTION_DAYS', env.AUDIT_RETENTION_DAYS, 1, 36500);
  if (env.DEMO) o.demo = env.DEMO !== '0' && env.DEMO !== 'false';
  return defaultConfig(o);
}

function integer(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

/**
 * `TRUST_PROXY`: `false`/`0` (off), a hop count, or a list that proxy-addr can compile.
 * `true` (Express's "trust every hop") is refused: it makes the client's own left-most
 * X-Forwarded-For entry its address, so anyone could pick a fresh address per request.
 */
function trustProxy(value: string): TrustProxy {
  const text = value.trim();
  if (text === 'false' || text === '0') return false;
  if (/^\d+$/.test(text)) return integer('TRUST_PROXY', text, 0, 32) || false;
  const hint = 'give the number of proxies in front (e.g. 1) or their addresses (e.g. 127.0.0.1,10.0.0.0/8)';
  if (text === 'true') throw new Error(`TRUST_PROXY=true would believe any client's X-Forwarded-For; ${hint}`);
  const list = text.split(',').map((entry) => entry.trim());
  try {
    if (list.some((entry) => entry === '')) throw new Error('empty entry');
    proxyAddr.compile(list);
  } catch (err) {
    throw new Error(`TRUST_PROXY must be a hop count or a list of addresses, CIDR ranges or loopback/linklocal/uniquelocal (${(err as Error).message}), got "${value}"; ${hint}`);
  }
  return list;
}

/** `DATABASE_URL`: a `postgres://` or `postgresql://` URL; the message never repeats it (it may hold a password). */
function databaseUrl(value: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {
    // reported below
  }
  if (!parsed || (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')) {
    throw new Error('DATABASE_URL must be a postgres:// URL (postgres://user:password@host:5432/database); unset it to use SQLite in DATA_DIR');
  }
  return value;
}

function url(name: string, value: string): string {
  try {
    new URL(value);
  } catch {
    throw new Error(`${name} must be an absolute URL, got "${value}"`);
  }
  return stripTrailingSlash(value);
}

function stripTrailingSlash(value: string): string {
  return value.replace(/\/+$/, '');
}
