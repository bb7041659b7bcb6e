import { randomBytes } from 'node:crypto';
import { alternate, SETTINGS, type Contender } from '../lib/alternate.js';
import { runLoad } from '../lib/load.js';
import type { ServerProcess } from '../lib/processes.js';
import { benchForm, withServers, type Scenario, type ServerName } from '../lib/scenario.js';

/** Waiting devices, each with its own pending device code. */
const CODES = Number(process.env.BENCH_PENDING_CODES ?? 10_000);
/** RFC 8628 §3.2 default interval, and ours as shipped. */
const INTERVAL_SEC = 5;
const CONNECTIONS = 50;
const PACED_SOCKETS = 100;
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/**
 * BENCH_METRICS=compare: ours with the metrics on (`ours+metrics`) takes oidc-provider's place,
 * measured in the same alternating rounds as ours, so the ratio ours/ours+metrics is their cost.
 */
const SERVERS: ServerName[] = process.env.BENCH_METRICS === 'compare' ? ['ours', 'ours+metrics', 'node:http'] : ['ours', 'oidc-provider', 'node:http'];

/** Create `CODES` pending device codes through the server's own device authorization endpoint. */
async function createCodes(server: ServerProcess): Promise<string[]> {
  if (server.name === 'node:http') return Array.from({ length: CODES }, () => randomBytes(32).toString('base64url'));
  const result = await runLoad({
    url: server.url,
    path: server.deviceAuthorizationPath,
    mode: 'closed',
    connections: 20,
    amount: CODES,
    form: benchForm(server),
    collect: 'device_code',
  });
  const codes = result.collected ?? [];
  if (codes.length < CODES) throw new Error(`${server.name}: only ${codes.length} of ${CODES} device codes created: ${JSON.stringify(result.shapes)}`);
  return codes;
}

/**
 * Scenario 2: `/token` with the device_code grant over many distinct pending codes.
 *
 * (a) realistic: every code polled once per interval in aggregate, i.e. CODES / 5 s offered
 *     evenly (open loop). Each run polls every code exactly once, continuing where the last
 *     run of that server stopped, so no code is polled sooner than its interval and ours
 *     must answer authorization_pending, never slow_down (the answers are counted).
 * (b) saturating: closed loop at 50 connections, cycling through the same codes; ours now
 *     answers slow_down (RFC 8628 §3.5) to most polls, oidc-provider has no slow_down.
 */
export const pendingPoll: Scenario = {
  name: 'pending-poll',
  title: `POST /token device_code grant, ${CODES} pending codes`,
  run: () =>
    withServers(SERVERS, async (servers) => {
      const codes = new Map<string, string[]>();
      for (const server of servers) {
        const t0 = Date.now();
        codes.set(server.name, await createCodes(server));
        console.error(`  ${server.name}: ${CODES} pending codes in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      }
      const cursors = new Map(servers.map((s) => [s.name, 0]));
      const contenders = (mode: 'paced' | 'closed'): Contender[] =>
        servers.map((server) => ({
          server,
          job: (phase) => {
            const seconds = phase === 'warmup' ? SETTINGS.warmupSeconds : SETTINGS.seconds;
            const form = { grant_type: DEVICE_CODE_GRANT, client_id: 'bench' };
            const cycle = { param: 'device_code', values: codes.get(server.name)!, start: cursors.get(server.name)! };
            if (mode === 'closed') {
              return { url: server.url, path: server.tokenPath, mode, connections: CONNECTIONS, durationSec: seconds, form, cycle };
            }
            const rate = CODES / INTERVAL_SEC;
            // A measured run polls every code exactly once; a warm-up polls fewer.
            const amount = phase === 'warmup' ? Math.min(CODES, Math.round(rate * seconds)) : CODES;
            return { url: server.url, path: server.tokenPath, mode, connections: PACED_SOCKETS, rate, amount, form, cycle };
          },
          after: (result) => cursors.set(server.name, result.nextCycleStart ?? 0),
        }));
      const realistic = await alternate(
        'interval-paced',
        `open loop, ${CODES / INTERVAL_SEC} req/s offered evenly (${CODES} codes / ${INTERVAL_SEC} s interval), up to ${PACED_SOCKETS} keep-alive sockets; each run polls every code once`,
        contenders('paced'),
      );
      const saturating = await alternate(
        'saturating',
        `closed loop, ${CONNECTIONS} connections, ${SETTINGS.seconds} s per run, cycling through the codes`,
        contenders('closed'),
      );
      const slowDowns = realistic.shapes.ours?.['400 slow_down'] ?? 0;
      return {
        scenario: 'pending-poll',
        title: pendingPoll.title,
        variants: [realistic, saturating],
        notes: [
          slowDowns === 0
            ? 'interval-paced: ours answered no slow_down (every code was polled no sooner than its interval).'
            : `interval-paced: ours answered slow_down ${slowDowns} times: the pacing let some code be polled early.`,
        ],
      };
    }),
};
