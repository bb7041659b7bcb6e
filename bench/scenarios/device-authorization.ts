import { alternate, SETTINGS } from '../lib/alternate.js';
import { benchForm, withServers, type Scenario } from '../lib/scenario.js';

const CONNECTIONS = 50;

/**
 * Scenario 1: RFC 8628 §3.1 device authorization requests, closed loop at 50 connections.
 * Ours writes each new device code to SQLite (WAL, group-committed fsync) before answering;
 * oidc-provider keeps it in memory; node:http only reads the form.
 */
export const deviceAuthorization: Scenario = {
  name: 'device-authorization',
  title: 'POST device authorization (new device code each request)',
  run: () =>
    withServers(['ours', 'oidc-provider', 'node:http'], async (servers) => {
      const variant = await alternate(
        'device_authorization',
        `closed loop, ${CONNECTIONS} connections, ${SETTINGS.seconds} s per run`,
        servers.map((server) => ({
          server,
          job: (phase) => ({
            url: server.url,
            path: server.deviceAuthorizationPath,
            mode: 'closed',
            connections: CONNECTIONS,
            durationSec: phase === 'warmup' ? SETTINGS.warmupSeconds : SETTINGS.seconds,
            form: benchForm(server),
          }),
        })),
      );
      return { scenario: 'device-authorization', title: deviceAuthorization.title, variants: [variant], notes: [] };
    }),
};

