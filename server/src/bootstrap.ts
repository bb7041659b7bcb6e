import { GRANT_TYPES } from './core/clients.js';
import type { Core } from './core/index.js';
import { newSecret } from './core/secrets.js';

export const DEMO_CLIENT_ID = 'tv-demo';
export const DEMO_APP_CLIENT_ID = 'cli-demo';
export const DEMO_USERNAME = 'demo';

/**
 * On a fresh database: a public `tv-demo` client (device code + refresh token, every
 * catalogue scope), a public `cli-demo` client for authorization code + PKCE with the
 * loopback redirect `http://127.0.0.1/callback` (any port, RFC 8252 §7.3), and a `demo`
 * user with a random password, which is returned once so the caller can print it. Each
 * is created only when missing.
 */
export async function bootstrapDemo(core: Core): Promise<{ password: string } | undefined> {
  const scopes = core.catalog.scopes.map((s) => s.name);
  if (!(await core.clients.get(DEMO_CLIENT_ID))) {
    await core.clients.create({ id: DEMO_CLIENT_ID, name: 'Kalm TV demo', type: 'public', grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken], scopes });
  }
  if (!(await core.clients.get(DEMO_APP_CLIENT_ID))) {
    await core.clients.create({
      id: DEMO_APP_CLIENT_ID,
      name: 'Kalm CLI demo',
      type: 'public',
      grantTypes: [GRANT_TYPES.authorizationCode, GRANT_TYPES.refreshToken],
      redirectUris: ['http://127.0.0.1/callback'],
      scopes,
    });
  }
  if (await core.store.users.getByUsername(DEMO_USERNAME)) return undefined;
  const password = newSecret(core.random, 12);
  await core.users.create({ username: DEMO_USERNAME, password, role: 'developer' });
  return { password };
}
