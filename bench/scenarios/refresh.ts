import { alternate, SETTINGS } from '../lib/alternate.js';
import { ENGINE } from '../lib/engine.js';
import { withServers, type Scenario } from '../lib/scenario.js';

const CONNECTIONS = 50;
/** Refresh tokens made per server before the runs; each run loses at most CONNECTIONS (in flight at its end). */
const POOL = 600;

/**
 * Scenario 4: RFC 6749 §6 refresh with rotation. Every request spends a fresh refresh
 * token; the token in its answer goes back into the pool for a later request, so a run
 * needs only as many tokens as it has connections. Pools are made before the runs:
 * ours by whole device flows through the core on the server's own database, oidc-provider
 * through its Grant and RefreshToken models.
 */
export const refresh: Scenario = {
  name: 'refresh',
  title: 'POST /token refresh_token grant with rotation',
  run: () =>
    withServers(['ours', 'oidc-provider'], async (servers) => {
      const pools = new Map<string, string[]>();
      for (const server of servers) {
        const t0 = Date.now();
        pools.set(server.name, await server.call<string[]>('refreshPool', POOL));
        console.error(`  ${server.name}: ${POOL} refresh tokens in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      }
      const variant = await alternate(
        'rotation',
        `closed loop, ${CONNECTIONS} connections, ${SETTINGS.seconds} s per run; each answer's refresh_token feeds a later request`,
        servers.map((server) => ({
          server,
          job: (phase) => ({
            url: server.url,
            path: server.tokenPath,
            mode: 'closed',
            connections: CONNECTIONS,
            durationSec: phase === 'warmup' ? SETTINGS.warmupSeconds : SETTINGS.seconds,
            form: { grant_type: 'refresh_token', client_id: 'bench' },
            chain: { param: 'refresh_token', responseField: 'refresh_token', pool: pools.get(server.name)! },
          }),
          after: (result) => pools.set(server.name, result.leftover ?? []),
        })),
      );
      return {
        scenario: 'refresh',
        title: refresh.title,
        variants: [variant],
        notes: [
          `oidc-provider issues opaque access tokens kept in memory (its default); ours signs an ES256 JWT (RFC 9068) and writes the rotation to ${ENGINE.store === 'sqlite' ? 'SQLite' : 'PostgreSQL'}.`,
        ],
      };
    }),
};
