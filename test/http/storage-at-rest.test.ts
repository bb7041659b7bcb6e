import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { obtainTokens, refresh, type ClientAuth, type Tokens } from './flow.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

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
});
