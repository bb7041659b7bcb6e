import { GRANT_TYPES } from './core/clients.js';
import type { Core } from './core/index.js';
import { newSecret } from './core/secrets.js';

export const DEMO_CLIENT_ID = 'tv-demo';
export const DEMO_USERNAME = 'demo';

/**
 * On a fresh database: a public `tv-demo` client (device code + refresh token, every
 * catalogue scope) and a `demo` user with a random password, which is returned
 * once so the caller can print it. Does nothing when the demo client exists.
 */
export async function bootstrapDemo(core: Core): Promise<{ password: string } | undefined> {
  if (await core.clients.get(DEMO_CLIENT_ID)) return undefined;
  await core.clients.create({
    id: DEMO_CLIENT_ID,
    name: 'Kalm TV demo',
    type: 'public',
    grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken],
    scopes: core.catalog.scopes.map((s) => s.name),
  });
  if (await core.store.users.getByUsername(DEMO_USERNAME)) return undefined;
  const password = newSecret(core.random, 12);
  await core.users.create({ username: DEMO_USERNAME, password, role: 'developer' });
  return { password };
}
