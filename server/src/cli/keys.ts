/** `kalm keys list|rotate`: the server's signing and encryption keys. */
import { parseCommand, printJson, printTable, time, withCore, type CliCommand } from './kit.js';

const list: CliCommand = {
  usage: 'kalm keys list [--json]',
  help: `Every key kept, newest first: kid, algorithm, use (sig or enc), state and times. active keys sign
access tokens (ES256, RS256) or decrypt MQTT answers (ECDH-ES+A256KW); retired ones stay in
/jwks.json until the tokens they signed have expired (ACCESS_TOKEN_TTL after rotation); expired ones
are no longer published. Never a private key. --json prints the list.`,
  async run(args, config) {
    const { values } = parseCommand(args, {});
    const keys = await withCore(config, (core) => core.keys.list());
    if (values.json) return printJson(keys);
    printTable(
      ['KID', 'ALG', 'USE', 'STATE', 'CREATED', 'RETIRED', 'PUBLISHED_UNTIL'],
      keys.map((k) => [k.kid, k.alg, k.use, k.state, time(k.createdAt), time(k.retiredAt), k.publishedUntil === null ? '-' : time(k.publishedUntil)]),
      'no keys',
    );
  },
};

const rotate: CliCommand = {
  usage: 'kalm keys rotate [--json]',
  help: `Create new keys for every algorithm. The old ones are retired: they stay in /jwks.json until every
token they signed has expired (ACCESS_TOKEN_TTL). A running server picks the new keys up within 30 s.
--json prints the keys as list does.`,
  async run(args, config) {
    const { values } = parseCommand(args, {});
    const { keys, jwks } = await withCore(config, async (core) => {
      await core.keys.rotate();
      return { keys: await core.keys.list(), jwks: await core.keys.jwks() };
    });
    if (values.json) return printJson(keys);
    console.log(`new keys created; published now: ${jwks.keys.map((k) => `${k.kid} (${k.alg})`).join(', ')}`);
  },
};

export const keyCommands: Record<string, CliCommand> = {
  'keys list': list,
  'keys rotate': rotate,
};
