// `kalm user show|disable|enable|delete|set-password|set-role` on the database of a running
// server: each change is checked where a person or a device meets it, on the server's pages and
// token endpoint, not in the database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, refresh } from '../http/flow.js';
import { PageClient } from '../http/verify-client.js';
import { GRANT_TYPES, startTestServer, type TestServer } from '../helpers/server.js';
import { pairDevice } from './pairing.js';
import { CLI_TIMEOUT, runKalm, runKalmJson } from './run.js';

let server: TestServer;
const kalm = (args: string[], stdin = '') => runKalm(server.dataDir, args, stdin);
const kalmJson = <T>(args: string[], stdin = '') => runKalmJson<T>(server.dataDir, args, stdin);

const PASSWORD = 'correct horse battery';
let tv: string;

beforeAll(async () => {
  server = await startTestServer({ clockStart: Date.now() });
  ({ clientId: tv } = await server.createClient());
});
afterAll(() => server?.stop());

// Each browser its own address (127.0.0.N), so one test's failed sign-ins never slow another's.
let nextAddress = 20;
const browser = () => new PageClient(server.url, { localAddress: `127.0.0.${nextAddress++}` });

async function signIn(client: PageClient, username: string, password = PASSWORD): Promise<number> {
  const res = await client.post('/signin', { csrf_token: await client.csrf('/signin'), username, password, return_to: '/devices' });
  return res.status;
}

/** 200 when the browser's session is signed in, else where it is sent (the sign-in page). */
async function devicesPage(client: PageClient): Promise<number | string> {
  const res = await client.get('/devices');
  return res.status === 200 ? 200 : (res.location ?? res.status);
}

interface UserJson {
  id: string;
  username: string;
  role: string;
  disabledAt: number | null;
  createdAt: number;
  pairedDevices?: number;
}

describe('kalm user', { timeout: CLI_TIMEOUT }, () => {
  it('shows an account by username or id: role, status, paired devices, never the password hash', async () => {
    const carol = await server.createUser('carol');
    await pairDevice(server, tv, carol.id);
    const [byName, byId, text] = await Promise.all([kalmJson<UserJson>(['user', 'show', 'carol']), kalmJson<UserJson>(['user', 'show', carol.id]), kalm(['user', 'show', 'carol'])]);
    expect(byName).toEqual({ id: carol.id, username: 'carol', role: 'user', disabledAt: null, createdAt: expect.any(Number), pairedDevices: 1 });
    expect(byId).toEqual(byName);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^username\s+carol$/m);
    expect(text.stdout).toMatch(/^status\s+enabled$/m);
    expect(text.stdout).toMatch(/^paired devices\s+1 /m);
    expect(text.stdout + JSON.stringify(byName)).not.toContain('scrypt');
  });

  it('disables an account: no sign-in, its session ends, its devices get no new tokens; enable gives all back', async () => {
    const dave = await server.createUser('dave');
    const device = await pairDevice(server, tv, dave.id);
    const signedIn = browser();
    expect(await signIn(signedIn, 'dave')).toBe(303);
    expect(await devicesPage(signedIn)).toBe(200);

    const disabled = await kalmJson<UserJson>(['user', 'disable', 'dave']);
    expect(disabled.disabledAt).toEqual(expect.any(Number));
    expect(await devicesPage(signedIn)).toBe('/signin?return_to=%2Fdevices');
    expect(await signIn(browser(), 'dave')).toBe(401);
    const refused = await errorOf(await refresh(server, { clientId: tv }, device.refresh_token));
    expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: 'the account this device is paired to is disabled' } });
    // Still paired: disabling revokes nothing.
    expect((await server.core.pairedDevices.list(dave.id)).map((d) => d.grantId)).toEqual([device.grantId]);

    const again = await kalm(['user', 'disable', 'dave']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already disabled');
    const shown = await kalm(['user', 'show', 'dave']);
    expect(shown.stdout).toMatch(/^status\s+disabled since \d{4}-\d\d-\d\dT/m);

    expect((await kalmJson<UserJson>(['user', 'enable', 'dave'])).disabledAt).toBeNull();
    expect(await signIn(browser(), 'dave')).toBe(303);
    // The refresh token refused while disabled was not spent.
    expect((await refresh(server, { clientId: tv }, device.refresh_token)).status).toBe(200);
  });

  it('sets a password read on stdin: the old one stops, the new one signs in, sessions end, nothing echoed', async () => {
    await server.createUser('erin');
    const signedIn = browser();
    expect(await signIn(signedIn, 'erin')).toBe(303);
    const newPassword = 'a new password from stdin';
    const r = await kalm(['user', 'set-password', 'erin', '--password-stdin'], `${newPassword}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('password of erin changed; its sessions were ended\n');
    expect(r.stdout + r.stderr).not.toContain(newPassword);
    expect(await devicesPage(signedIn)).toBe('/signin?return_to=%2Fdevices');
    expect(await signIn(browser(), 'erin')).toBe(401);
    expect(await signIn(browser(), 'erin', newPassword)).toBe(303);

    const [withoutStdin, tooShort] = await Promise.all([kalm(['user', 'set-password', 'erin']), kalm(['user', 'set-password', 'erin', '--password-stdin'], 'short\n')]);
    expect(withoutStdin.code).toBe(2);
    expect(withoutStdin.stderr).toContain('--password-stdin is required');
    expect(tooShort.code).toBe(1);
    expect(tooShort.stderr).toBe('kalm: password: 8 to 1024 characters\n');
  });

  it('sets a role, which the pages apply at once', async () => {
    await server.createUser('frank');
    const signedIn = browser();
    expect(await signIn(signedIn, 'frank')).toBe(303);
    expect((await signedIn.get('/apps')).status).toBe(403);
    const r = await kalm(['user', 'set-role', 'frank', 'developer']);
    expect(r).toMatchObject({ code: 0, stdout: 'user frank is now developer (was user)\n' });
    expect((await signedIn.get('/apps')).status).toBe(200);
    expect((await kalmJson<UserJson>(['user', 'set-role', 'frank', 'admin'])).role).toBe('admin');
    const wrong = await kalm(['user', 'set-role', 'frank', 'root']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('the role is user, developer, admin');
  });

  it('deletes an account: its devices are revoked, its sessions end, clients it registered stay without an owner', async () => {
    const gina = await server.createUser('gina');
    const device = await pairDevice(server, tv, gina.id);
    const { client: owned } = await server.core.clients.create({ name: "Gina's app", type: 'public', grantTypes: [GRANT_TYPES.deviceCode], scopes: ['valuate:read'], ownerUserId: gina.id });
    const signedIn = browser();
    expect(await signIn(signedIn, 'gina')).toBe(303);

    const deleted = await kalmJson<Record<string, unknown>>(['user', 'delete', 'gina']);
    expect(deleted).toEqual({ id: gina.id, username: 'gina', deleted: true, revoked_devices: 1 });
    expect(await errorOf(await refresh(server, { clientId: tv }, device.refresh_token))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await devicesPage(signedIn)).toBe('/signin?return_to=%2Fdevices');
    expect(await signIn(browser(), 'gina')).toBe(401);
    expect((await server.core.clients.get(owned.id))?.ownerUserId).toBeNull();
    const shown = await kalm(['user', 'show', 'gina']);
    expect(shown).toMatchObject({ code: 2, stdout: '', stderr: 'kalm: no user "gina" (kalm user list shows them)\n' });
  });

  it('lists accounts with their status', async () => {
    await server.createUser('hank');
    await server.createUser('ivy');
    await kalm(['user', 'disable', 'hank']);
    const [list, text] = await Promise.all([kalmJson<UserJson[]>(['user', 'list']), kalm(['user', 'list'])]);
    expect(list.find((u) => u.username === 'hank')).toMatchObject({ role: 'user', disabledAt: expect.any(Number) });
    expect(text.stdout).toMatch(/\thank\tuser\tdisabled$/m);
    expect(text.stdout).toMatch(/\tivy\tuser\tenabled$/m);
    expect(JSON.stringify(list) + text.stdout).not.toContain('scrypt');
  });

  it('answers an unknown account with exit code 2 on every command that names one', async () => {
    const commands = [
      ['user', 'show', 'nobody'],
      ['user', 'disable', 'nobody'],
      ['user', 'enable', 'nobody'],
      ['user', 'delete', 'nobody'],
      ['user', 'set-role', 'nobody', 'admin'],
    ];
    const results = await Promise.all([...commands.map((args) => kalm(args)), kalm(['user', 'set-password', 'nobody', '--password-stdin'], `${PASSWORD}\n`)]);
    for (const r of results) expect(r).toMatchObject({ code: 2, stdout: '', stderr: 'kalm: no user "nobody" (kalm user list shows them)\n' });
  });
});
