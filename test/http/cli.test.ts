import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { runKalm } from '../cli/run.js';
import { ensureDatabaseFor } from '../helpers/engine.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { authorize, obtainTokens, type ClientAuth } from './flow.js';

let dataDir: string;

/** `kalm args…` as a child process against `dataDir` (its file, or its database in the postgres project), with optional stdin. */
const kalm = (args: string[], stdin = '') => runKalm(dataDir, args, stdin);

async function kalmJson<T>(args: string[]): Promise<T> {
  const r = await kalm(args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-cli-'));
  await ensureDatabaseFor(dataDir);
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('the kalm CLI', () => {
  let server: TestServer | undefined;
  afterAll(() => server?.stop());

  it('creates a public client and prints only its id as JSON', async () => {
    const out = await kalmJson<Record<string, string>>([
      'client', 'create', '--name', 'Living-room TV', '--public',
      '--grant', 'device_code', '--grant', 'refresh_token', '--scope', 'valuate:read billing:read', '--json',
    ]);
    expect(Object.keys(out)).toEqual(['client_id']);
  });

  it('creates a confidential client whose secret, printed once, works against a server on the same database', async () => {
    const created = await kalmJson<{ client_id: string; client_secret: string }>([
      'client', 'create', '--name', 'Set-top box', '--confidential', '--grant', 'device_code,refresh_token',
      '--scope', 'valuate:read', '--interval', '2', '--expires-in', '120', '--json',
    ]);
    expect(created.client_secret.length).toBeGreaterThanOrEqual(43);

    const [listed, plain] = await Promise.all([kalmJson<Array<Record<string, unknown>>>(['client', 'list', '--json']), kalm(['client', 'list'])]);
    const entry = listed.find((c) => c.id === created.client_id);
    expect(entry).toMatchObject({ name: 'Set-top box', type: 'confidential', scopes: ['valuate:read'], devicePollInterval: 2 });
    expect(JSON.stringify(listed)).not.toContain(created.client_secret);
    expect(JSON.stringify(listed)).not.toContain('scrypt');
    expect(plain.stdout).toContain('Set-top box');

    server = await startTestServer({ dataDir });
    const auth: ClientAuth = { clientId: created.client_id, clientSecret: created.client_secret, method: 'basic' };
    const flow = await authorize(server, auth);
    expect(flow).toMatchObject({ interval: 2, expires_in: 120 });
  });

  it('creates a user from a password read on stdin, never echoing it', async () => {
    const password = 'a long password from stdin';
    const r = await kalm(['user', 'create', '--username', 'alice', '--password-stdin'], `${password}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(password);
    expect(await server!.core.users.verifyCredentials('alice', password)).toMatchObject({ username: 'alice' });
    expect(await server!.core.users.verifyCredentials('alice', `${password}\n`)).toBeUndefined();
    const again = await kalm(['user', 'create', '--username', 'alice', '--password-stdin'], `${password}\n`);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
  });

  it('rotates keys under a running server, which keeps the old key published for tokens it signed', async () => {
    const device = await server!.createClient();
    const before = await obtainTokens(server!, device);
    const oldKid = decodeProtectedHeader(before.access_token).kid!;
    const r = await kalm(['keys', 'rotate']);
    expect(r.code, r.stderr).toBe(0);
    // The server re-reads its keys at least every 30 s.
    server!.clock.advance(31_000);
    const after = await obtainTokens(server!, device);
    const newKid = decodeProtectedHeader(after.access_token).kid!;
    expect(newKid).not.toBe(oldKid);
    const kids = ((await (await fetch(`${server!.url}/jwks.json`)).json()) as { keys: JWK[] }).keys.map((k) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));
    const keySet = createRemoteJWKSet(new URL(`${server!.url}/jwks.json`));
    for (const token of [before.access_token, after.access_token]) {
      await jwtVerify(token, keySet, { currentDate: new Date(server!.clock.now()) });
    }
  });

  it('refuses an unknown scope with exit code 1 and a message', async () => {
    const r = await kalm(['client', 'create', '--name', 'x', '--public', '--grant', 'device_code', '--scope', 'launch:missiles']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('launch:missiles');
  });
});
