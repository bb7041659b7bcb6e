/**
 * Steps of the audit tests: a device flow a person approves on the pages from a phone of its
 * own address, and the rows of `audit_events` as stored. Not a test file.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { expect } from 'vitest';
import type { AuditEventRecord } from '../../server/src/store/port/index.js';
import { GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { databaseUrlFor } from '../helpers/engine.js';
import { kalmCli } from '../helpers/kalm-cli.js';
import { PageClient, csrfOf } from '../http/verify-client.js';

/** The phone's address: any 127.x.y.z is this machine, and the server tells it from the device's 127.0.0.1. */
export const PHONE_ADDRESS = '127.0.0.2';

export interface PairedDevice {
  /** The phone, still signed in. */
  phone: PageClient;
  deviceCode: string;
  userCode: string;
  accessToken: string;
  refreshToken: string;
}

/** What the flows need of a server: the test server, or `kalm serve` in a child process (whose clock is the real one). */
export type FlowTarget = Pick<TestServer, 'url' | 'post'> & { clock?: { advance(ms: number): void } };

/** POST a form to the server from the device (127.0.0.1); the JSON answer, any status. */
export async function devicePost(server: FlowTarget, path: string, form: Record<string, string>, basic?: [string, string]) {
  const res = await server.post(path, form, basic ? { basic } : {});
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, string> };
}

/**
 * A whole device flow: the device asks for `scope`, the person opens the link on a phone at
 * PHONE_ADDRESS, signs in (after `wrongPassword` first, when given) and approves `granted`;
 * the device redeems. The clock moves a second between steps, so every event has a time of its own.
 */
export async function pairDevice(
  server: FlowTarget,
  input: { clientId: string; clientSecret?: string; username: string; password: string; scope: string; granted: string[]; wrongPassword?: string; redeem?: false },
): Promise<PairedDevice> {
  const basic: [string, string] | undefined = input.clientSecret ? [input.clientId, input.clientSecret] : undefined;
  const auth = (await devicePost(server, '/device_authorization', { scope: input.scope, ...(basic ? {} : { client_id: input.clientId }) }, basic)).json;
  expect(auth.device_code).toBeTruthy();
  server.clock?.advance(1000);
  const phone = new PageClient(server.url, { localAddress: PHONE_ADDRESS });
  const link = new URL(auth.verification_uri_complete!);
  expect((await phone.get(link.pathname + link.search)).status).toBe(303);
  const confirm = await phone.get('/device');
  expect((await phone.post('/device', { csrf_token: csrfOf(confirm.body), action: 'confirm' })).status).toBe(303);
  if (input.wrongPassword) {
    const page = await phone.get('/signin?return_to=%2Fdevice%2Fconsent');
    const refused = await phone.post('/signin', { csrf_token: csrfOf(page.body), username: input.username, password: input.wrongPassword, return_to: '/device/consent' });
    expect(refused.status).toBe(401);
    server.clock?.advance(1000);
  }
  const page = await phone.get('/signin?return_to=%2Fdevice%2Fconsent');
  const signedIn = await phone.post('/signin', { csrf_token: csrfOf(page.body), username: input.username, password: input.password, return_to: '/device/consent' });
  expect(signedIn.location).toBe('/device/consent');
  server.clock?.advance(1000);
  const consent = await phone.get('/device/consent');
  const done = await phone.post('/device/consent', { csrf_token: csrfOf(consent.body), decision: 'approve', scope: input.granted });
  expect(done.location).toBe('/device/done');
  server.clock?.advance(1000);
  if (input.redeem === false) return { phone, deviceCode: auth.device_code!, userCode: auth.user_code!, accessToken: '', refreshToken: '' };
  const tokens = (await devicePost(server, '/token', { grant_type: GRANT_TYPES.deviceCode, device_code: auth.device_code!, ...(basic ? {} : { client_id: input.clientId }) }, basic)).json;
  expect(tokens.access_token, JSON.stringify(tokens)).toBeTruthy();
  server.clock?.advance(1000);
  return { phone, deviceCode: auth.device_code!, userCode: auth.user_code!, accessToken: tokens.access_token!, refreshToken: tokens.refresh_token! };
}

/** `kalm audit ARGS --json` on the server's database: the events it prints. */
export async function auditJson(server: TestServer, ...args: string[]): Promise<AuditEventRecord[]> {
  const { stdout } = await kalmCli(server.dataDir, 'audit', ...args, '--json');
  return JSON.parse(stdout) as AuditEventRecord[];
}

/** The exit code and error output of a `kalm` command expected to fail. */
export async function kalmFails(server: TestServer, ...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await kalmCli(server.dataDir, ...args);
  } catch (err) {
    const { code, stderr } = err as { code: number; stderr: string };
    return { code, stderr };
  }
  throw new Error(`kalm ${args.join(' ')} succeeded`);
}

/** Every row of `audit_events` as the database stores it, every column (SQLite file, or the test database on PostgreSQL). */
export async function auditRows(server: TestServer): Promise<Array<Record<string, unknown>>> {
  return rawRows(server, 'SELECT * FROM audit_events ORDER BY id');
}

/** The rows of a read-only query on the server's database, outside the server (no repository in between). */
export async function rawRows(server: TestServer, sql: string): Promise<Array<Record<string, unknown>>> {
  const url = databaseUrlFor(server.dataDir);
  if (url) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql)).rows as Array<Record<string, unknown>>;
    } finally {
      await client.end();
    }
  }
  const db = new Database(path.join(server.dataDir, 'kalm.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}
