import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeUserCode } from '../../server/src/core/user-codes.js';
import { kalmCli } from '../helpers/kalm-cli.js';
import { GRANT_TYPES, startTestServer, type TestServer } from '../helpers/server.js';
import { PageClient, csrfOf } from '../http/verify-client.js';
import { auditRows, devicePost, pairDevice, PHONE_ADDRESS, rawRows } from './support.js';

// Every kind of event, through the pages, the protocol endpoints and the CLI, with every secret
// of the flows collected on the way: then no column of any row of audit_events may hold one of
// them, nor a SHA-256 of one, nor a stored password or secret hash (as the logs are scanned in
// test/reliability/secrets-hygiene.test.ts).

let server: TestServer;
const secrets = new Map<string, string>();

function secret(kind: string, value: string | undefined): string {
  expect(value, kind).toBeTruthy();
  secrets.set(`${kind} #${secrets.size}`, value!);
  return value!;
}

/** Session ids: every cookie value the phone was given. */
function cookiesOf(phone: PageClient) {
  for (const [name, value] of phone.cookies) secret(`cookie ${name}`, value);
}

beforeAll(async () => {
  server = await startTestServer({ clockStart: Date.now() - 3_600_000 });
});
afterAll(() => server.stop());

describe('audit trail hygiene', { timeout: 120_000 }, () => {
  it('holds no device code, user code, token, client secret, password or hash of one, in any column', async () => {
    const password = secret('password', 'a long and secret passphrase');
    const wrongPassword = secret('wrong password', 'an almost right passphrase');
    await server.createUser('carol', password);
    const { stdout } = await kalmCli(
      server.dataDir,
      'client', 'create', '--name', 'Hygiene TV', '--confidential', '--grant', 'device_code', '--grant', 'refresh_token', '--scope', 'valuate:read billing:read', '--json',
    );
    const { client_id: clientId, client_secret: firstSecret } = JSON.parse(stdout) as { client_id: string; client_secret: string };
    secret('client secret', firstSecret);
    const [{ secret_hash: firstHash }] = (await rawRows(server, `SELECT secret_hash FROM clients WHERE id = '${clientId}'`)) as [{ secret_hash: string }];
    secret('client secret hash', firstHash);
    const clientSecret = secret('client secret', JSON.parse((await kalmCli(server.dataDir, 'client', 'rotate-secret', clientId, '--json')).stdout).client_secret as string);
    const basic: [string, string] = [clientId, clientSecret];
    secret('client secret hash', ((await rawRows(server, `SELECT secret_hash FROM clients WHERE id = '${clientId}'`)) as [{ secret_hash: string }])[0].secret_hash);

    // A device flow with a wrong password first, and a password typed into the username field.
    const mistaken = new PageClient(server.url, { localAddress: PHONE_ADDRESS });
    const page = await mistaken.get('/signin');
    expect((await mistaken.post('/signin', { csrf_token: csrfOf(page.body), username: password, password: wrongPassword })).status).toBe(401);
    const device = await pairDevice(server, { clientId, clientSecret, username: 'carol', password, wrongPassword, scope: 'valuate:read billing:read', granted: ['valuate:read'] });
    secret('device code', device.deviceCode);
    secret('user code', device.userCode);
    secret('user code, normalised', normalizeUserCode(device.userCode));
    secret('access token', device.accessToken);
    cookiesOf(device.phone);
    cookiesOf(mistaken);

    // Refresh, reuse (the family ends), and a second device revoked by the app and on My devices.
    const refreshed = (await devicePost(server, '/token', { grant_type: GRANT_TYPES.refreshToken, refresh_token: secret('refresh token', device.refreshToken) }, basic)).json;
    secret('access token', refreshed.access_token);
    secret('refresh token', refreshed.refresh_token);
    expect((await devicePost(server, '/token', { grant_type: GRANT_TYPES.refreshToken, refresh_token: device.refreshToken }, basic)).json.error).toBe('invalid_grant');
    const second = await pairDevice(server, { clientId, clientSecret, username: 'carol', password, scope: 'valuate:read', granted: ['valuate:read'] });
    for (const [kind, value] of Object.entries({ 'device code': second.deviceCode, 'user code': second.userCode, 'access token': second.accessToken, 'refresh token': second.refreshToken })) secret(kind, value);
    cookiesOf(second.phone);
    const third = await pairDevice(server, { clientId, clientSecret, username: 'carol', password, scope: 'valuate:read', granted: ['valuate:read'] });
    for (const [kind, value] of Object.entries({ 'device code': third.deviceCode, 'user code': third.userCode, 'access token': third.accessToken, 'refresh token': third.refreshToken })) secret(kind, value);
    expect((await devicePost(server, '/revoke', { token: second.refreshToken }, basic)).status).toBe(200);
    const grantId = (await server.core.pairedDevices.list((await server.core.users.getByUsername('carol'))!.id))[0]!.grantId;
    const ask = await third.phone.post('/devices/revoke', { csrf_token: await third.phone.csrf('/devices'), grant_id: grantId });
    await third.phone.post('/devices/revoke', { csrf_token: csrfOf(ask.body), grant_id: grantId, confirm: 'yes' });
    cookiesOf(third.phone);

    // A code nobody decides, which expires; an RFC 7591 registration of a confidential client.
    const lapsed = (await devicePost(server, '/device_authorization', { scope: 'valuate:read' }, basic)).json;
    secret('device code', lapsed.device_code);
    secret('user code', lapsed.user_code);
    server.clock.advance(700_000);
    const iat = secret('initial access token', JSON.parse((await kalmCli(server.dataDir, 'iat', 'create', '--json')).stdout).initial_access_token as string);
    const registered = await fetch(`${server.url}/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${iat}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Registered server', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', scope: 'valuate:read' }),
    });
    expect(registered.status).toBe(201);
    secret('registered client secret', ((await registered.json()) as { client_secret: string }).client_secret);

    // The operator: keys rotated, the client deleted.
    await kalmCli(server.dataDir, 'keys', 'rotate');
    await kalmCli(server.dataDir, 'client', 'delete', clientId);
    await server.core.audit.purge();

    // Every kind of event was recorded.
    const rows = await auditRows(server);
    expect(new Set(rows.map((r) => r.type))).toEqual(
      new Set([
        'client.created', 'client.secret_rotated', 'signin.failed', 'device.requested', 'signin.succeeded', 'device.approved', 'device.redeemed',
        'refresh.rotated', 'refresh.reuse_detected', 'grant.revoked', 'device.expired', 'client.registered', 'keys.rotated', 'client.deleted',
      ]),
    );
    // The stored hashes of the passwords and secrets that are left, and SHA-256 of every secret, in every encoding.
    for (const { password_hash: hash } of (await rawRows(server, 'SELECT password_hash FROM users')) as Array<{ password_hash: string }>) secret('password hash', hash);
    for (const { secret_hash: hash } of (await rawRows(server, 'SELECT secret_hash FROM clients WHERE secret_hash IS NOT NULL')) as Array<{ secret_hash: string }>) secret('client secret hash', hash);
    for (const [kind, value] of [...secrets]) {
      const digest = createHash('sha256').update(value).digest();
      secrets.set(`SHA-256 of ${kind}, hex`, digest.toString('hex'));
      secrets.set(`SHA-256 of ${kind}, base64url`, digest.toString('base64url'));
      secrets.set(`SHA-256 of ${kind}, base64`, digest.toString('base64'));
    }
    expect(secrets.size).toBeGreaterThan(100);
    let cells = 0;
    for (const row of rows) {
      for (const [column, cell] of Object.entries(row)) {
        if (cell === null) continue;
        cells++;
        const text = Buffer.isBuffer(cell) ? cell.toString('hex') : typeof cell === 'object' ? JSON.stringify(cell) : String(cell);
        for (const [kind, value] of secrets) {
          // Matched as a whole word, so that a short user code is not found by chance inside an id.
          const pattern = new RegExp(`(?<![A-Za-z0-9_-])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_-])`, 'i');
          expect(pattern.test(text), `${kind} in audit_events.${column} of a ${String(row.type)} event`).toBe(false);
        }
      }
    }
    expect(cells).toBeGreaterThan(150);
    // The password typed as a username is not there either: only accounts are named.
    const failed = rows.filter((r) => r.type === 'signin.failed');
    expect(failed.map((r) => r.username)).toEqual([null, 'carol']);
  });
});
