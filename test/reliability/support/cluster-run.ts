import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as mqttConnect, type MqttClient } from 'mqtt';
import pg from 'pg';
import WebSocket from 'ws';
import { runLoad } from '../../../bench/lib/load.js';
import { quantile, round } from '../../../bench/lib/stats.js';
import { backendKey, startTcpProxy, type ProxyStats, type TcpProxy } from '../../../bench/lib/tcp-proxy.js';
import { hashOrderedSecret, hashSecret } from '../../../server/src/core/secrets.js';
import type { StoreEngine } from '../../../server/src/store/port/index.js';
import { KALM_BIN } from '../../helpers/kalm-cli.js';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto.js';
import { startPostgres, type PrivatePostgres } from '../../helpers/postgres.js';
import { freePort } from '../../helpers/server.js';
import { newDeviceKey, newRid, openAnswer, signProof, type DeviceKey } from '../../mqtt/device.js';
import { startChildServer, type ChildServer } from './child-server.js';
import { seededRandom } from './random.js';

/**
 * Several `kalm serve` instances on one database behind a round-robin TCP proxy (issue 14): a
 * private PostgreSQL (fsync on), a mosquitto, N instances, the proxy in front, a device client
 * and a person made with the `kalm` CLI. Device flows run through the proxy, each request on a
 * connection of its own (so one flow's steps land on different instances): devices that wait on
 * WebSocket push, by polling, and over MQTT; the person approves or denies on the verification
 * pages; refresh tokens rotate; devices are revoked by the app (`/revoke`) or by the person (My
 * devices), and a paired push socket must hear it. One instance at a time is killed with SIGKILL
 * at seeded moments while the others serve, and started again on its port. A request cut by a
 * kill is told apart from one that failed on a live instance by the proxy's record of where its
 * connection went: only the first is forgiven (and retried, as a device would).
 *
 * At the end every acknowledged approval, denial, rotation and revocation is read back through a
 * store on the same database (`createPostgresStore`), every redeemed code is presented again (a
 * second token set is a double redemption), and the figures are measured with nothing killed:
 * the event latency from an approval's HTTP answer on instance A to the `approved` message on a
 * push socket held by instance B, and throughput with 1..N instances behind the proxy.
 */
export interface ClusterRunOptions {
  instances: number;
  flows: number;
  kills: number;
  seed: number;
  /** Flows driven at the same time (one phone, a signed-in page session, per worker). Default 8. */
  concurrency?: number;
  /** `sqlite`: the instances share one SQLite file instead (one machine; pacing then stays per process). Default `postgres`. */
  engine?: 'postgres' | 'sqlite';
  /** Flows of the event-latency measurement (one at a time, device on one instance, phone on another); 0 skips it. */
  latencyFlows?: number;
  /** The throughput measurement with 1..N instances behind the proxy; off unless given. */
  throughput?: { seconds: number; concurrency?: number; pollConnections?: number; pendingCodes?: number };
  log?: (line: string) => void;
}

export interface LatencyFigures {
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  min: number;
}

export interface EventLatency {
  fromApprovalRequest: LatencyFigures;
  /** PostgreSQL: from the commit's NOTIFY reaching a listener of this harness (the commit, as near as it can be seen). */
  fromCommit?: LatencyFigures;
  fromApprovalAnswer: LatencyFigures;
}

export interface ThroughputFigures {
  instances: number;
  /** Complete device flows (authorize, approve on the pages, redeem) per second through the proxy. */
  flowsPerSec: number;
  flows: number;
  /** Pending polls at saturation (autocannon, keep-alive connections dealt over the instances). */
  pendingPollsPerSec: number;
  pollP50: number;
  pollP99: number;
  pollShapes: Record<string, number>;
}

export interface ClusterRunReport {
  seed: number;
  engine: 'postgres' | 'sqlite';
  instances: number;
  flows: number;
  kills: number;
  violations: string[];
  /** Flows that reached their planned end (pending, denied, or redeemed and on to refreshes and revocation). */
  flowsCompleted: number;
  completedByKind: Record<Kind, number>;
  acknowledgedApprovals: number;
  acknowledgedDenials: number;
  /** Decisions whose answer a kill cut (committed, as the retried code entry showed, but never acknowledged). */
  decisionsUnacknowledged: number;
  /** Acknowledged approvals the database or the device lost: must be 0. */
  lostApprovals: number;
  /** Device codes that gave two token sets (HTTP 200 twice, two different MQTT answers, or a 200 at the final replay): must be 0. */
  doubleRedemptions: number;
  tokenSets: number;
  /** Redemptions committed whose answer a kill cut (the retry answered invalid_grant: spent, never twice). */
  spentUnseen: number;
  rotations: number;
  rotationsChecked: number;
  revocations: number;
  revocationsChecked: number;
  /** Revocations a paired push socket (on whichever instance) was told of. */
  revocationsToldOverPush: number;
  /** Two pending polls of one code back to back through the proxy (so on two instances): the second must be slow_down. */
  paceChecks: number;
  /** Requests cut by a kill of the instance they reached (retried). */
  cutByKill: number;
  pushReconnects: number;
  mqttResends: number;
  restartMs: number[];
  /** The instance killed by each kill, in order. */
  victims: number[];
  proxy: ProxyStats;
  /** Main run, for information: approval request sent → push `approved`, where phone and device were on different instances. */
  mainRunCrossInstance?: LatencyFigures;
  /**
   * A person approves on instance A, the device waits on a push socket of instance B. Measured
   * from the approving request (consent POST) being sent: an upper bound of commit → B's
   * publish; and from its answer, which the page sends only after it has also saved the
   * session, so the push often arrives first (negative).
   */
  eventLatency?: { crossInstance: EventLatency; sameInstance: EventLatency; targetP99Ms: number };
  throughput?: ThroughputFigures[];
  mainRunSeconds: number;
  durationMs: number;
}

type Kind = 'push' | 'poll' | 'mqtt';

interface Flow {
  index: number;
  kind: Kind;
  plan: 'pending' | 'deny' | 'approve';
  refreshes: number;
  revoke: 'none' | 'api' | 'page';
  deviceCode?: string;
  userCode?: string;
  rid?: string;
  key?: DeviceKey;
  approved: boolean;
  denied: boolean;
  decisionUnacknowledged: boolean;
  /** Token sets this code gave (HTTP 200s; distinct MQTT answers). More than one is a double redemption. */
  redemptions: number;
  mqttAnswer?: string;
  spentUnseen: boolean;
  lost: boolean;
  double: boolean;
  grantId?: string;
  accessToken?: string;
  refreshToken?: string;
  /** Refresh tokens whose rotation was acknowledged (a 200 for the refresh that spent them). */
  rotated: string[];
  familyUncertain: boolean;
  familyRevoked: boolean;
  revokeUnacknowledged: boolean;
  done: boolean;
}

/** A request cut by a kill of the instance its connection reached: the device tries again. */
class Cut extends Error {}
/** A broken promise: recorded as a violation, and the flow goes no further. */
class Broken extends Error {}

/** The transport failed (reset, refused, closed early); `localPort` names the connection for the proxy. */
class CallError extends Error {
  constructor(
    message: string,
    readonly localPort: number | undefined,
  ) {
    super(message);
  }
}

interface Answer {
  status: number;
  location: string | undefined;
  body: string;
  /** When the answer was complete (ms, high resolution). */
  at: number;
  /** The instance that answered. */
  route: number | undefined;
}

/** Where a request goes: through the proxy, or straight to one instance. */
interface Target {
  base: string;
  instance?: number;
}

interface Phone {
  cookies: Map<string, string>;
  csrf: string;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: Error): void;
  settled: boolean;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A wait that nobody reaches any more (its flow broke earlier) must not be an unhandled rejection.
  promise.catch(() => {});
  const d: Deferred<T> = {
    promise,
    settled: false,
    resolve: (v) => {
      if (d.settled) return;
      d.settled = true;
      resolve(v);
    },
    reject: (e) => {
      if (d.settled) return;
      d.settled = true;
      reject(e);
    },
  };
  return d;
}

const SCOPES = ['valuate:read', 'billing:read'];
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const PASSWORD = 'correct horse battery staple';
const PREFIX = 'kalm/v1';
/** Bound on any one wait for an event (a push status, an MQTT answer): hitting it is a broken promise, not a pause. */
const WAIT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 20_000;
/** The client's RFC 8628 interval (the default, 5 s): two polls sent well within it must meet slow_down. */
const INTERVAL_MS = 5000;
const MQTT_CONNECTIONS = 4;
const now = () => performance.timeOrigin + performance.now();

function grantIdOf(accessToken: string): string | undefined {
  const payload = accessToken.split('.')[1];
  if (!payload) return undefined;
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { grant_id?: string }).grant_id;
}

function newFlow(index: number, kind: Kind, plan: Flow['plan']): Flow {
  return {
    index,
    kind,
    plan,
    refreshes: 0,
    revoke: 'none',
    approved: false,
    denied: false,
    decisionUnacknowledged: false,
    redemptions: 0,
    spentUnseen: false,
    lost: false,
    double: false,
    rotated: [],
    familyUncertain: false,
    familyRevoked: false,
    revokeUnacknowledged: false,
    done: false,
  };
}

function figures(values: number[]): LatencyFigures {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50: round(quantile(sorted, 0.5)),
    p90: round(quantile(sorted, 0.9)),
    p99: round(quantile(sorted, 0.99)),
    max: round(sorted.at(-1) ?? Number.NaN),
    min: round(sorted[0] ?? Number.NaN),
  };
}

function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Broken(`no ${what} within ${ms / 1000} s`)), ms);
    }),
  ]);
}

/** `kalm ARGS` against the cluster's database, with `stdin` written to it; resolves with stdout. */
function kalm(env: Record<string, string>, args: string[], stdin = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KALM_BIN, ...args], { env: { ...process.env, DEMO: '0', LOG_LEVEL: 'silent', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`kalm ${args.slice(0, 2).join(' ')} exited ${code}: ${err}`))));
    child.stdin.end(stdin);
  });
}

/**
 * One HTTP exchange on a connection of its own (`Connection: close`), so that through the proxy
 * every request is dealt to the next instance. Rejects with a CallError naming the local port.
 */
function httpCall(base: string, method: 'GET' | 'POST', p: string, form: Record<string, string | string[]> | undefined, cookies: Map<string, string> | undefined): Promise<{ status: number; location: string | undefined; body: string; at: number; localPort: number | undefined }> {
  return new Promise((resolve, reject) => {
    let body: string | undefined;
    const headers: Record<string, string> = { connection: 'close' };
    if (form) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(form)) for (const value of Array.isArray(v) ? v : [v]) params.append(k, value);
      body = params.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    if (cookies?.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let localPort: number | undefined;
    const req = request(`${base}${p}`, { method, agent: false, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', (err) => reject(new CallError(err.message, localPort)));
      res.on('end', () => {
        if (!res.complete) return reject(new CallError('answer cut short', localPort));
        if (cookies) {
          for (const line of res.headers['set-cookie'] ?? []) {
            const [pair = ''] = line.split(';');
            const eq = pair.indexOf('=');
            const value = pair.slice(eq + 1);
            if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(pair.slice(0, eq));
            else cookies.set(pair.slice(0, eq), value);
          }
        }
        resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: text, at: now(), localPort });
      });
    });
    req.on('socket', (socket) => {
      const remember = () => (localPort = socket.localPort);
      if (socket.localPort) remember();
      else socket.once('connect', remember);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (err) => reject(new CallError(err.message, localPort)));
    req.end(body);
  });
}

interface Instance {
  index: number;
  port: number;
  url: string;
  dataDir: string;
  child?: ChildServer;
  /** Even while up; odd from the moment a kill starts until its restart listens again. */
  generation: number;
}

export async function runClusterScenario(options: ClusterRunOptions): Promise<ClusterRunReport> {
  const started = Date.now();
  const engine = options.engine ?? 'postgres';
  const rng = seededRandom(options.seed);
  const log = options.log ?? (() => {});
  const concurrency = options.concurrency ?? 8;
  const count = options.instances;
  if (count < 2 && options.kills > 0) throw new Error('killing an instance while the others serve needs at least 2 instances');
  const report: ClusterRunReport = {
    seed: options.seed,
    engine,
    instances: count,
    flows: options.flows,
    kills: 0,
    violations: [],
    flowsCompleted: 0,
    completedByKind: { push: 0, poll: 0, mqtt: 0 },
    acknowledgedApprovals: 0,
    acknowledgedDenials: 0,
    decisionsUnacknowledged: 0,
    lostApprovals: 0,
    doubleRedemptions: 0,
    tokenSets: 0,
    spentUnseen: 0,
    rotations: 0,
    rotationsChecked: 0,
    revocations: 0,
    revocationsChecked: 0,
    revocationsToldOverPush: 0,
    paceChecks: 0,
    cutByKill: 0,
    pushReconnects: 0,
    mqttResends: 0,
    restartMs: [],
    victims: [],
    proxy: { connections: {}, refused: {}, failed: 0, open: 0 },
    mainRunSeconds: 0,
    durationMs: 0,
  };
  const violation = (flow: Flow | undefined, what: string) => report.violations.push(`${flow ? `flow ${flow.index} (${flow.kind}): ` : ''}${what} (seed ${options.seed})`);

  // Every flow is drawn up front from the seed, so a replay asks the same things.
  const flows: Flow[] = Array.from({ length: options.flows }, (_, index) => {
    const k = rng.next();
    const kind: Kind = k < 0.4 ? 'push' : k < 0.7 ? 'poll' : 'mqtt';
    const r = rng.next();
    const plan = r < 0.1 ? 'pending' : r < 0.2 ? 'deny' : 'approve';
    const flow = newFlow(index, kind, plan);
    if (plan === 'approve') {
      flow.refreshes = rng.int(0, 3);
      if (rng.next() < 0.25) flow.revoke = rng.next() < 0.5 ? 'api' : 'page';
    }
    return flow;
  });
  // One kill point in each of `kills` equal stretches of the run: when a flow at or past it
  // starts, the victim is killed after a few more answered requests.
  const kills = Math.min(options.kills, Math.max(0, options.flows - 2));
  const stretch = (options.flows - 2) / Math.max(kills, 1);
  const killPoints = Array.from({ length: kills }, (_, k) => 2 + Math.floor(k * stretch) + rng.int(0, Math.max(1, Math.floor(stretch))));
  const killDelays = killPoints.map(() => rng.int(0, 6 * concurrency));
  // The victims take turns from a seeded first one, so every instance is killed once in a
  // run with as many kills as instances (a draw per kill could hit the same one every time).
  const firstVictim = rng.int(0, count);
  const victims = killPoints.map((_, k) => (firstVictim + k) % count);

  const temp = mkdtempSync(path.join(tmpdir(), 'kalm-cluster-'));
  let postgres: PrivatePostgres | undefined;
  let broker: Mosquitto | undefined;
  let proxy: TcpProxy | undefined;
  let fleet: MqttFleet | undefined;
  const instances: Instance[] = [];
  try {
    // The database, the broker, and the proxy first: PUBLIC_URL is the proxy's URL.
    let databaseUrl: string | undefined;
    if (engine === 'postgres') {
      postgres = await startPostgres({ fsync: true });
      databaseUrl = await postgres.createDatabase('kalm');
    }
    broker = await startMosquitto();
    proxy = await startTcpProxy({ backends: [] });
    const proxyUrl = proxy.url;
    const proxyWs = `ws://127.0.0.1:${proxy.port}/push`;
    const sharedDir = path.join(temp, 'data');
    const engineEnv = (dataDir: string): Record<string, string> => (databaseUrl ? { DATABASE_URL: databaseUrl, DATA_DIR: dataDir } : { DATA_DIR: sharedDir });

    for (let i = 0; i < count; i++) {
      const port = await freePort();
      // On PostgreSQL each instance has a data dir of its own (its MQTT client id derives from it and the port).
      const dataDir = databaseUrl ? path.join(temp, `instance-${i}`) : sharedDir;
      mkdirSync(dataDir, { recursive: true });
      instances.push({ index: i, port, url: `http://127.0.0.1:${port}`, dataDir, generation: 0 });
    }
    const byBackend = new Map(instances.map((inst) => [backendKey({ host: '127.0.0.1', port: inst.port }), inst.index]));
    const startInstance = async (inst: Instance) => {
      inst.child = await startChildServer(inst.dataDir, {
        ...engineEnv(inst.dataDir),
        PORT: String(inst.port),
        HOST: '127.0.0.1',
        PUBLIC_URL: proxyUrl,
        MQTT_URL: broker!.url,
        DEMO: '0',
        LOG_LEVEL: 'warn',
        // Behind the proxy every socket comes from 127.0.0.1.
        PUSH_MAX_SOCKETS_PER_IP: '100000',
      });
    };
    // All at once: the migrations run under the advisory lock, exactly once.
    await Promise.all(instances.map(startInstance));
    proxy.setBackends(instances.map((inst) => ({ host: '127.0.0.1', port: inst.port })));
    log(`${count} instances (${engine}) behind ${proxyUrl}: pids ${instances.map((i) => i.child!.pid).join(', ')}`);

    mkdirSync(path.join(temp, 'cli'), { recursive: true });
    const cliEnv = engineEnv(path.join(temp, 'cli'));
    // The operator's CLI, both at once: a public device client and the person who approves.
    const [created] = await Promise.all([
      kalm(cliEnv, ['client', 'create', '--name', 'Cluster TV', '--public', '--grant', 'device_code', '--grant', 'refresh_token', '--scope', SCOPES.join(' '), '--json']),
      kalm(cliEnv, ['user', 'create', '--username', 'phone', '--password-stdin'], PASSWORD),
    ]);
    const clientId = (JSON.parse(created) as { client_id: string }).client_id;

    const proxyTarget: Target = { base: proxyUrl };
    const directTarget = (i: number): Target => ({ base: instances[i]!.url, instance: i });
    const routeOfPort = (localPort: number | undefined): number | undefined => {
      if (localPort === undefined) return undefined;
      const key = proxy!.routeOf(localPort);
      return key === undefined ? undefined : byBackend.get(key);
    };
    const snapshot = () => instances.map((inst) => inst.generation);
    /** Was instance `i` down at `before`, or killed since? (Any instance, when the route is unknown.) */
    const disturbed = (i: number | undefined, before: number[]) => {
      const one = (k: number) => before[k]! % 2 === 1 || instances[k]!.generation !== before[k];
      return i === undefined ? instances.some((_, k) => one(k)) : one(i);
    };

    // Kill bookkeeping: armed when a flow at or past the next kill point starts, fired after
    // `killDelays[k]` more answered requests, one kill at a time.
    let nextKill = 0;
    let answersLeft = -1;
    let killing: Promise<void> = Promise.resolve();
    const killAndRestart = async (k: number) => {
      const inst = instances[victims[k]!]!;
      inst.generation++;
      await inst.child!.kill();
      report.kills++;
      report.victims.push(inst.index);
      const t0 = Date.now();
      await startInstance(inst);
      report.restartMs.push(Date.now() - t0);
      inst.generation++;
      log(`kill ${k + 1}/${killPoints.length}: instance ${inst.index} killed and back in ${Date.now() - t0} ms (pid ${inst.child!.pid})`);
      // MQTT requests the dead bridge took and never answered: the devices ask again, as after any reconnect.
      fleet?.resendOutstanding();
    };
    const fireKill = () => {
      const k = nextKill++;
      answersLeft = -1;
      killing = killing.then(() => killAndRestart(k));
    };
    const answered = () => {
      if (answersLeft > 0 && --answersLeft === 0) fireKill();
    };
    const arm = (flowIndex: number) => {
      if (answersLeft < 0 && nextKill < killPoints.length && flowIndex >= killPoints[nextKill]!) {
        answersLeft = killDelays[nextKill]!;
        if (answersLeft === 0) fireKill();
      }
    };

    /** One request; a transport failure is a Cut when its instance was killed meanwhile, else Broken. */
    async function send(flow: Flow | undefined, step: string, target: Target, method: 'GET' | 'POST', p: string, form?: Record<string, string | string[]>, cookies?: Map<string, string>): Promise<Answer> {
      const before = snapshot();
      try {
        const res = await httpCall(target.base, method, p, form, cookies);
        answered();
        const route = target.instance ?? routeOfPort(res.localPort);
        if (res.status >= 500) violation(flow, `${step} answered ${res.status} on instance ${route}: ${res.body.slice(0, 300)}`);
        return { status: res.status, location: res.location, body: res.body, at: res.at, route };
      } catch (err) {
        if (!(err instanceof CallError)) throw err;
        const route = target.instance ?? routeOfPort(err.localPort);
        if (disturbed(route, before)) {
          report.cutByKill++;
          throw new Cut(step);
        }
        throw new Broken(`${step} failed on instance ${route ?? '(none)'}, which was up: ${err.message}`);
      }
    }
    /** Try again after a cut (the proxy deals the next connection to a live instance). */
    async function retrying<T>(fn: () => Promise<T>, tries = 8): Promise<T> {
      for (let i = 1; ; i++) {
        try {
          return await fn();
        } catch (err) {
          if (!(err instanceof Cut) || i >= tries) throw err;
        }
      }
    }
    const json = (a: Answer) => {
      try {
        return JSON.parse(a.body) as Record<string, string>;
      } catch {
        throw new Broken(`expected JSON, got ${a.status} ${a.body.slice(0, 200)}`);
      }
    };
    const poll = (flow: Flow, step: string, deviceCode = flow.deviceCode!, target = proxyTarget) =>
      send(flow, step, target, 'POST', '/token', { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode, client_id: clientId });
    const refreshCall = (flow: Flow, token: string) => send(flow, 'refresh', proxyTarget, 'POST', '/token', { grant_type: 'refresh_token', refresh_token: token, client_id: clientId });

    async function signIn(target: Target): Promise<Phone> {
      return retrying(async () => {
        const cookies = new Map<string, string>();
        const form = await send(undefined, 'sign-in page', target, 'GET', '/signin', undefined, cookies);
        const csrf = /name="csrf_token" value="([^"]+)"/.exec(form.body)?.[1];
        if (!csrf) throw new Broken(`the sign-in page answered ${form.status} without a form`);
        const signedIn = await send(undefined, 'sign-in', target, 'POST', '/signin', { csrf_token: csrf, username: 'phone', password: PASSWORD }, cookies);
        if (signedIn.status !== 303) throw new Broken(`sign-in answered ${signedIn.status}`);
        // The session id rotated at sign-in, and the CSRF token with it (an HMAC of the id).
        const entry = await send(undefined, 'code entry page', target, 'GET', '/device', undefined, cookies);
        const next = /name="csrf_token" value="([^"]+)"/.exec(entry.body)?.[1];
        if (!next) throw new Broken(`the code entry page answered ${entry.status} without a form`);
        return { cookies, csrf: next };
      });
    }

    /**
     * The person decides on the phone: code entry, consent, the done page. Acknowledged when
     * the done page shows the outcome; when a kill cut the consent and the code is no longer
     * pending on the retry, the decision committed unacknowledged.
     */
    async function decideOnPhone(flow: Flow, phone: Phone, decision: 'approve' | 'deny', target: Target): Promise<{ acknowledged: boolean; sentAt?: number; at?: number; route?: number }> {
      let maybeCommitted = false;
      for (let attempt = 0; attempt < 8; attempt++) {
        try {
          const entered = await send(flow, 'code entry', target, 'POST', '/device', { csrf_token: phone.csrf, user_code: flow.userCode! }, phone.cookies);
          if (entered.status !== 303 || entered.location !== '/device/consent') {
            if (maybeCommitted && entered.status === 400) return { acknowledged: false };
            throw new Broken(`code entry answered ${entered.status} → ${entered.location}`);
          }
          let decided: Answer;
          const sentAt = now();
          try {
            decided = await send(flow, decision, target, 'POST', '/device/consent', { csrf_token: phone.csrf, decision, scope: SCOPES }, phone.cookies);
          } catch (err) {
            if (err instanceof Cut) maybeCommitted = true;
            throw err;
          }
          if (decided.location !== '/device/done') throw new Broken(`consent answered ${decided.status} → ${decided.location}`);
          const done = await retrying(() => send(flow, 'done page', target, 'GET', '/device/done', undefined, phone.cookies));
          const expected = decision === 'approve' ? 'result-approved' : 'result-denied';
          if (done.status === 200 && done.body.includes(expected)) return { acknowledged: true, sentAt, at: decided.at, route: decided.route };
          if (maybeCommitted && done.body.includes('result-used')) return { acknowledged: false };
          throw new Broken(`the done page answered ${done.status} without ${expected}`);
        } catch (err) {
          if (!(err instanceof Cut)) throw err;
        }
      }
      throw new Broken('the decision was cut 8 times');
    }

    /**
     * A push subscription that follows its device across kills: an abnormal close reconnects
     * (through the proxy, to a live instance) and subscribes again, and the `subscribed` answer
     * says what was decided meanwhile. `gone` is a 4404 (code spent, grant revoked).
     */
    function watchPush(flow: Flow, target: { url: string; instance?: number }, subscribe: Record<string, string>) {
      const subscribed = deferred<string>();
      const final = deferred<{ status: string; at: number; route: number | undefined }>();
      let reconnects = 0;
      let ours = false;
      let socket: WebSocket | undefined;
      const open = () => {
        const before = snapshot();
        const ws = new WebSocket(target.url);
        socket = ws;
        let route = target.instance;
        ws.on('upgrade', (res) => {
          if (target.instance === undefined) route = routeOfPort(res.socket.localPort);
        });
        ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', ...subscribe })));
        ws.on('message', (data) => {
          const at = now();
          const m = JSON.parse(String(data)) as { type: string; status: string };
          if (m.type === 'subscribed') {
            subscribed.resolve(m.status);
            if (m.status !== 'pending' && m.status !== 'paired') final.resolve({ status: m.status, at, route });
          } else if (m.type === 'status') {
            final.resolve({ status: m.status, at, route });
          }
        });
        ws.on('error', () => {});
        ws.on('close', (code) => {
          if (final.settled || ours) return;
          if (code === 4404) return final.resolve({ status: 'gone', at: now(), route });
          if (!disturbed(route, before)) violation(flow, `push socket closed (${code}) by instance ${route ?? '(none)'}, which was up`);
          if (++reconnects > 20) return final.reject(new Broken('push socket lost 20 times'));
          report.pushReconnects++;
          open();
        });
      };
      open();
      return {
        subscribed: subscribed.promise,
        final: final.promise,
        close() {
          ours = true;
          socket?.terminate();
        },
      };
    }

    async function redeemHttp(flow: Flow): Promise<Record<string, string> | undefined> {
      let cut = false;
      for (let attempt = 0; attempt < 8; attempt++) {
        let res: Answer;
        try {
          res = await poll(flow, 'redeem');
        } catch (err) {
          if (!(err instanceof Cut)) throw err;
          cut = true;
          continue;
        }
        const body = json(res);
        if (res.status === 200) return body;
        if (cut && body.error === 'invalid_grant') {
          // The redemption committed and its answer died with the instance: spent, never twice.
          flow.spentUnseen = true;
          report.spentUnseen++;
          return undefined;
        }
        if (flow.approved) flow.lost = true;
        throw new Broken(`redeeming an approved code answered ${res.status} ${JSON.stringify(body)}`);
      }
      throw new Broken('the redemption was cut 8 times');
    }

    const tookTokens = (flow: Flow, tokens: Record<string, string>) => {
      flow.redemptions++;
      report.tokenSets++;
      if (flow.redemptions > 1) {
        flow.double = true;
        violation(flow, 'device code redeemed twice');
      }
      flow.accessToken = tokens.access_token;
      flow.refreshToken = tokens.refresh_token;
      flow.grantId = grantIdOf(tokens.access_token!);
    };

    const mainCross: number[] = [];

    /** One flow, step by step. */
    async function drive(flow: Flow, phone: Phone) {
      let push: ReturnType<typeof watchPush> | undefined;
      let mq: MqttWait | undefined;
      try {
        // 1. The device asks.
        if (flow.kind === 'mqtt') {
          mq = await fleet!.start(flow, clientId);
          flow.userCode = await withTimeout(mq.authorized.promise, 'authorize answer over MQTT');
        } else {
          const auth = await retrying(() => send(flow, 'authorize', proxyTarget, 'POST', '/device_authorization', { client_id: clientId, scope: SCOPES.join(' ') }));
          if (auth.status !== 200) throw new Broken(`device authorization answered ${auth.status} ${auth.body.slice(0, 200)}`);
          const body = json(auth);
          flow.deviceCode = body.device_code;
          flow.userCode = body.user_code;
        }
        // 2. The device waits: on push, or polling (twice back to back: the second must be slow_down, wherever it lands).
        if (flow.kind === 'push') {
          push = watchPush(flow, { url: proxyWs }, { device_code: flow.deviceCode! });
          const status = await withTimeout(push.subscribed, 'push subscription');
          if (status !== 'pending') throw new Broken(`push subscribed ${status}, not pending`);
        } else if (flow.kind === 'poll') {
          let retried = false;
          const sentAt = now();
          const first = await retrying(async () => {
            try {
              return await poll(flow, 'poll');
            } catch (err) {
              if (err instanceof Cut) retried = true;
              throw err;
            }
          });
          const firstBody = json(first);
          if (firstBody.error !== 'authorization_pending' && !(retried && firstBody.error === 'slow_down')) throw new Broken(`first poll answered ${first.status} ${JSON.stringify(firstBody)}`);
          try {
            const second = await poll(flow, 'poll again');
            const secondBody = json(second);
            if (secondBody.error !== 'authorization_pending' && secondBody.error !== 'slow_down') throw new Broken(`second poll answered ${second.status} ${JSON.stringify(secondBody)}`);
            // Only PostgreSQL paces across instances (SQLite's pacing is per process), and only a pair sent well within the interval must meet it.
            if (engine === 'postgres' && !retried && second.at - sentAt < INTERVAL_MS / 2) {
              report.paceChecks++;
              if (secondBody.error !== 'slow_down') violation(flow, `a second poll ${Math.round(second.at - sentAt)} ms after the first (instances ${first.route} then ${second.route}) answered ${secondBody.error}, not slow_down`);
            }
          } catch (err) {
            if (!(err instanceof Cut)) throw err;
          }
        }
        if (flow.plan === 'pending') return;

        // 3. The person decides on the phone.
        const decision = flow.plan === 'deny' ? 'deny' : 'approve';
        const decided = await decideOnPhone(flow, phone, decision, proxyTarget);
        if (!decided.acknowledged) {
          flow.decisionUnacknowledged = true;
          report.decisionsUnacknowledged++;
        } else if (decision === 'approve') {
          flow.approved = true;
          report.acknowledgedApprovals++;
        } else {
          flow.denied = true;
          report.acknowledgedDenials++;
        }

        // 4. The device hears of it.
        const expected = decision === 'approve' ? 'approved' : 'denied';
        if (push) {
          const told = await withTimeout(push.final, `push ${expected}`);
          if (told.status !== expected) throw new Broken(`push said ${told.status}, not ${expected}`);
          if (decided.sentAt !== undefined && told.route !== undefined && decided.route !== undefined && told.route !== decided.route) mainCross.push(told.at - decided.sentAt);
        } else if (mq) {
          const status = await withTimeout(mq.status.promise, `MQTT status ${expected}`);
          if (status !== expected) throw new Broken(`MQTT status ${status}, not ${expected}`);
        }
        if (decision === 'deny') {
          if (flow.kind !== 'mqtt') {
            const res = await retrying(() => poll(flow, 'poll denied'));
            if (json(res).error !== 'access_denied') throw new Broken(`a denied code answered ${res.status} ${res.body}`);
          }
          return;
        }

        // 5. The device redeems.
        let tokens: Record<string, string> | undefined;
        if (mq) {
          mq.state = 'token';
          fleet!.publishToken(mq);
          const answer = await withTimeout(mq.answer.promise, 'token answer over MQTT');
          mq.state = 'done';
          tokens = (await openAnswer(mq.key, answer)) as Record<string, string>;
        } else {
          tokens = await redeemHttp(flow);
        }
        if (!tokens) return;
        tookTokens(flow, tokens);

        // 6. A paired push device listens for its revocation.
        const paired = flow.kind === 'push' && flow.revoke !== 'none' ? watchPush(flow, { url: proxyWs }, { access_token: flow.accessToken! }) : undefined;
        try {
          if (paired) {
            const status = await withTimeout(paired.subscribed, 'paired push subscription');
            if (status !== 'paired') throw new Broken(`paired push subscribed ${status}`);
          }
          // 7. Refreshes rotate the refresh token.
          for (let i = 0; i < flow.refreshes; i++) {
            const old = flow.refreshToken!;
            let res: Answer;
            try {
              res = await refreshCall(flow, old);
            } catch (err) {
              if (!(err instanceof Cut)) throw err;
              // Its rotation may or may not have committed: a retry could be reuse. The family's state is unknown.
              flow.familyUncertain = true;
              break;
            }
            const body = json(res);
            if (res.status !== 200) throw new Broken(`refresh answered ${res.status} ${JSON.stringify(body)}`);
            flow.rotated.push(old);
            flow.refreshToken = body.refresh_token;
            report.rotations++;
          }
          // 8. The device is revoked: by the app, or by the person on My devices.
          if (flow.revoke !== 'none' && !flow.familyUncertain) {
            if (flow.revoke === 'api') {
              const res = await retrying(() => send(flow, 'revoke', proxyTarget, 'POST', '/revoke', { token: flow.refreshToken!, client_id: clientId }));
              if (res.status !== 200) throw new Broken(`revoke answered ${res.status}`);
              flow.familyRevoked = true;
            } else {
              await revokeOnPhone(flow, phone);
            }
            if (flow.familyRevoked) report.revocations++;
            if (paired && flow.familyRevoked) {
              const told = await withTimeout(paired.final, 'push revoked');
              if (told.status !== 'revoked' && told.status !== 'gone') throw new Broken(`paired push said ${told.status}, not revoked`);
              report.revocationsToldOverPush++;
            }
          }
        } finally {
          paired?.close();
        }
      } finally {
        push?.close();
        if (mq) fleet!.forget(mq);
      }
    }

    /** My devices: revoke, confirmed, and the notice that says it was done. */
    async function revokeOnPhone(flow: Flow, phone: Phone) {
      let cut = false;
      for (let attempt = 0; attempt < 8; attempt++) {
        try {
          const res = await send(flow, 'revoke on My devices', proxyTarget, 'POST', '/devices/revoke', { csrf_token: phone.csrf, grant_id: flow.grantId!, confirm: 'yes' }, phone.cookies);
          if (res.status !== 303 || res.location !== '/devices') throw new Broken(`My devices revoke answered ${res.status} → ${res.location}`);
          const list = await send(flow, 'My devices', proxyTarget, 'GET', '/devices', undefined, phone.cookies);
          if (list.body.includes('notice-success')) {
            flow.familyRevoked = true;
            return;
          }
          if (cut && list.body.includes('notice-error')) {
            flow.revokeUnacknowledged = true;
            return;
          }
          throw new Broken(`My devices showed no notice after the revoke (${list.status})`);
        } catch (err) {
          if (!(err instanceof Cut)) throw err;
          cut = true;
        }
      }
      throw new Broken('the revocation was cut 8 times');
    }

    // The MQTT devices, and the phones: one signed-in browser session per worker.
    fleet = await MqttFleet.connect(broker.url, MQTT_CONNECTIONS, {
      onViolation: (flow, what) => {
        if (what.includes('two different token answers')) flow.double = true;
        violation(flow, what);
      },
      onResend: () => report.mqttResends++,
    });
    const phones = await Promise.all(Array.from({ length: concurrency }, () => signIn(proxyTarget)));

    // The main run, with the kills.
    const mainStart = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        while (next < flows.length) {
          const flow = flows[next++]!;
          arm(flow.index);
          try {
            await drive(flow, phones[worker]!);
            flow.done = true;
            report.flowsCompleted++;
            report.completedByKind[flow.kind]++;
          } catch (err) {
            if (err instanceof Broken || err instanceof Cut) violation(flow, err instanceof Cut ? `${err.message} cut too often` : err.message);
            else violation(flow, `unexpected failure: ${(err as Error).stack ?? String(err)}`);
          }
        }
      }),
    );
    // Kill points the flows ran out before: kill there now, so every run kills as many times as asked.
    while (nextKill < killPoints.length) fireKill();
    await killing;
    report.mainRunSeconds = round((Date.now() - mainStart) / 1000, 1);
    if (mainCross.length) report.mainRunCrossInstance = figures(mainCross);
    log(`main run: ${report.flowsCompleted}/${flows.length} flows in ${report.mainRunSeconds} s, ${report.kills} kills, ${report.violations.length} violations`);

    // What must hold at the end, read back through a store on the same database…
    const { createSqliteStore } = await import('../../../server/src/store/sqlite/index.js');
    const store: StoreEngine =
      engine === 'postgres' ? await (await import('../../../server/src/store/postgres/index.js')).createPostgresStore({ url: databaseUrl! }) : createSqliteStore(sharedDir);
    try {
      await checkStore(store);
    } finally {
      await store.close();
    }
    // …and over the wire: a spent code again, the current refresh token, a rotated one, a revoked family.
    await replay();
    report.lostApprovals = flows.filter((f) => f.lost).length;
    report.doubleRedemptions = flows.filter((f) => f.double).length;
    log(`checked: ${report.acknowledgedApprovals} acknowledged approvals (${report.lostApprovals} lost), ${report.tokenSets} token sets (${report.doubleRedemptions} double), ${report.rotationsChecked} rotations, ${report.revocationsChecked} revocations`);

    async function checkStore(s: StoreEngine) {
      for (const flow of flows) {
        let status: string | undefined;
        let grantId: string | null | undefined;
        if (flow.kind === 'mqtt') {
          if (!flow.rid || !flow.userCode) continue;
          const view = await s.mqtt.get(flow.rid);
          status = view?.codeStatus;
          if (view) grantId = (await s.deviceCodes.getById(view.deviceCodeId))?.grantId;
          if (flow.mqttAnswer && view?.tokenAnswer !== flow.mqttAnswer) {
            flow.double = true;
            violation(flow, 'the stored MQTT token answer is not the one the device holds');
          }
        } else {
          if (!flow.deviceCode) continue;
          const record = await s.deviceCodes.getByHash(hashOrderedSecret(flow.deviceCode));
          status = record?.status;
          grantId = record?.grantId;
        }
        if (flow.approved && status !== 'approved' && status !== 'redeemed') {
          flow.lost = true;
          violation(flow, `an acknowledged approval is ${status ?? 'gone'} in the database`);
        }
        if (flow.denied && status !== 'denied') violation(flow, `an acknowledged denial is ${status ?? 'gone'} in the database`);
        if (flow.grantId && (status !== 'redeemed' || grantId !== flow.grantId)) violation(flow, `the code's stored grant (${status}, ${grantId}) is not the one its tokens carry`);
        if (!flow.grantId || flow.familyUncertain || flow.revokeUnacknowledged) continue;
        const grant = await s.grants.get(flow.grantId);
        if (flow.familyRevoked) {
          // A revoked grant takes its refresh tokens with it: what must hold is the revocation.
          report.revocationsChecked++;
          if (!grant || grant.revokedAt === null) violation(flow, 'an acknowledged revocation is not in the database');
          continue;
        }
        if (!grant || grant.revokedAt !== null) violation(flow, 'a grant nobody revoked is revoked in the database');
        for (const old of flow.rotated) {
          const record = await s.refreshTokens.getByHash(hashSecret(old));
          if (!record || record.usedAt === null) violation(flow, 'an acknowledged rotation left its old refresh token unspent');
        }
        if (flow.rotated.length) report.rotationsChecked++;
        const current = await s.refreshTokens.getByHash(hashSecret(flow.refreshToken!));
        if (!current || current.usedAt !== null) violation(flow, 'the current refresh token is missing or spent in the database');
      }
    }

    async function replay() {
      for (const flow of flows) {
        try {
          if (flow.kind !== 'mqtt' && flow.deviceCode) {
            const res = await poll(flow, 'final poll');
            const error = json(res).error;
            if (flow.redemptions > 0 || flow.spentUnseen) {
              if (res.status === 200) {
                flow.double = true;
                violation(flow, 'a redeemed device code was redeemed again at the end');
              } else if (error !== 'invalid_grant') violation(flow, `a redeemed device code answered ${error}`);
            } else if (flow.approved && !flow.done) {
              // Its flow broke after the approval (recorded already): the approval itself must still hold.
              if (res.status === 200) tookTokens(flow, json(res));
              else {
                flow.lost = true;
                violation(flow, `an acknowledged approval answered ${error} at the end`);
              }
            } else if (flow.denied && error !== 'access_denied') violation(flow, `an acknowledged denial answered ${error} at the end`);
          }
          if (!flow.refreshToken || flow.familyUncertain || flow.revokeUnacknowledged) continue;
          if (flow.familyRevoked) {
            const res = await refreshCall(flow, flow.refreshToken);
            if (res.status === 200) violation(flow, 'a refresh token of a revoked family still works');
            continue;
          }
          if (flow.rotated.length === 0) continue;
          // The newest token works (its rotation was acknowledged)…
          const current = await refreshCall(flow, flow.refreshToken);
          if (current.status !== 200) {
            violation(flow, `the current refresh token was lost (${current.body})`);
            continue;
          }
          flow.rotated.push(flow.refreshToken);
          flow.refreshToken = json(current).refresh_token;
          // …a rotated one does not, and its reuse ends the family (RFC 9700 §4.14.2).
          const reused = await refreshCall(flow, flow.rotated[0]!);
          if (reused.status === 200) violation(flow, 'a refresh token was usable after its rotation');
          const after = await refreshCall(flow, flow.refreshToken!);
          if (after.status === 200) violation(flow, 'reuse of a rotated refresh token did not end the family');
        } catch (err) {
          violation(flow, `final check: ${(err as Error).message}`);
        }
      }
    }

    // The event latency: device on instance B (its push socket straight to B), the person on A.
    if (options.latencyFlows && count >= 2) {
      const phoneOn = await Promise.all(instances.map((inst) => signIn(directTarget(inst.index))));
      const samples = { cross: { request: [] as number[], commit: [] as number[], answer: [] as number[] }, same: { request: [] as number[], commit: [] as number[], answer: [] as number[] } };
      // On PostgreSQL the commit itself can be seen: the decision's NOTIFY on kalm_feed, heard
      // here as instance B hears it. One approval at a time, so the first one heard is ours.
      let commitSeen = deferred<number>();
      let listener: pg.Client | undefined;
      if (databaseUrl) {
        listener = new pg.Client({ connectionString: databaseUrl });
        await listener.connect();
        listener.on('notification', (n) => {
          if ((JSON.parse(n.payload ?? '{}') as { kind?: string }).kind === 'decided') commitSeen.resolve(now());
        });
        await listener.query('LISTEN kalm_feed');
      }
      const total = options.latencyFlows + Math.ceil(options.latencyFlows / 4);
      for (let i = 0; i < total; i++) {
        const sameInstance = i >= options.latencyFlows;
        const a = i % count;
        const b = sameInstance ? a : (a + 1 + (Math.floor(i / count) % (count - 1))) % count;
        const flow = newFlow(-1 - i, 'push', 'approve');
        try {
          const auth = json(await send(flow, 'authorize', proxyTarget, 'POST', '/device_authorization', { client_id: clientId, scope: SCOPES.join(' ') }));
          flow.deviceCode = auth.device_code;
          flow.userCode = auth.user_code;
          const watch = watchPush(flow, { url: `ws://127.0.0.1:${instances[b]!.port}/push`, instance: b }, { device_code: flow.deviceCode! });
          try {
            if ((await withTimeout(watch.subscribed, 'push subscription')) !== 'pending') throw new Broken('not pending');
            commitSeen = deferred<number>();
            const decided = await decideOnPhone(flow, phoneOn[a]!, 'approve', directTarget(a));
            const told = await withTimeout(watch.final, 'push approved');
            if (told.status !== 'approved') throw new Broken(`push said ${told.status}`);
            const into = sameInstance ? samples.same : samples.cross;
            into.request.push(told.at - decided.sentAt!);
            // The same instance publishes its own decisions without waiting for the NOTIFY: negative then.
            if (listener) into.commit.push(told.at - (await withTimeout(commitSeen.promise, 'NOTIFY of the decision')));
            into.answer.push(told.at - decided.at!);
          } finally {
            watch.close();
          }
          const tokens = await poll(flow, 'redeem');
          if (tokens.status !== 200) throw new Broken(`redeem answered ${tokens.status}`);
        } catch (err) {
          violation(flow, `latency flow: ${(err as Error).message}`);
        }
      }
      await listener?.end();
      const both = (x: { request: number[]; commit: number[]; answer: number[] }): EventLatency => ({
        fromApprovalRequest: figures(x.request),
        ...(listener && { fromCommit: figures(x.commit) }),
        fromApprovalAnswer: figures(x.answer),
      });
      report.eventLatency = { crossInstance: both(samples.cross), sameInstance: both(samples.same), targetP99Ms: 50 };
      const c = report.eventLatency.crossInstance;
      log(`event latency, approval on A → push approved on B over ${c.fromApprovalRequest.samples} flows: from the request p50 ${c.fromApprovalRequest.p50} ms, p99 ${c.fromApprovalRequest.p99} ms; from the commit p50 ${c.fromCommit?.p50} ms, p99 ${c.fromCommit?.p99} ms; from the answer p50 ${c.fromApprovalAnswer.p50} ms, p99 ${c.fromApprovalAnswer.p99} ms`);
    }

    // Throughput with 1..N instances behind the proxy.
    if (options.throughput) {
      const t = options.throughput;
      const pendingCodes = await runLoad({
        url: proxyUrl,
        path: '/device_authorization',
        mode: 'closed',
        connections: 10,
        amount: t.pendingCodes ?? 1000,
        form: { client_id: clientId, scope: SCOPES.join(' ') },
        collect: 'device_code',
      });
      const codes = pendingCodes.collected ?? [];
      if (codes.length === 0) throw new Error(`no pending codes for the poll load: ${JSON.stringify(pendingCodes.shapes)}`);
      let cycleStart = 0;
      const workers = t.concurrency ?? concurrency;
      // One phone (page session) per worker: a session follows one code at a time.
      while (phones.length < workers) phones.push(await signIn(proxyTarget));
      const results: ThroughputFigures[] = [];
      for (let n = 1; n <= count; n++) {
        proxy.setBackends(instances.slice(0, n).map((inst) => ({ host: '127.0.0.1', port: inst.port })));
        // Complete flows, closed loop: each worker authorizes, approves on its phone and redeems, again and again.
        let completed = 0;
        const deadline = Date.now() + t.seconds * 1000;
        const t0 = now();
        await Promise.all(
          Array.from({ length: workers }, async (_, w) => {
            const phone = phones[w]!;
            while (Date.now() < deadline) {
              const flow = newFlow(-100_000 - completed, 'poll', 'approve');
              try {
                const auth = json(await send(flow, 'authorize', proxyTarget, 'POST', '/device_authorization', { client_id: clientId, scope: SCOPES.join(' ') }));
                flow.deviceCode = auth.device_code;
                flow.userCode = auth.user_code;
                await decideOnPhone(flow, phone, 'approve', proxyTarget);
                const res = await poll(flow, 'redeem');
                if (res.status !== 200) throw new Broken(`redeem answered ${res.status}`);
                completed++;
              } catch (err) {
                violation(flow, `throughput flow: ${(err as Error).message}`);
                return;
              }
            }
          }),
        );
        const flowSeconds = (now() - t0) / 1000;
        const polls = await runLoad({
          url: proxyUrl,
          path: '/token',
          mode: 'closed',
          connections: t.pollConnections ?? 32,
          durationSec: t.seconds,
          form: { grant_type: DEVICE_CODE_GRANT, client_id: clientId },
          cycle: { param: 'device_code', values: codes, start: cycleStart },
        });
        cycleStart = polls.nextCycleStart ?? 0;
        const row: ThroughputFigures = {
          instances: n,
          flowsPerSec: round(completed / flowSeconds, 1),
          flows: completed,
          pendingPollsPerSec: round(polls.rps, 0),
          pollP50: polls.p50,
          pollP99: polls.p99,
          pollShapes: polls.shapes,
        };
        results.push(row);
        log(`throughput with ${n} instance(s): ${row.flowsPerSec} flows/s, ${row.pendingPollsPerSec} pending polls/s ${JSON.stringify(row.pollShapes)}`);
      }
      proxy.setBackends(instances.map((inst) => ({ host: '127.0.0.1', port: inst.port })));
      report.throughput = results;
    }
    report.proxy = proxy.stats();
    // A graceful stop of every instance at the end (SIGTERM): one that does not stop within 15 s is a finding.
    await Promise.all(
      instances.map((inst) =>
        withTimeout(inst.child!.stop(), `exit of instance ${inst.index} after SIGTERM`, 15_000).catch((err: Error) => violation(undefined, err.message)),
      ),
    );
  } finally {
    await fleet?.close();
    await Promise.all(instances.map((inst) => inst.child?.kill()));
    await proxy?.close();
    await broker?.dispose();
    await postgres?.dispose();
    rmSync(temp, { recursive: true, force: true });
  }
  report.durationMs = Date.now() - started;
  return report;
}

/** One MQTT device flow: its rid and key, what it waits for, and what it still needs an answer to. */
interface MqttWait {
  flow: Flow;
  rid: string;
  key: DeviceKey;
  clientId: string;
  client: MqttClient;
  state: 'authorize' | 'status' | 'token' | 'done';
  /** The user code of the first answer: every repeat must give the same. */
  userCode?: string;
  authorized: Deferred<string>;
  status: Deferred<string>;
  answer: Deferred<string>;
}

/**
 * The MQTT devices: a few MQTT 3.1.1 connections, each flow with its own ephemeral key and
 * rid, subscribed to its tree before it asks (as firmware does). After an instance restarts,
 * every request still unanswered is asked again (the bridge answers a repeat with the same
 * code, the same status, the same stored token answer).
 */
class MqttFleet {
  private readonly waits = new Map<string, MqttWait>();
  private turn = 0;

  private constructor(
    private readonly clients: MqttClient[],
    private readonly hooks: { onViolation(flow: Flow, what: string): void; onResend(): void },
  ) {
    for (const client of clients) client.on('message', (topic, payload) => this.onMessage(topic, payload.toString()));
  }

  static async connect(url: string, connections: number, hooks: MqttFleet['hooks']): Promise<MqttFleet> {
    const clients = await Promise.all(
      Array.from(
        { length: connections },
        () =>
          new Promise<MqttClient>((resolve, reject) => {
            const client = mqttConnect(url, { protocolVersion: 4, clientId: `cluster-device-${newRid()}`, reconnectPeriod: 500 });
            client.once('connect', () => {
              (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
              resolve(client);
            });
            client.once('error', reject);
          }),
      ),
    );
    for (const c of clients) c.on('error', () => {});
    return new MqttFleet(clients, hooks);
  }

  async start(flow: Flow, clientId: string): Promise<MqttWait> {
    const client = this.clients[this.turn++ % this.clients.length]!;
    const w: MqttWait = { flow, rid: newRid(), key: await newDeviceKey(), clientId, client, state: 'authorize', authorized: deferred(), status: deferred(), answer: deferred() };
    flow.rid = w.rid;
    flow.key = w.key;
    this.waits.set(w.rid, w);
    await client.subscribeAsync(`${PREFIX}/device/${w.rid}/#`, { qos: 1 });
    this.publishAuthorize(w);
    return w;
  }

  publishAuthorize(w: MqttWait): void {
    w.client.publish(`${PREFIX}/device/${w.rid}/authorize`, JSON.stringify({ client_id: w.clientId, scope: SCOPES.join(' '), jwk: w.key.publicJwk }), { qos: 1 });
  }

  publishToken(w: MqttWait): void {
    void signProof(w.key, w.rid, Date.now()).then((proof) => w.client.publish(`${PREFIX}/device/${w.rid}/token`, proof, { qos: 1 }));
  }

  /** Ask again whatever is unanswered (after an instance restarted). */
  resendOutstanding(): void {
    for (const w of this.waits.values()) {
      if (w.state === 'authorize' || w.state === 'status') {
        // A repeated authorize is answered with the same code, and repeats a status already decided.
        if (w.state === 'authorize' || !w.status.settled) {
          this.hooks.onResend();
          this.publishAuthorize(w);
        }
      } else if (w.state === 'token' && !w.answer.settled) {
        this.hooks.onResend();
        this.publishToken(w);
      }
    }
  }

  forget(w: MqttWait): void {
    this.waits.delete(w.rid);
    void w.client.unsubscribeAsync(`${PREFIX}/device/${w.rid}/#`).catch(() => {});
  }

  private onMessage(topic: string, payload: string): void {
    const [, , , rid, ...rest] = topic.split('/');
    const w = this.waits.get(rid!);
    if (!w) return;
    const tail = rest.join('/');
    try {
      if (tail === 'authorize/accepted') {
        const userCode = (JSON.parse(payload) as { user_code: string }).user_code;
        if (w.userCode !== undefined && w.userCode !== userCode) this.hooks.onViolation(w.flow, `a repeated authorize gave another user code (${userCode}, first ${w.userCode})`);
        w.userCode ??= userCode;
        w.authorized.resolve(userCode);
        if (w.state === 'authorize') w.state = 'status';
      } else if (tail === 'status') {
        w.status.resolve((JSON.parse(payload) as { status: string }).status);
      } else if (tail === 'token/accepted') {
        if (w.flow.mqttAnswer && w.flow.mqttAnswer !== payload) this.hooks.onViolation(w.flow, 'two different token answers for one device code (redeemed twice)');
        w.flow.mqttAnswer ??= payload;
        w.answer.resolve(payload);
      } else if (tail.endsWith('/rejected')) {
        const error = (JSON.parse(payload) as { error?: string }).error;
        // A repeat racing the first request may be told to wait; anything else is a broken promise.
        if (error !== 'authorization_pending' && error !== 'slow_down') {
          this.hooks.onViolation(w.flow, `${tail}: ${payload}`);
          (tail.startsWith('token') ? w.answer : w.authorized).reject(new Broken(`${tail}: ${error}`));
        }
      }
    } catch (err) {
      this.hooks.onViolation(w.flow, `unreadable MQTT message on ${tail}: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync(true)));
  }
}
