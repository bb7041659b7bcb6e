/** `kalm client create|list|show|update|delete|rotate-secret`: the registered OAuth clients. */
import { GRANT_ALIASES, type ClientChanges } from '../core/clients.js';
import { NotFoundError } from '../core/errors.js';
import type { Core } from '../core/index.js';
import { parseScope } from '../core/scopes.js';
import type { ClientRecord, SigningAlg } from '../store/port/index.js';
import type { Config } from '../config.js';
import { grantName, parseCommand, printFields, printJson, printTable, seconds, time, UsageError, withCore, type CliCommand } from './kit.js';

/** A client as every `--json` output shows it: the record without its secret's hash. */
export function clientJson({ secretHash: _hash, ...client }: ClientRecord) {
  return client;
}

function grantTypes(values: string[]): string[] {
  return values.flatMap((g) => g.split(/[\s,]+/)).filter(Boolean).map((g) => {
    const grant = GRANT_ALIASES[g];
    if (!grant) throw new UsageError(`unknown grant "${g}"`);
    return grant;
  });
}

function redirectUris(values: string[]): string[] {
  for (const uri of values) if (!URL.canParse(uri)) throw new UsageError(`--redirect-uri "${uri}" is not an absolute URL`);
  return values;
}

function signingAlg(value: string): SigningAlg {
  if (value !== 'ES256' && value !== 'RS256') throw new UsageError('--alg is ES256 or RS256');
  return value;
}

const create: CliCommand = {
  usage: `kalm client create --name NAME (--public | --confidential) --grant GRANT... --scope "SCOPES"
                   [--redirect-uri URI...] [--id ID] [--alg ES256|RS256]
                   [--expires-in SECONDS] [--interval SECONDS] [--require-dpop] [--json]`,
  help: `Register a client. Prints its id, and for a confidential client its secret, once: only the
secret's scrypt hash is stored. --interval and --expires-in set its RFC 8628 polling interval and
device code lifetime; --alg RS256 signs its access tokens with RS256 instead of the server default;
--require-dpop refuses its token requests without a DPoP proof (RFC 9449 §5.2).
--json prints {"client_id", "client_secret"}.`,
  async run(args, config) {
    const { values } = parseCommand(args, {
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
    });
    if (!values.name) throw new UsageError('--name is required');
    if (values.scope === undefined) throw new UsageError('--scope is required');
    if (values.public === values.confidential) throw new UsageError('give exactly one of --public and --confidential');
    if (!values.grant?.length) throw new UsageError('give at least one --grant');
    const input = {
      name: values.name,
      type: values.public ? ('public' as const) : ('confidential' as const),
      grantTypes: grantTypes(values.grant),
      scopes: parseScope(values.scope),
      redirectUris: redirectUris(values['redirect-uri'] ?? []),
      ...(values.id !== undefined && { id: values.id }),
      accessTokenAlg: values.alg === undefined ? null : signingAlg(values.alg),
      // RFC 8628 §3.2 `expires_in` and `interval` of this client's device codes.
      deviceCodeTtl: seconds('--expires-in', values['expires-in']),
      devicePollInterval: seconds('--interval', values.interval),
      // RFC 9449 §5.2: every token request of this client must carry a DPoP proof.
      requireDpop: values['require-dpop'] ?? false,
    };
    const { client, clientSecret } = await withCore(config, (core) => core.clients.create(input));
    if (values.json) return printJson(clientSecret ? { client_id: client.id, client_secret: clientSecret } : { client_id: client.id });
    console.log(`client_id     ${client.id}`);
    if (clientSecret) console.log(`client_secret ${clientSecret}\n(shown only now; only its hash is stored)`);
  },
};

const list: CliCommand = {
  usage: 'kalm client list [--json]',
  help: 'Every registered client, oldest first: id, type, name, grants, scopes. --json prints the records (never a secret or its hash).',
  async run(args, config) {
    const { values } = parseCommand(args, {});
    const clients = await withCore(config, (core) => core.clients.list());
    if (values.json) return printJson(clients.map(clientJson));
    for (const c of clients) {
      const dpop = c.requireDpop ? '\tdpop: required' : '';
      console.log(`${c.id}\t${c.type}\t${c.name}\tgrants: ${c.grantTypes.join(',')}\tscopes: ${c.scopes.join(' ')}${dpop}`);
    }
  },
};

/** The text form of one client, server defaults spelled out. */
async function printClient(core: Core, config: Config, c: ClientRecord): Promise<void> {
  const owner = c.ownerUserId === null ? undefined : await core.users.get(c.ownerUserId);
  const orDefault = (value: number | string | null, fallback: number | string, unit = '') =>
    value === null ? `${fallback}${unit} (server default)` : `${value}${unit}`;
  printFields([
    ['client_id', c.id],
    ['name', c.name],
    ['type', c.type],
    ['grants', c.grantTypes.map(grantName).join(', ')],
    ['scopes', c.scopes.join(' ')],
    ['redirect URIs', c.redirectUris.join(' ') || '-'],
    ['device codes', `live ${orDefault(c.deviceCodeTtl, config.deviceCodeTtl, ' s')}, poll every ${orDefault(c.devicePollInterval, config.devicePollInterval, ' s')}`],
    ['access tokens', orDefault(c.accessTokenAlg, config.accessTokenAlg)],
    ['DPoP', c.requireDpop ? 'required' : 'optional'],
    ['owner', c.ownerUserId === null ? '-' : (owner?.username ?? c.ownerUserId)],
    ['created', time(c.createdAt)],
  ]);
}

const show: CliCommand = {
  usage: 'kalm client show CLIENT_ID [--json]',
  help: 'One client: its grants, scopes, redirect URIs, device code lifetime and interval, token algorithm, DPoP, owner. --json prints the record (never the secret or its hash).',
  async run(args, config) {
    const { values, positionals } = parseCommand(args, {}, ['CLIENT_ID']);
    await withCore(config, async (core) => {
      const client = await core.clients.get(positionals[0]!);
      if (!client) throw new NotFoundError(`no client "${positionals[0]}"`);
      if (values.json) return printJson(clientJson(client));
      await printClient(core, core.config, client);
    });
  },
};

/** `default` resets a per-client override to the server's value. */
function overrideOf<T>(value: string | undefined, read: (value: string) => T): T | null | undefined {
  if (value === undefined) return undefined;
  return value === 'default' ? null : read(value);
}

const update: CliCommand = {
  usage: `kalm client update CLIENT_ID [--name NAME] [--grant GRANT...] [--scope "SCOPES"]
                   [--redirect-uri URI... | --no-redirect-uris] [--alg ES256|RS256|default]
                   [--expires-in SECONDS|default] [--interval SECONDS|default]
                   [--require-dpop | --no-require-dpop] [--json]`,
  help: `Change a client. Each option given replaces that setting (--grant and --redirect-uri the whole
list); "default" gives a setting back to the server's value. The rules of create apply. What changes
applies to new authorizations and refreshes: devices already paired keep the scopes they were
granted (revoke them with kalm device revoke to apply a narrower scope at once). The type and the
secret stay (see rotate-secret). Prints the client as show does; --json prints the record.`,
  async run(args, config) {
    const { values, positionals } = parseCommand(
      args,
      {
        name: { type: 'string' },
        grant: { type: 'string', multiple: true },
        scope: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'no-redirect-uris': { type: 'boolean' },
        alg: { type: 'string' },
        'expires-in': { type: 'string' },
        interval: { type: 'string' },
        'require-dpop': { type: 'boolean' },
        'no-require-dpop': { type: 'boolean' },
      },
      ['CLIENT_ID'],
    );
    if (values['redirect-uri'] && values['no-redirect-uris']) throw new UsageError('give --redirect-uri or --no-redirect-uris, not both');
    if (values['require-dpop'] && values['no-require-dpop']) throw new UsageError('give --require-dpop or --no-require-dpop, not both');
    const changes: ClientChanges = {
      name: values.name,
      grantTypes: values.grant && grantTypes(values.grant),
      scopes: values.scope === undefined ? undefined : parseScope(values.scope),
      redirectUris: values['no-redirect-uris'] ? [] : values['redirect-uri'] && redirectUris(values['redirect-uri']),
      accessTokenAlg: overrideOf(values.alg, signingAlg),
      deviceCodeTtl: overrideOf(values['expires-in'], (v) => seconds('--expires-in', v)!),
      devicePollInterval: overrideOf(values.interval, (v) => seconds('--interval', v)!),
      requireDpop: values['require-dpop'] ? true : values['no-require-dpop'] ? false : undefined,
    };
    if (Object.values(changes).every((v) => v === undefined)) throw new UsageError('nothing to change: give at least one option');
    await withCore(config, async (core) => {
      const client = await core.clients.update(positionals[0]!, changes);
      if (values.json) return printJson(clientJson(client));
      await printClient(core, core.config, client);
    });
  },
};

const remove: CliCommand = {
  usage: 'kalm client delete CLIENT_ID [--json]',
  help: `Delete a client. Every device paired to it is revoked first, then its grants, tokens, codes,
consents and profile go with it: its refresh tokens and secret stop working at once, and its access
tokens fail introspection. --json prints {"client_id", "deleted", "revoked_devices"}.`,
  async run(args, config) {
    const { values, positionals } = parseCommand(args, {}, ['CLIENT_ID']);
    const { client, revokedGrants } = await withCore(config, (core) => core.clients.delete(positionals[0]!));
    if (values.json) return printJson({ client_id: client.id, deleted: true, revoked_devices: revokedGrants });
    console.log(`client ${client.id} (${client.name}) deleted; ${revokedGrants} grant(s) revoked`);
  },
};

const rotateSecret: CliCommand = {
  usage: 'kalm client rotate-secret CLIENT_ID [--json]',
  help: `A new secret for a confidential client, printed once (only its hash is stored). The old secret
stops working at once, on a running server too. --json prints {"client_id", "client_secret"}.`,
  async run(args, config) {
    const { values, positionals } = parseCommand(args, {}, ['CLIENT_ID']);
    const { client, clientSecret } = await withCore(config, (core) => core.clients.rotateSecret(positionals[0]!));
    if (values.json) return printJson({ client_id: client.id, client_secret: clientSecret });
    console.log(`client_id     ${client.id}`);
    console.log(`client_secret ${clientSecret}\n(shown only now; only its hash is stored; the old secret no longer works)`);
  },
};

export const clientCommands: Record<string, CliCommand> = {
  'client create': create,
  'client list': list,
  'client show': show,
  'client update': update,
  'client delete': remove,
  'client rotate-secret': rotateSecret,
};
