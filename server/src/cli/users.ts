/** `kalm user create|list|show|disable|enable|delete|set-password|set-role`: local accounts. */
import { USER_ROLES } from '../core/users.js';
import type { UserRecord, UserRole } from '../store/port/index.js';
import { parseCommand, printFields, printJson, readStdin, time, UsageError, withCore, type CliCommand } from './kit.js';

/** An account as every `--json` output shows it: the record without its password's hash. */
export function userJson({ passwordHash: _hash, ...user }: UserRecord) {
  return { ...user, disabledAt: user.disabledAt ?? null };
}

function role(value: string | undefined): UserRole {
  const role = value ?? 'user';
  if (!USER_ROLES.includes(role as UserRole)) throw new UsageError(`the role is ${USER_ROLES.join(', ')}`);
  return role as UserRole;
}

/** The password from stdin; `--password-stdin` is required, so a password never reaches the command line or the shell history. */
async function passwordFromStdin(given: boolean | undefined): Promise<string> {
  if (!given) throw new UsageError('--password-stdin is required: a password never goes on the command line');
  return readStdin();
}

const status = (u: UserRecord) => (u.disabledAt == null ? 'enabled' : 'disabled');

const create: CliCommand = {
  usage: 'kalm user create --username NAME --password-stdin [--role user|developer|admin] [--json]',
  help: `Create a local account; the password is read from stdin (8 to 1024 characters, one trailing
line end dropped) and stored only as its scrypt hash. developer accounts may register applications
on /apps; admin accounts too, and they see /admin. --json prints the account (never the hash).`,
  async run(args, config) {
    const { values } = parseCommand(args, { username: { type: 'string' }, 'password-stdin': { type: 'boolean' }, role: { type: 'string' } });
    if (!values.username) throw new UsageError('--username is required');
    const userRole = role(values.role);
    const password = await passwordFromStdin(values['password-stdin']);
    const user = await withCore(config, (core) => core.users.create({ username: values.username!, password, role: userRole }));
    if (values.json) return printJson(userJson(user));
    console.log(`user ${user.username} created (id ${user.id}, role ${user.role})`);
  },
};

const list: CliCommand = {
  usage: 'kalm user list [--json]',
  help: 'Every local account, oldest first: id, username, role, enabled or disabled. --json prints the records (never a password hash).',
  async run(args, config) {
    const { values } = parseCommand(args, {});
    const users = await withCore(config, (core) => core.users.list());
    if (values.json) return printJson(users.map(userJson));
    for (const u of users) console.log(`${u.id}\t${u.username}\t${u.role}\t${status(u)}`);
  },
};

const show: CliCommand = {
  usage: 'kalm user show USERNAME [--json]',
  help: `One account (by username, or by id): role, whether it is disabled and since when, when it was
created, how many devices are paired to it. --json prints the record with "pairedDevices".`,
  async run(args, config) {
    const { values, positionals } = parseCommand(args, {}, ['USERNAME']);
    await withCore(config, async (core) => {
      const user = await core.users.find(positionals[0]!);
      const pairedDevices = (await core.pairedDevices.listAll({ userId: user.id })).length;
      if (values.json) return printJson({ ...userJson(user), pairedDevices });
      printFields([
        ['username', user.username],
        ['id', user.id],
        ['role', user.role],
        ['status', user.disabledAt == null ? 'enabled' : `disabled since ${time(user.disabledAt)}`],
        ['created', time(user.createdAt)],
        ['paired devices', `${pairedDevices} (kalm device list --user ${user.username})`],
      ]);
    });
  },
};

const disable: CliCommand = {
  usage: 'kalm user disable USERNAME [--json]',
  help: `Disable an account: it may not sign in, its browser sessions end at once, and its paired
devices get no new tokens (a refresh answers invalid_grant) until it is enabled again; access tokens
already issued run out within ACCESS_TOKEN_TTL. Nothing is deleted. --json prints the account.`,
  async run(args, config) {
    const { values, positionals } = parseCommand(args, {}, ['USERNAME']);
    const { user, changed, devices } = await withCore(config, async (core) => {
      const { user, changed } = await core.users.setDisabled((await core.users.find(positionals[0]!)).id, true);
      return { user, changed, devices: (await core.pairedDevices.listAll({ userId: user.id })).length };
    });
    if (values.json) return printJson(userJson(user));
    console.log(
      changed
        ? `user ${user.username} disabled: may not sign in, sessions ended; ${devices} paired device(s) get no new tokens until kalm user enable`
        : `user ${user.username} is already disabled (since ${time(user.disabledAt)})`,
    );
  },
};

const enable: CliCommand = {
  usage: 'kalm user enable USERNAME [--json]',
  help: 'Enable a disabled account again: it may sign in, and its paired devices refresh again. --json prints the account.',
  async run(args, config) {
    const { values, positionals } = parseCommand(args, {}, ['USERNAME']);
    const { user, changed } = await withCore(config, async (core) => core.users.setDisabled((await core.users.find(positionals[0]!)).id, false));
    if (values.json) return printJson(userJson(user));
    console.log(changed ? `user ${user.username} enabled` : `user ${user.username} is already enabled`);
  },
};

const remove: CliCommand = {
  usage: 'kalm user delete USERNAME [--json]',
  help: `Delete an account. Its paired devices are revoked first, then its sessions, grants, tokens, codes
and consents go; clients it registered stay, without an owner. Its refresh tokens stop working at once.
--json prints {"id", "username", "deleted", "revoked_devices"}.`,
  async run(args, config) {
    const { values, positionals } = parseCommand(args, {}, ['USERNAME']);
    const { user, revokedGrants } = await withCore(config, async (core) => core.users.delete((await core.users.find(positionals[0]!)).id));
    if (values.json) return printJson({ id: user.id, username: user.username, deleted: true, revoked_devices: revokedGrants });
    console.log(`user ${user.username} deleted; ${revokedGrants} grant(s) revoked`);
  },
};

const setPassword: CliCommand = {
  usage: 'kalm user set-password USERNAME --password-stdin [--json]',
  help: `Give an account a new password, read from stdin as in create. Its browser sessions end (it signs
in again with the new one); its paired devices stay paired. --json prints the account.`,
  async run(args, config) {
    const { values, positionals } = parseCommand(args, { 'password-stdin': { type: 'boolean' } }, ['USERNAME']);
    // Read before the database is opened: a password typed at a terminal may take a while.
    const password = await passwordFromStdin(values['password-stdin']);
    const user = await withCore(config, async (core) => core.users.setPassword((await core.users.find(positionals[0]!)).id, password));
    if (values.json) return printJson(userJson(user));
    console.log(`password of ${user.username} changed; its sessions were ended`);
  },
};

const setRole: CliCommand = {
  usage: 'kalm user set-role USERNAME user|developer|admin [--json]',
  help: 'Change the role of an account; the pages read it on every request, so it applies at once. --json prints the account.',
  async run(args, config) {
    const { values, positionals } = parseCommand(args, {}, ['USERNAME', 'ROLE (user, developer or admin)']);
    const newRole = role(positionals[1]);
    const { before, after } = await withCore(config, async (core) => {
      const before = await core.users.find(positionals[0]!);
      return { before, after: await core.users.setRole(before.id, newRole) };
    });
    if (values.json) return printJson(userJson(after));
    console.log(`user ${after.username} is now ${after.role} (was ${before.role})`);
  },
};

export const userCommands: Record<string, CliCommand> = {
  'user create': create,
  'user list': list,
  'user show': show,
  'user disable': disable,
  'user enable': enable,
  'user delete': remove,
  'user set-password': setPassword,
  'user set-role': setRole,
};
