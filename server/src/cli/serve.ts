/** `kalm serve` (the server in the foreground, with the demo data on a fresh database) and `kalm migrate`. */
import { networkInterfaces } from 'node:os';
import { bootstrapDemo, DEMO_APP_CLIENT_ID, DEMO_CLIENT_ID, DEMO_USERNAME } from '../bootstrap.js';
import type { Config } from '../config.js';
import { migrateStore } from '../store/open.js';
import { UsageError, type CliCommand } from './kit.js';

const serve: CliCommand = {
  usage: 'kalm serve',
  summary: 'start the server (PORT, HOST, PUBLIC_URL, DATABASE_URL or DATA_DIR, MQTT_URL, LOG_LEVEL)',
  help: `Start the authorization server in the foreground, configured from the environment (see the
README's Configuration). With DEMO (the default) a fresh database gets the demo clients and a demo
user, whose password is printed once. SIGINT and SIGTERM stop it cleanly (exit 0).`,
  async run(args, config) {
    if (args.length > 0) throw new UsageError(`kalm serve takes no arguments, got "${args.join(' ')}"`);
    // Loaded only here: the administration commands need no HTTP stack and start faster without it.
    const { startServer } = await import('../server.js');
    const server = await startServer(config);
    // Handlers first: whoever reads the banner below may signal at once (a supervisor, a test).
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      await server.close();
      process.exit(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    const demo = config.demo ? await bootstrapDemo(server.core) : undefined;
    // The server's config: with PORT=0 it names the port actually bound.
    const base = server.core.config.publicUrl;
    console.log(`Kalm authorization server on ${server.url} (issuer ${base})`);
    console.log(`  metadata      ${base}/.well-known/oauth-authorization-server`);
    console.log(`  verification  ${base}/device`);
    console.log(`  my devices    ${base}/devices`);
    console.log(`  TV demo       ${base}/tv`);
    // Never on the public port; with METRICS_PORT=0 this names the port actually bound.
    if (server.metrics) console.log(`  metrics       ${server.metrics.url}`);
    const lanHint = phoneHint({ ...server.core.config, port: server.port });
    if (lanHint) console.log(lanHint);
    if (demo) {
      console.log(`Demo clients "${DEMO_CLIENT_ID}" (device flow) and "${DEMO_APP_CLIENT_ID}" (authorization code + PKCE, redirect http://127.0.0.1/callback on any port)`);
      console.log(`and user "${DEMO_USERNAME}" created. The password is shown only this once:`);
      console.log(`  username ${DEMO_USERNAME}   password ${demo.password}`);
      console.log(`  try: curl -s -d client_id=${DEMO_CLIENT_ID} ${base}/device_authorization`);
    }
  },
};

/**
 * Listening on every interface while PUBLIC_URL still names this machine's loopback: a phone would
 * be shown URLs and QR codes it cannot open. Suggest the LAN addresses instead.
 */
function phoneHint(config: Config): string | undefined {
  const loopbackUrl = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(new URL(config.publicUrl).hostname);
  const allInterfaces = config.host === '0.0.0.0' || config.host === '::';
  if (!loopbackUrl || !allInterfaces) return undefined;
  const lan = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && a.family === 'IPv4' && !a.internal)
    .map((a) => `PUBLIC_URL=http://${a!.address}:${config.port}`);
  return `  note: PUBLIC_URL is ${config.publicUrl}, which a phone cannot open; restart with ${lan.join(' or ') || 'PUBLIC_URL=http://<lan-ip>:' + config.port}`;
}

const migrate: CliCommand = {
  usage: 'kalm migrate',
  summary: 'apply the database migrations and exit (kalm serve applies them too)',
  help: `Apply the database migrations and exit; kalm serve applies them too. Several instances starting
at once migrate once: PostgreSQL under an advisory lock, SQLite in one transaction per step.`,
  async run(args, config) {
    if (args.length > 0) throw new UsageError(`kalm migrate takes no arguments, got "${args.join(' ')}"`);
    const { engine, from, to } = await migrateStore(config);
    console.log(from === to ? `${engine} database is up to date (version ${to})` : `${engine} database migrated from version ${from} to ${to}`);
  },
};

export const serverCommands: Record<string, CliCommand> = { serve, migrate };
