/** `kalm iat create`: RFC 7591 initial access tokens for `POST /register`. */
import { parseCommand, printJson, UsageError, withCore, type CliCommand } from './kit.js';

const create: CliCommand = {
  usage: 'kalm iat create [--owner USERNAME] [--expires-in SECONDS] [--uses N] [--json]',
  summary: 'an RFC 7591 initial access token for POST /register',
  help: `Print an RFC 7591 initial access token for POST /register, once (only its SHA-256 is stored):
valid --expires-in seconds (default 86400, at least 60) for --uses registrations (default 1). Clients
registered with it belong to --owner and show on that account's /apps page.
--json prints {"initial_access_token", "expires_at" (seconds), "uses", "owner"}.`,
  async run(args, config) {
    const { values } = parseCommand(args, { owner: { type: 'string' }, 'expires-in': { type: 'string' }, uses: { type: 'string' } });
    const expiresIn = Number(values['expires-in'] ?? 86_400);
    const uses = Number(values.uses ?? 1);
    if (!Number.isInteger(expiresIn) || expiresIn < 60) throw new UsageError('--expires-in is a whole number of seconds, at least 60');
    if (!Number.isInteger(uses) || uses < 1) throw new UsageError('--uses is a positive whole number');
    const { token, expiresAt, owner } = await withCore(config, async (core) => {
      // Clients registered with the token belong to this account and show on its /apps page.
      const owner = values.owner === undefined ? undefined : await core.users.find(values.owner);
      const issued = await core.registration.issueInitialAccessToken({ ownerUserId: owner?.id ?? null, expiresIn, uses });
      return { ...issued, owner };
    });
    if (values.json) {
      return printJson({ initial_access_token: token, expires_at: Math.floor(expiresAt / 1000), uses, owner: owner?.username ?? null });
    }
    console.log(`initial_access_token ${token}`);
    console.log(`valid until ${new Date(expiresAt).toISOString()} for ${uses} registration(s)${owner ? `, owner ${owner.username}` : ''}`);
    console.log('(shown only now; only its hash is stored)  use: Authorization: Bearer <token> on POST /register');
  },
};

export const registrationCommands: Record<string, CliCommand> = {
  'iat create': create,
};
