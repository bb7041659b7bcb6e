import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEventRecord } from '../../server/src/store/port/index.js';
import { kalmCli } from '../helpers/kalm-cli.js';
import { GRANT_TYPES, startTestServer, type TestServer } from '../helpers/server.js';
import { auditJson, devicePost, kalmFails, pairDevice, PHONE_ADDRESS } from './support.js';

// `kalm audit` as an operator runs it: a child process on the database of a running server,
// after a device flow a person approved on the pages from a phone. The server's clock starts two
// hours before the real time the CLI reads, so that `--since 1h` and expiry mean the same to both.

let server: TestServer;
let tv: string;
let other: string;
let alice: { id: string };
let flowStart: number;
let otherStart: number;

beforeAll(async () => {
  server = await startTestServer({ clockStart: Date.now() - 2 * 3_600_000 });
  tv = (await server.createClient({ name: 'Kitchen TV' })).clientId;
  other = (await server.createClient({ name: 'Other app' })).clientId;
  alice = await server.createUser('alice', 'correct horse battery');
  // Another client's flow, before, that nobody decides: none of its events may turn up under --client tv.
  otherStart = server.clock.now();
  await devicePost(server, '/device_authorization', { client_id: other, scope: 'valuate:read' });
  server.clock.advance(60_000);
  flowStart = server.clock.now();
  const device = await pairDevice(server, {
    clientId: tv,
    username: 'alice',
    password: 'correct horse battery',
    wrongPassword: 'a wrong password',
    scope: 'valuate:read billing:read',
    granted: ['billing:read'],
  });
  // Half an hour ago by the real clock: the one event `--since 1h` lists.
  server.clock.set(Date.now() - 30 * 60_000);
  const refreshed = await devicePost(server, '/token', { grant_type: GRANT_TYPES.refreshToken, refresh_token: device.refreshToken, client_id: tv });
  expect(refreshed.status).toBe(200);
});
afterAll(() => server.stop());

/** The fields a reader of the trail looks at, without ids and times. */
const summary = (e: AuditEventRecord) => ({ type: e.type, actor: e.actorType, user: e.username, client: e.clientId, ip: e.ip, scopes: e.scopes });

// Each `kalm` run is a Node process of its own (about a second here): the tests that run several get the time for it.
describe('kalm audit', { timeout: 60_000 }, () => {
  it("lists one device flow's events newest first, with user, client, scopes and address", async () => {
    const events = await auditJson(server, '--client', tv);
    expect(events.map(summary)).toEqual([
      { type: 'refresh.rotated', actor: 'client', user: 'alice', client: tv, ip: '127.0.0.1', scopes: ['billing:read'] },
      { type: 'device.redeemed', actor: 'client', user: 'alice', client: tv, ip: '127.0.0.1', scopes: ['billing:read'] },
      // The subset the person approved, from the phone's address; what the device asked for beside it.
      { type: 'device.approved', actor: 'user', user: 'alice', client: tv, ip: PHONE_ADDRESS, scopes: ['billing:read'] },
      { type: 'device.requested', actor: 'client', user: null, client: tv, ip: '127.0.0.1', scopes: ['valuate:read', 'billing:read'] },
      // Created through the server's core by the test: the server itself is the actor.
      { type: 'client.created', actor: 'system', user: null, client: tv, ip: null, scopes: expect.arrayContaining(['billing:read']) },
    ]);
    const [rotated, redeemed, approved, requested] = events as [AuditEventRecord, AuditEventRecord, AuditEventRecord, AuditEventRecord];
    expect(approved.details).toEqual({ requested: ['valuate:read', 'billing:read'] });
    expect(approved).toMatchObject({ actorId: alice.id, actorName: 'alice', userId: alice.id });
    expect(requested.actorId).toBe(tv);
    // One flow: the device code links request, decision and redemption; the grant, redemption and refresh.
    expect(approved.deviceCodeId).toBe(requested.deviceCodeId);
    expect(redeemed.deviceCodeId).toBe(requested.deviceCodeId);
    expect(redeemed.grantId).toBeTruthy();
    expect(rotated.grantId).toBe(redeemed.grantId);
    // Times from the server's clock, one second apart as the test moved it, newest first.
    expect(events.map((e) => e.at)).toEqual([...events.map((e) => e.at)].sort((a, b) => b - a));
    expect(requested.at).toBe(flowStart);
  });

  it('records sign-ins on the pages, failed and succeeded, with the phone address', async () => {
    const events = await auditJson(server, '--type', 'signin');
    expect(events.map(summary)).toEqual([
      { type: 'signin.succeeded', actor: 'user', user: 'alice', client: null, ip: PHONE_ADDRESS, scopes: null },
      { type: 'signin.failed', actor: 'user', user: 'alice', client: null, ip: PHONE_ADDRESS, scopes: null },
    ]);
  });

  it('filters by user, client, type or family, and time, all at once', async () => {
    const byUser = await auditJson(server, '--user', 'alice');
    expect(byUser.map((e) => e.type)).toEqual(['refresh.rotated', 'device.redeemed', 'device.approved', 'signin.succeeded', 'signin.failed']);
    const family = await auditJson(server, '--type', 'device');
    expect(family.map((e) => [e.type, e.clientId])).toEqual([
      // Undecided, it ran out 10 minutes after it was asked for: recorded at that time.
      ['device.expired', other],
      ['device.redeemed', tv],
      ['device.approved', tv],
      ['device.requested', tv],
      ['device.requested', other],
    ]);
    expect((await auditJson(server, '--type', 'device.approved')).map((e) => e.type)).toEqual(['device.approved']);
    const since = new Date(flowStart + 2000).toISOString();
    expect((await auditJson(server, '--since', since, '--user', 'alice', '--type', 'device')).map((e) => e.type)).toEqual(['device.redeemed', 'device.approved']);
    const others = await auditJson(server, '--client', other);
    expect(others.map((e) => [e.type, e.actorType])).toEqual([['device.expired', 'system'], ['device.requested', 'client'], ['client.created', 'system']]);
    expect(others[0]!.at).toBe(otherStart + 600_000);
    expect(others[0]!.deviceCodeId).toBe(others[1]!.deviceCodeId);
    expect(await auditJson(server, '--user', 'nobody')).toEqual([]);
    expect((await auditJson(server, '--limit', '2')).map((e) => e.type)).toEqual(['refresh.rotated', 'device.expired']);
  });

  it('reads --since as a duration back from now', async () => {
    expect((await auditJson(server, '--since', '1h')).map((e) => e.type)).toEqual(['refresh.rotated']);
    expect((await auditJson(server, '--since', '3h')).length).toBe(10);
    // Two clients created, the other client's request and expiry, and the six events of the flow.
    expect((await auditJson(server)).length).toBe(10);
  });

  it('prints a table for people', async () => {
    const { stdout } = await kalmCli(server.dataDir, 'audit', '--client', tv, '--type', 'device.approved');
    const [header, row, more] = stdout.trimEnd().split('\n');
    expect(header!.split('\t')).toEqual(['TIME', 'TYPE', 'ACTOR', 'USER', 'CLIENT', 'ADDRESS', 'SCOPES', 'DETAILS']);
    expect(row!.split('\t')).toEqual([new Date(flowStart + 3000).toISOString().replace(/\.\d{3}Z$/, 'Z'), 'device.approved', 'alice', 'alice', tv, PHONE_ADDRESS, 'billing:read', 'requested=valuate:read,billing:read']);
    expect(more).toBeUndefined();
    expect((await kalmCli(server.dataDir, 'audit', '--user', 'nobody')).stdout.trim()).toBe('no audit events');
  });

  it('refuses a wrong command line with exit code 2 and says what is wrong', async () => {
    const type = await kalmFails(server, 'audit', '--type', 'device.exploded');
    expect(type.code).toBe(2);
    expect(type.stderr).toContain('--type "device.exploded" is none of the types or families');
    const since = await kalmFails(server, 'audit', '--since', 'yesterday');
    expect(since.code).toBe(2);
    expect(since.stderr).toContain('--since takes a duration');
    expect((await kalmFails(server, 'audit', '--limit', '0')).code).toBe(2);
    // More than the trail returns in one listing: refused, not silently cut to 10,000.
    const tooMany = await kalmFails(server, 'audit', '--limit', '10001');
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toContain('--limit takes a whole number from 1 to 10000');
    expect((await kalmFails(server, 'audit', 'extra')).code).toBe(2);
    const { stdout } = await kalmCli(server.dataDir, 'audit', '--help');
    expect(stdout).toContain('kalm audit [--since 1h]');
    expect(stdout).toContain('device.approved');
  });
});
