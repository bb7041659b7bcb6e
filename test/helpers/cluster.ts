/**
 * Several server instances on one PostgreSQL database, for the cross-instance tests of
 * test/cluster (issue 14). Not a test file.
 *
 * - `startInstances`: in-process servers (`startTestServer`), each with its own pool, LISTEN
 *   connection, in-memory state and fake clock; the first one's URL is everyone's issuer (one
 *   deployment behind a load balancer), and every clock starts at the first one's time.
 * - `startKalmServe`: a real `kalm serve` process on `DATABASE_URL` (real clock), ready on its banner.
 * - `openAdmin`: a core in the test process on the same database, standing in for the operator
 *   (clients, users) without a server of its own.
 * - the phone: sign-in, code confirmation, consent and My devices over HTTP (`PageClient`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { defaultConfig, type Config } from '../../server/src/config.js';
import { GRANT_TYPES } from '../../server/src/core/clients.js';
import { createCore, type Core } from '../../server/src/core/index.js';
import { openStore } from '../../server/src/store/open.js';
import { PageClient, csrfOf } from '../http/verify-client.js';
import { KALM_BIN } from './kalm-cli.js';
import { ALL_SCOPES, startTestServer, type TestServer } from './server.js';

export interface Instances {
  servers: TestServer[];
  /** Move every instance's fake clock by `ms`, together. */
  advance(ms: number): void;
  stop(): Promise<void>;
}

/**
 * `count` in-process instances on `databaseUrl`, started one after the other (the first
 * migrates). The issuer (and so the token audience) is the first one's URL for all of them.
 */
export async function startInstances(
  databaseUrl: string,
  count: number,
  options: { config?: Partial<Config>; clockStart?: number } = {},
): Promise<Instances> {
  const servers: TestServer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const first = servers[0];
      servers.push(
        await startTestServer({
          clockStart: first ? first.clock.now() : options.clockStart,
          config: { databaseUrl, ...(first ? { publicUrl: first.url } : {}), ...options.config },
        }),
      );
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    throw err;
  }
  return {
    servers,
    advance(ms) {
      for (const s of servers) s.clock.advance(ms);
    },
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

/** A core on the database with no server: the operator's handle (clients, users). */
export interface Admin {
  core: Core;
  /** A public device-flow client (device_code + refresh_token, every scope). */
  createDeviceClient(name?: string): Promise<string>;
  /** A confidential client that may introspect (a resource server), as [id, secret]. */
  createResourceServer(): Promise<[string, string]>;
  createUser(username: string, password?: string): Promise<{ id: string; username: string; password: string }>;
  close(): Promise<void>;
}

export async function openAdmin(databaseUrl: string, options: { clock?: Core['clock'] } = {}): Promise<Admin> {
  const config = defaultConfig({ databaseUrl, demo: false });
  const store = await openStore(config);
  const core = await createCore({ config, store, ...(options.clock ? { clock: options.clock } : {}) });
  return {
    core,
    async createDeviceClient(name = 'Living-room TV') {
      const { client } = await core.clients.create({ name, type: 'public', grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken], scopes: ALL_SCOPES });
      return client.id;
    },
    async createResourceServer() {
      const { client, clientSecret } = await core.clients.create({ name: 'API', type: 'confidential', grantTypes: [GRANT_TYPES.refreshToken], scopes: [] });
      return [client.id, clientSecret!];
    },
    async createUser(username, password = 'correct horse battery') {
      const user = await core.users.create({ username, password });
      return { id: user.id, username, password };
    },
    async close() {
      await store.close();
    },
  };
}

/** `kalm serve` as a process of its own on a PostgreSQL database. */
export interface KalmServe {
  url: string;
  /** The issuer it publishes (PUBLIC_URL, or the URL of the port it bound). */
  issuer: string;
  proc: ChildProcess;
  /** Every JSON log line so far. */
  lines: Array<Record<string, unknown>>;
  /** Everything written to stdout and stderr. */
  output(): string;
  /** Resolves once `count` log lines match (already written or yet to come). */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, count?: number): Promise<Record<string, unknown>>;
  readonly running: boolean;
  /** Resolves with the exit code or signal once the process is gone and its output read. */
  exited: Promise<number | string>;
  /** SIGTERM (graceful close) and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

const BANNER = /Kalm authorization server on (http:\/\/\S+) \(issuer (\S+)\)/;

/**
 * Spawn `DATABASE_URL=… PORT=0 node server/bin/kalm.js serve` and resolve on its banner (an
 * event, never a sleep); reject with its output when it exits first. `env` adds or overrides
 * variables (PUBLIC_URL to share an issuer, MQTT_URL, LOG_LEVEL).
 */
export function startKalmServe(databaseUrl: string, env: Record<string, string> = {}): Promise<KalmServe> {
  const proc = spawn(process.execPath, [KALM_BIN, 'serve'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', DEMO: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ predicate: (line: Record<string, unknown>) => boolean; count: number; resolve: (line: Record<string, unknown>) => void }> = [];
  let text = '';
  let rest = '';
  const settle = () => {
    for (const w of [...waiters]) {
      const matched = lines.filter(w.predicate);
      if (matched.length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(matched[w.count - 1]!);
      }
    }
  };
  proc.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    const parts = (rest + chunk.toString()).split('\n');
    rest = parts.pop()!;
    for (const part of parts) {
      if (!part.startsWith('{')) continue; // the banner
      try {
        lines.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
    settle();
  });
  proc.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  // 'close': every line the process wrote has been read by then.
  const exited = new Promise<number | string>((resolve) => proc.once('close', (code, signal) => resolve(code ?? signal ?? -1)));
  const running = () => proc.exitCode === null && proc.signalCode === null;
  const end = async (signal: NodeJS.Signals) => {
    if (running()) proc.kill(signal);
    await exited;
  };
  return new Promise((resolve, reject) => {
    const onData = () => {
      const match = BANNER.exec(text);
      if (!match) return;
      proc.stdout!.off('data', onData);
      proc.off('exit', onExit);
      resolve({
        url: match[1]!,
        issuer: match[2]!,
        proc,
        lines,
        output: () => text,
        waitForLog: (predicate, count = 1) =>
          new Promise((r) => {
            waiters.push({ predicate, count, resolve: r });
            settle();
          }),
        get running() {
          return running();
        },
        exited,
        stop: () => end('SIGTERM'),
        kill: () => end('SIGKILL'),
      });
    };
    const onExit = (code: number | null, signal: string | null) => reject(new Error(`kalm serve exited (${code ?? signal}) before listening:\n${text}`));
    proc.stdout!.on('data', onData);
    proc.once('exit', onExit);
    proc.once('error', reject);
  });
}

const run = promisify(execFile);

/** `kalm ARGS` on `databaseUrl`, as an operator runs it beside the instances; rejects on a non-zero exit. */
export function kalmOn(databaseUrl: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [KALM_BIN, ...args], { env: { ...process.env, DATABASE_URL: databaseUrl, DEMO: '0', LOG_LEVEL: 'silent' } });
}

// ── The phone, over HTTP ────────────────────────────────────────────────────────────────

export interface Person {
  username: string;
  password: string;
}

/** Sign `phone` in on its server; it then holds a signed-in session cookie. */
export async function signIn(phone: PageClient, person: Person, returnTo = '/devices'): Promise<void> {
  const page = await phone.get(`/signin?return_to=${encodeURIComponent(returnTo)}`);
  const res = await phone.post('/signin', { csrf_token: csrfOf(page.body), username: person.username, password: person.password, return_to: returnTo });
  expect(res.status, res.body).toBe(303);
  expect(res.location).toBe(returnTo);
}

/**
 * What a person does with the QR code: open `verification_uri_complete` on `baseUrl` (the
 * instance the load balancer picked), confirm the code, sign in, approve `scopes` (all that were
 * asked when absent). Resolves once the consent form's answer has arrived, with the time (ms, the
 * test's real clock) the approving POST was sent.
 */
export async function approveOnPhone(
  baseUrl: string,
  verificationUriComplete: string,
  person: Person,
  options: { scopes?: string[]; localAddress?: string } = {},
): Promise<{ phone: PageClient; sentAt: number; answeredAt: number }> {
  const phone = new PageClient(baseUrl, options.localAddress ? { localAddress: options.localAddress } : {});
  const link = new URL(verificationUriComplete);
  const linked = await phone.get(link.pathname + link.search);
  expect(linked.status).toBe(303);
  const confirm = await phone.get('/device');
  expect(confirm.status).toBe(200);
  const confirmed = await phone.post('/device', { csrf_token: csrfOf(confirm.body), action: 'confirm' });
  expect(confirmed.location).toBe('/signin?return_to=%2Fdevice%2Fconsent');
  await signIn(phone, person, '/device/consent');
  const consent = await phone.get('/device/consent');
  expect(consent.status, consent.body).toBe(200);
  const asked = [...consent.body.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1]!);
  const sentAt = performance.now();
  const done = await phone.post('/device/consent', { csrf_token: csrfOf(consent.body), decision: 'approve', scope: options.scopes ?? asked });
  const answeredAt = performance.now();
  expect(done.location).toBe('/device/done');
  expect((await phone.get('/device/done')).body).toContain('Device connected');
  return { phone, sentAt, answeredAt };
}

/**
 * Revoke `grantId` on My devices of `baseUrl`, signed in as `person` (asked, then confirmed).
 * Resolves with the time (ms, the test's real clock) the confirming POST was sent.
 */
export async function revokeOnMyDevices(baseUrl: string, person: Person, grantId: string): Promise<{ sentAt: number }> {
  const phone = new PageClient(baseUrl);
  await signIn(phone, person);
  const list = await phone.get('/devices');
  expect(list.status).toBe(200);
  expect(list.body).toContain(`value="${grantId}"`);
  const ask = await phone.post('/devices/revoke', { csrf_token: csrfOf(list.body), grant_id: grantId });
  expect(ask.status, ask.body).toBe(200);
  const sentAt = performance.now();
  const done = await phone.post('/devices/revoke', { csrf_token: csrfOf(ask.body), grant_id: grantId, confirm: 'yes' });
  expect(done.location).toBe('/devices');
  expect((await phone.get('/devices')).body).not.toContain(`value="${grantId}"`);
  return { sentAt };
}

// ── The device, over HTTP ───────────────────────────────────────────────────────────────

/** POST a form to `baseUrl + path`. */
export function postForm(baseUrl: string, path: string, form: Record<string, string>, basic?: [string, string]): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) headers.authorization = `Basic ${Buffer.from(basic.map(encodeURIComponent).join(':')).toString('base64')}`;
  return fetch(`${baseUrl}${path}`, { method: 'POST', headers, body: new URLSearchParams(form) });
}

export interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri_complete: string;
  interval: number;
  expires_in: number;
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
  token_type: string;
}

export async function deviceAuthorization(baseUrl: string, clientId: string, scope = 'valuate:read'): Promise<DeviceAuthorization> {
  const res = await postForm(baseUrl, '/device_authorization', { client_id: clientId, scope });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as DeviceAuthorization;
}

export function pollToken(baseUrl: string, clientId: string, deviceCode: string): Promise<Response> {
  return postForm(baseUrl, '/token', { grant_type: GRANT_TYPES.deviceCode, device_code: deviceCode, client_id: clientId });
}

export function refreshToken(baseUrl: string, clientId: string, token: string): Promise<Response> {
  return postForm(baseUrl, '/token', { grant_type: GRANT_TYPES.refreshToken, refresh_token: token, client_id: clientId });
}

/** A token answer's status and body, read once. */
export async function answerOf(res: Response): Promise<{ status: number; body: Record<string, unknown> }> {
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
