import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { obtainTokens, refresh, type ClientAuth, type Tokens } from './flow.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
  rmSync(server.dataDir, { recursive: true, force: true }); // the restarted server does not own it
});

/** Every byte the server keeps in its data dir (database, WAL, anything else). */
function dataDirBytes(): Buffer {
  return Buffer.concat(readdirSync(server.dataDir).map((f) => readFileSync(path.join(server.dataDir, f))));
}

describe('secrets at rest', () => {
  it('keeps no device code, refresh token, client secret or password in the clear in the data dir', async () => {
    const c = await server.createClient({ type: 'confidential' });
    const device: ClientAuth = { clientId: c.clientId, clientSecret: c.clientSecret!, method: 'basic' };
    const res = await server.post('/device_authorization', {}, { basic: [c.clientId, c.clientSecret!] });
    const { device_code: pendingDeviceCode } = (await res.json()) as { device_code: string };
    const tokens = await obtainTokens(server, device);
    const next = (await (await refresh(server, device, tokens.refresh_token!)).json()) as Tokens;
    const password = 'a password that must stay hashed';
    await server.createUser('atrest', password);

    const bytes = dataDirBytes();
    expect(bytes.length).toBeGreaterThan(0);
    expect(bytes.includes(c.clientId)).toBe(true); // the search does find what is stored in the clear
    for (const [name, secret] of Object.entries({
      pendingDeviceCode,
      refreshToken: tokens.refresh_token!,
      rotatedRefreshToken: next.refresh_token!,
      clientSecret: c.clientSecret!,
      password,
    })) {
      expect(bytes.includes(secret), `${name} is stored in the clear`).toBe(false);
    }
  });

  it('runs SQLite in WAL mode: the write-ahead log sits beside the database', () => {
    expect(readdirSync(server.dataDir)).toEqual(expect.arrayContaining(['kalm.sqlite', 'kalm.sqlite-wal']));
  });

  it('keeps clients, grants and the signing keys across a restart on the same data dir', async () => {
    const c = await server.createClient();
    const tokens = await obtainTokens(server, c);
    const dataDir = server.dataDir;
    const issuer = server.core.config.publicUrl;
    await server.close(); // the data dir stays; afterAll stops the restarted server instead
    // A new port: the global fetch would otherwise reuse a keep-alive socket of the old server.
    server = await startTestServer({ dataDir });
    const keySet = createRemoteJWKSet(new URL(`${server.url}/jwks.json`));
    // The fake clock starts again at the same instant, so the token is still within its lifetime.
    await jwtVerify(tokens.access_token, keySet, { issuer, currentDate: new Date(server.clock.now()) });
    const res = await refresh(server, c, tokens.refresh_token!);
    expect(res.status).toBe(200);
  });
});
