import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEventRecord } from '../../server/src/store/port/index.js';
import { kalmCli } from '../helpers/kalm-cli.js';
import { GRANT_TYPES, startTestServer, type TestServer } from '../helpers/server.js';
import { PageClient, csrfOf } from '../http/verify-client.js';
import { auditJson, devicePost, pairDevice, PHONE_ADDRESS } from './support.js';

// Every kind of event of issue 15's list, each caused through the boundary a person, a device,
// an app or an operator really uses (pages, protocol endpoints, the CLI), read back with
// `kalm audit --json`.

let server: TestServer;
let tv: string;

const pair = (granted = ['billing:read']) =>
  pairDevice(server, { clientId: tv, username: 'bob', password: 'correct horse battery', scope: 'valuate:read billing:read', granted });

/** The newest event of `type`. */
async function newest(type: string, ...args: string[]): Promise<AuditEventRecord> {
  const [event] = await auditJson(server, '--type', type, '--limit', '1', ...args);
  expect(event, type).toBeDefined();
  return event!;
}

beforeAll(async () => {
  server = await startTestServer({ clockStart: Date.now() - 3_600_000 });
  tv = (await server.createClient({ name: 'Living room TV' })).clientId;
  await server.createUser('bob', 'correct horse battery');
});
afterAll(() => server.stop());

describe('the audit trail records', { timeout: 60_000 }, () => {
  it('a denial on the consent page, by whom and from where', async () => {
    const auth = (await devicePost(server, '/device_authorization', { client_id: tv, scope: 'valuate:read' })).json;
    const phone = new PageClient(server.url, { localAddress: PHONE_ADDRESS });
    const link = new URL(auth.verification_uri_complete!);
    await phone.get(link.pathname + link.search);
    await phone.post('/device', { csrf_token: csrfOf((await phone.get('/device')).body), action: 'confirm' });
    const page = await phone.get('/signin?return_to=%2Fdevice%2Fconsent');
    await phone.post('/signin', { csrf_token: csrfOf(page.body), username: 'bob', password: 'correct horse battery', return_to: '/device/consent' });
    const consent = await phone.get('/device/consent');
    expect((await phone.post('/device/consent', { csrf_token: csrfOf(consent.body), decision: 'deny' })).status).toBe(303);
    const denied = await newest('device.denied');
    expect(denied).toMatchObject({ actorType: 'user', actorName: 'bob', username: 'bob', clientId: tv, ip: PHONE_ADDRESS, scopes: ['valuate:read'] });
  });

  it('a device revoked by its owner on My devices, by the app (RFC 7009) and by an operator (kalm device revoke)', async () => {
    const byOwner = await pair();
    const grant = (await server.core.pairedDevices.list((await server.core.users.getByUsername('bob'))!.id))[0]!.grantId;
    const ask = await byOwner.phone.post('/devices/revoke', { csrf_token: await byOwner.phone.csrf('/devices'), grant_id: grant });
    expect((await byOwner.phone.post('/devices/revoke', { csrf_token: csrfOf(ask.body), grant_id: grant, confirm: 'yes' })).location).toBe('/devices');

    const byApp = await pair();
    expect((await devicePost(server, '/revoke', { client_id: tv, token: byApp.refreshToken })).status).toBe(200);

    await pair();
    const [device] = JSON.parse((await kalmCli(server.dataDir, 'device', 'list', '--user', 'bob', '--json')).stdout) as Array<{ grantId: string }>;
    await kalmCli(server.dataDir, 'device', 'revoke', device!.grantId);

    const revoked = await auditJson(server, '--type', 'grant.revoked');
    expect(revoked.map((e) => [e.details.by, e.actorType, e.actorName ?? e.actorId, e.username, e.clientId, e.ip])).toEqual([
      ['admin', 'cli', expect.any(String), 'bob', tv, null],
      ['app', 'client', tv, 'bob', tv, '127.0.0.1'],
      ['owner', 'user', 'bob', 'bob', tv, PHONE_ADDRESS],
    ]);
    expect(revoked[0]!.grantId).toBe(device!.grantId);
    expect(revoked[2]!.grantId).toBe(grant);
  });

  it('a refresh token used twice: the reuse, from the address it came back from, with the family revoked', async () => {
    const device = await pair();
    expect((await devicePost(server, '/token', { grant_type: GRANT_TYPES.refreshToken, refresh_token: device.refreshToken, client_id: tv })).status).toBe(200);
    const reused = await devicePost(server, '/token', { grant_type: GRANT_TYPES.refreshToken, refresh_token: device.refreshToken, client_id: tv });
    expect(reused.json.error).toBe('invalid_grant');
    const reuse = await newest('refresh.reuse_detected');
    const rotated = await newest('refresh.rotated');
    expect(reuse).toMatchObject({ actorType: 'client', actorId: tv, username: 'bob', clientId: tv, grantId: rotated.grantId, ip: '127.0.0.1', details: { familyRevoked: true } });
  });

  it("an operator's client commands: created, updated, secret rotated, deleted (with the devices it revoked)", async () => {
    const created = JSON.parse(
      (await kalmCli(server.dataDir, 'client', 'create', '--name', 'Fleet gateway', '--confidential', '--grant', 'device_code', '--grant', 'refresh_token', '--scope', 'valuate:read', '--json'))
        .stdout,
    ) as { client_id: string; client_secret: string };
    const id = created.client_id;
    await kalmCli(server.dataDir, 'client', 'update', id, '--name', 'Fleet gateway 2', '--scope', 'valuate:read billing:read');
    await kalmCli(server.dataDir, 'client', 'rotate-secret', id);
    await kalmCli(server.dataDir, 'client', 'delete', id);
    const events = await auditJson(server, '--client', id);
    expect(events.map((e) => [e.type, e.actorType, e.details.name])).toEqual([
      ['client.deleted', 'cli', 'Fleet gateway 2'],
      ['client.secret_rotated', 'cli', 'Fleet gateway 2'],
      ['client.updated', 'cli', 'Fleet gateway 2'],
      ['client.created', 'cli', 'Fleet gateway'],
    ]);
    expect(events[2]!.details.changed).toEqual(['name', 'scopes']);
    expect(events[2]!.scopes).toEqual(['valuate:read', 'billing:read']);
    expect(events[0]!.details.revokedGrants).toBe(0);
    expect(events[3]!.details).toMatchObject({ clientType: 'confidential', grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken] });
    // The CLI is named by the system account that ran it.
    expect(events[0]!.actorName).toBeTruthy();
  });

  it('an RFC 7591 registration, by the client itself, from its address, for the owner of the initial access token', async () => {
    const { initial_access_token: iat } = JSON.parse((await kalmCli(server.dataDir, 'iat', 'create', '--owner', 'bob', '--json')).stdout) as { initial_access_token: string };
    const res = await fetch(`${server.url}/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${iat}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Registered TV', grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], token_endpoint_auth_method: 'none', scope: 'valuate:read' }),
    });
    expect(res.status).toBe(201);
    const { client_id: clientId } = (await res.json()) as { client_id: string };
    const [registered, ...rest] = await auditJson(server, '--client', clientId);
    expect(rest).toEqual([]);
    expect(registered).toMatchObject({ type: 'client.registered', actorType: 'client', actorId: clientId, username: 'bob', clientId, ip: '127.0.0.1', scopes: ['valuate:read'] });
  });

  it('a key rotation, by the operator, with the new key ids (public, as in the JWKS)', async () => {
    await kalmCli(server.dataDir, 'keys', 'rotate');
    const rotated = await newest('keys.rotated');
    expect(rotated.actorType).toBe('cli');
    // The server reads keys again after its 30 s cache.
    server.clock.advance(31_000);
    const jwks = (await (await fetch(`${server.url}/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    const kids = (rotated.details.kids as string[]).map((k) => k.split(' ')[0]);
    expect(kids).toHaveLength(3);
    // The new signing keys (ES256, RS256) are published at once.
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining(kids.slice(0, 2)));
  });
});
