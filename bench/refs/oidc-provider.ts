/**
 * The reference authorization server: node-oidc-provider (panva) with the RFC 8628 device
 * flow enabled and one public client, keeping everything in memory. Started by
 * bench/run.ts in its own process.
 *
 * One departure from its defaults: the built-in memory adapter holds about 1,000 entries
 * (an LRU of two generations of 1,000); a pending device code takes two (the code and its
 * user-code index), so 10,000 waiting devices would mostly be evicted and answered
 * invalid_grant. The same adapter class is given a larger LRU instead.
 */
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import { memoryMiB, serveParent } from '../lib/child.js';
import { freePort } from '../lib/net.js';

const CLIENT_ID = 'bench';
const SCOPE = 'offline_access valuate:read';

const store = new LRU({ maxSize: 200_000 });
class LargeMemoryAdapter extends MemoryAdapter {
  constructor(model: string) {
    super(model, store);
  }
}

const port = await freePort();
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  adapter: LargeMemoryAdapter,
  clients: [
    {
      client_id: CLIENT_ID,
      token_endpoint_auth_method: 'none',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
    },
  ],
  scopes: ['openid', 'offline_access', 'valuate:read'],
  features: { deviceFlow: { enabled: true }, devInteractions: { enabled: false } },
  cookies: { keys: ['bench-cookie-key-not-secret'] },
  // Its own default lifetimes, stated so it does not print a notice for each; no request does other work for it.
  ttl: { AccessToken: 3600, DeviceCode: 600, Grant: 14 * 86400, RefreshToken: 14 * 86400, IdToken: 3600, Interaction: 3600, Session: 14 * 86400 },
  findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id }) }),
});
provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));

const server = createServer({ keepAliveTimeout: 5_000 }, provider.callback());
await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

/** Refresh tokens of `n` fresh grants, written straight through the provider's models. */
async function refreshPool(n: unknown): Promise<string[]> {
  const client = await provider.Client.find(CLIENT_ID);
  const tokens: string[] = [];
  for (let i = 0; i < Number(n); i++) {
    const accountId = `user-${i}`;
    const grant = new provider.Grant({ accountId, clientId: CLIENT_ID });
    grant.addOIDCScope(SCOPE);
    const grantId = await grant.save();
    const token = new provider.RefreshToken({ accountId, client, grantId, scope: SCOPE, gty: 'urn:ietf:params:oauth:grant-type:device_code' });
    tokens.push(await token.save());
  }
  return tokens;
}

const require = createRequire(import.meta.url);
const version = (JSON.parse(readFileSync(require.resolve('oidc-provider/package.json'), 'utf8')) as { version: string }).version;

serveParent(
  { url: issuer, deviceAuthorizationPath: '/device/auth', tokenPath: '/token', version },
  { refreshPool, memory: async () => memoryMiB() },
  async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  },
);
