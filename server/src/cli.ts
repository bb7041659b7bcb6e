import { networkInterfaces } from 'node:os';
import { parseArgs } from 'node:util';
import { bootstrapDemo, DEMO_APP_CLIENT_ID, DEMO_CLIENT_ID, DEMO_USERNAME } from './bootstrap.js';
import { configFromEnv, type Config } from './config.js';
import { GRANT_ALIASES } from './core/clients.js';
import { OAuthError } from './core/errors.js';
import { createCore, type Core } from './core/index.js';
import { parseScope } from './core/scopes.js';
import { migrateStore, openStore } from './store/open.js';
import type { SigningAlg } from './store/port/index.js';

const USAGE = `kalm — the Kalm authorization server

Usage:
  kalm serve                                   start the server (PORT, HOST, PUBLIC_URL, DATABASE_URL or DATA_DIR, MQTT_URL, LOG_LEVEL)
  kalm client create --name NAME (--public | --confidential) --grant GRANT... --scope "SCOPES"
                     [--redirect-uri URI...] [--id ID] [--alg ES256|RS256]
                     [--expires-in SECONDS] [--interval SECONDS] [--require-dpop] [--json]
  kalm client list [--json]
  kalm user create --username NAME --password-stdin [--role user|developer|admin]
  kalm user list [--json]
  kalm keys rotate
  kalm migrate                                 apply the database migrations and exit (kalm serve applies them too)
  kalm iat create [--owner USERNAME] [--expires-in SECONDS] [--uses N] [--json]
                                               an RFC 7591 initial access token for POST /register

Grants: device_code, refresh_token, authorization_code, client_credentials.
DATABASE_URL (postgres://...) decides which database is changed; unset, the SQLite one in DATA_DIR (default ./data).`;

type Command = (args: string[], config: Config) => Promise<void>;

/** Thrown for a wrong command line: printed with the usage, exit code 2. */
class UsageError extends Error {}

async function withCore<T>(config: Config, fn: (core: Core) => Promise<T>): Promise<T> {
  const store = await openStore(config);
  try {
    return await fn(await createCore({ config, store }));
  } finally {
    await store.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

const serve: Command = async (_args, config) => {
  // Loaded only here: the administration commands need no HTTP stack and start faster without it.
  const { startServer } = await import('./server.js');
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
  const lanHint = phoneHint({ ...server.core.config, port: server.port });
  if (lanHint) console.log(lanHint);
  if (demo) {
    console.log(`Demo clients "${DEMO_CLIENT_ID}" (device flow) and "${DEMO_APP_CLIENT_ID}" (authorization code + PKCE, redirect http://127.0.0.1/callback on any port)`);
    console.log(`and user "${DEMO_USERNAME}" created. The password is shown only this once:`);
    console.log(`  username ${DEMO_USERNAME}   password ${demo.password}`);
    console.log(`  try: curl -s -d client_id=${DEMO_CLIENT_ID} ${base}/device_authorization`);
  }
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

const clientCreate: Command = async (args, config) => {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      public: { type: 'boolean' },
      confidential: { type: 'boolean' },
      grant: { type: 'string', multiple: true },
      scope: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      id: { type: 'string' },
      alg: { type: 'string' },
      'expires-in': { type: 'string' },
      interval: { type: 'string' },
      'require-dpop': { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  if (!values.name) throw new UsageError('--name is required');
  if (values.scope === undefined) throw new UsageError('--scope is required');
  if (values.public === values.confidential) throw new UsageError('give exactly one of --public and --confidential');
  if (!values.grant?.length) throw new UsageError('give at least one --grant');
  const grantTypes = values.grant.flatMap((g) => g.split(/[\s,]+/)).filter(Boolean).map((g) => {
    const grant = GRANT_ALIASES[g];
    if (!grant) throw new UsageError(`unknown grant "${g}"`);
    return grant;
  });
  if (values.alg !== undefined && values.alg !== 'ES256' && values.alg !== 'RS256') throw new UsageError('--alg is ES256 or RS256');
  const redirectUris = values['redirect-uri'] ?? [];
  for (const uri of redirectUris) {
    if (!URL.canParse(uri)) throw new UsageError(`--redirect-uri "${uri}" is not an absolute URL`);
  }
  const { client, clientSecret } = await withCore(config, (core) =>
    core.clients.create({
      name: values.name!,
      type: values.public ? 'public' : 'confidential',
      grantTypes,
      scopes: parseScope(values.scope),
      redirectUris,
      ...(values.id !== undefined && { id: values.id }),
      accessTokenAlg: (values.alg as SigningAlg | undefined) ?? null,
      // RFC 8628 §3.2 `expires_in` and `interval` of this client's device codes.
      deviceCodeTtl: seconds('--expires-in', values['expires-in']),
      devicePollInterval: seconds('--interval', values.interval),
      // RFC 9449 §5.2: every token request of this client must carry a DPoP proof.
      requireDpop: values['require-dpop'] ?? false,
    }),
  );
  if (values.json) {
    console.log(JSON.stringify(clientSecret ? { client_id: client.id, client_secret: clientSecret } : { client_id: client.id }));
    return;
  }
  console.log(`client_id     ${client.id}`);
  if (clientSecret) console.log(`client_secret ${clientSecret}\n(shown only now; only its hash is stored)`);
};

function seconds(flag: string, value: string | undefined): number | null {
  if (value === undefined) return null;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} takes a whole number of seconds`);
  return Number(value);
}

const clientList: Command = async (args, config) => {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  const clients = await withCore(config, (core) => core.clients.list());
  if (values.json) {
    console.log(JSON.stringify(clients.map(({ secretHash: _hash, ...c }) => c)));
    return;
  }
  for (const c of clients) {
    const dpop = c.requireDpop ? '\tdpop: required' : '';
    console.log(`${c.id}\t${c.type}\t${c.name}\tgrants: ${c.grantTypes.join(',')}\tscopes: ${c.scopes.join(' ')}${dpop}`);
  }
};

const userCreate: Command = async (args, config) => {
  const { values } = parseArgs({
    args,
    options: { username: { type: 'string' }, 'password-stdin': { type: 'boolean' }, role: { type: 'string' } },
  });
  if (!values.username) throw new UsageError('--username is required');
  if (!values['password-stdin']) throw new UsageError('--password-stdin is required: a password never goes on the command line');
  const role = values.role ?? 'user';
  if (role !== 'user' && role !== 'developer' && role !== 'admin') throw new UsageError('--role is user, developer or admin');
  const password = await readStdin();
  const user = await withCore(config, (core) => core.users.create({ username: values.username!, password, role }));
  console.log(`user ${user.username} created (id ${user.id}, role ${user.role})`);
};

const userList: Command = async (args, config) => {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  const users = await withCore(config, (core) => core.users.list());
  if (values.json) {
    console.log(JSON.stringify(users.map(({ passwordHash: _hash, ...u }) => u)));
    return;
  }
  for (const u of users) console.log(`${u.id}\t${u.username}\t${u.role}`);
};

const keysRotate: Command = async (_args, config) => {
  const jwks = await withCore(config, async (core) => {
    await core.keys.rotate();
    return core.keys.jwks();
  });
  console.log(`new keys created; published now: ${jwks.keys.map((k) => `${k.kid} (${k.alg})`).join(', ')}`);
};

const iatCreate: Command = async (args, config) => {
  const { values } = parseArgs({
    args,
    options: { owner: { type: 'string' }, 'expires-in': { type: 'string' }, uses: { type: 'string' }, json: { type: 'boolean' } },
  });
  const expiresIn = Number(values['expires-in'] ?? 86_400);
  const uses = Number(values.uses ?? 1);
  if (!Number.isInteger(expiresIn) || expiresIn < 60) throw new UsageError('--expires-in is a whole number of seconds, at least 60');
  if (!Number.isInteger(uses) || uses < 1) throw new UsageError('--uses is a positive whole number');
  const { token, expiresAt, owner } = await withCore(config, async (core) => {
    // Clients registered with the token belong to this account and show on its /apps page.
    const owner = values.owner === undefined ? undefined : await core.store.users.getByUsername(values.owner);
    if (values.owner !== undefined && !owner) throw new Error(`no user "${values.owner}"`);
    const issued = await core.registration.issueInitialAccessToken({ ownerUserId: owner?.id ?? null, expiresIn, uses });
    return { ...issued, owner };
  });
  if (values.json) {
    console.log(JSON.stringify({ initial_access_token: token, expires_at: Math.floor(expiresAt / 1000), uses, owner: owner?.username ?? null }));
    return;
  }
  console.log(`initial_access_token ${token}`);
  console.log(`valid until ${new Date(expiresAt).toISOString()} for ${uses} registration(s)${owner ? `, owner ${owner.username}` : ''}`);
  console.log('(shown only now; only its hash is stored)  use: Authorization: Bearer <token> on POST /register');
};

const migrate: Command = async (args, config) => {
  if (args.length > 0) throw new UsageError(`kalm migrate takes no arguments, got "${args.join(' ')}"`);
  // Several instances starting at once migrate once: PostgreSQL under an advisory lock, SQLite in one transaction per step.
  const { engine, from, to } = await migrateStore(config);
  console.log(from === to ? `${engine} database is up to date (version ${to})` : `${engine} database migrated from version ${from} to ${to}`);
};

/** Every command, by its words. */
export const commands: Record<string, Command> = {
  serve,
  'client create': clientCreate,
  'client list': clientList,
  'user create': userCreate,
  'user list': userList,
  'keys rotate': keysRotate,
  'iat create': iatCreate,
  migrate,
};

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === 'help') {
    console.log(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  const two = argv.slice(0, 2).join(' ');
  const [name, rest] = commands[two] ? [two, argv.slice(2)] : [argv[0]!, argv.slice(1)];
  const command = commands[name];
  try {
    if (!command) throw new UsageError(`unknown command "${argv.slice(0, 2).join(' ')}"`);
    await command(rest, configFromEnv());
    return 0;
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`kalm: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof OAuthError) {
      console.error(`kalm: ${err.description}`);
      return 1;
    }
    console.error(`kalm: ${(err as Error).message}`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
