import { NotFoundError } from './errors.js';
import { hashPassword, newId, newSecret, verifyPassword, type RandomSource } from './secrets.js';
import type { Clock } from './clock.js';
import type { TokenService } from './tokens.js';
import type { GrantRepository, UserRecord, UserRepository, UserRole } from '../store/port/index.js';

export const USER_ROLES: readonly UserRole[] = ['user', 'developer', 'admin'];

export interface UserService {
  create(input: { username: string; password: string; role?: UserRole }): Promise<UserRecord>;
  get(id: string): Promise<UserRecord | undefined>;
  getByUsername(username: string): Promise<UserRecord | undefined>;
  /** The account an operator names: by username, else by id; NotFoundError when neither. */
  find(reference: string): Promise<UserRecord>;
  /**
   * The user when the password matches and the account is not disabled; undefined otherwise, in
   * about the same time either way.
   */
  verifyCredentials(username: string, password: string): Promise<UserRecord | undefined>;
  list(): Promise<UserRecord[]>;
  /**
   * Disable an account (it may not sign in, its browser sessions end at once, its devices may not
   * refresh) or enable it again; nothing is deleted. `changed` is false when it already was so.
   */
  setDisabled(id: string, disabled: boolean): Promise<{ user: UserRecord; changed: boolean }>;
  /** A new password (rules of `create`); the account's browser sessions end, its devices stay paired. */
  setPassword(id: string, password: string): Promise<UserRecord>;
  /** A new role; the pages read it on every request, so it applies at once. */
  setRole(id: string, role: UserRole): Promise<UserRecord>;
  /**
   * Delete an account. Its live grants are revoked first, so its paired devices are told
   * (`revoked` on push); then its sessions, grants, codes and consents go with it, and the
   * clients it registered stay without an owner.
   */
  delete(id: string): Promise<{ user: UserRecord; revokedGrants: number }>;
}

const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;

function assertPassword(password: string): void {
  if (password.length < 8 || password.length > 1024) throw new Error('password: 8 to 1024 characters');
}

export function createUserService(deps: {
  users: UserRepository;
  /** A person's live grants, revoked when the account is deleted. */
  grants: Pick<GrantRepository, 'listByUser'>;
  tokens: Pick<TokenService, 'revokeGrant'>;
  clock: Clock;
  random: RandomSource;
}): UserService {
  // Checked against when the username is unknown, so the response time tells nothing.
  // Made on first use, not at start: every CLI command and test server builds a core, and most
  // never check a password.
  let dummyHash: Promise<string> | undefined;

  async function known(id: string): Promise<UserRecord> {
    const user = await deps.users.get(id);
    if (!user) throw new NotFoundError(`no user with id "${id}"`);
    return user;
  }

  async function change(id: string, changes: Parameters<UserRepository['update']>[1], endSessions = false): Promise<UserRecord> {
    const user = await known(id);
    if (!(await deps.users.update(id, changes, { endSessions }))) throw new NotFoundError(`no user with id "${id}"`);
    return { ...user, ...changes };
  }

  return {
    async create({ username, password, role = 'user' }) {
      if (!USERNAME.test(username)) throw new Error('username: 1 to 64 of letters, digits and . _ @ -');
      assertPassword(password);
      if (await deps.users.getByUsername(username)) throw new Error(`user "${username}" already exists`);
      const user: UserRecord = {
        id: newId(deps.random, 12),
        username,
        passwordHash: await hashPassword(password, deps.random),
        role,
        createdAt: deps.clock.now(),
        disabledAt: null,
      };
      await deps.users.create(user);
      return user;
    },
    get: (id) => deps.users.get(id),
    getByUsername: (username) => deps.users.getByUsername(username),
    async find(reference) {
      const user = (USERNAME.test(reference) ? await deps.users.getByUsername(reference) : undefined) ?? (await deps.users.get(reference));
      if (!user) throw new NotFoundError(`no user "${reference}"`);
      return user;
    },
    async verifyCredentials(username, password) {
      // Started before the lookup, so even the first check costs the same for known and unknown names.
      const dummy = await (dummyHash ??= hashPassword(newSecret(deps.random), deps.random));
      const user = USERNAME.test(username) ? await deps.users.getByUsername(username) : undefined;
      const ok = await verifyPassword(password.slice(0, 1024), user?.passwordHash ?? dummy);
      // A disabled account is refused after the same hash check, so timing tells nothing of it either.
      return ok && user?.disabledAt == null ? user : undefined;
    },
    list: () => deps.users.list(),
    async setDisabled(id, disabled) {
      const user = await known(id);
      if ((user.disabledAt != null) === disabled) return { user, changed: false };
      return { user: await change(id, { disabledAt: disabled ? deps.clock.now() : null }, disabled), changed: true };
    },
    async setPassword(id, password) {
      assertPassword(password);
      await known(id);
      return change(id, { passwordHash: await hashPassword(password, deps.random) }, true);
    },
    async setRole(id, role) {
      if (!USER_ROLES.includes(role)) throw new Error(`role: one of ${USER_ROLES.join(', ')}`);
      return change(id, { role });
    },
    async delete(id) {
      const user = await known(id);
      // Revoke first, so push subscribers of this process, and of other PostgreSQL instances
      // (NOTIFY at the revocation's commit), hear "revoked"; the cascade then removes the rows.
      let revokedGrants = 0;
      for (const grant of await deps.grants.listByUser(id)) {
        if (grant.revokedAt === null && (await deps.tokens.revokeGrant(grant.id))) revokedGrants++;
      }
      if (!(await deps.users.delete(id))) throw new NotFoundError(`no user with id "${id}"`);
      return { user, revokedGrants };
    },
  };
}
