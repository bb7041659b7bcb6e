import { hashPassword, newSecret, verifyPassword, type RandomSource } from './secrets.js';
import type { Clock } from './clock.js';
import type { UserRecord, UserRepository, UserRole } from '../store/port/index.js';

export interface UserService {
  create(input: { username: string; password: string; role?: UserRole }): Promise<UserRecord>;
  get(id: string): Promise<UserRecord | undefined>;
  /** The user when the password matches; undefined otherwise, in about the same time either way. */
  verifyCredentials(username: string, password: string): Promise<UserRecord | undefined>;
  list(): Promise<UserRecord[]>;
}

const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;

export function createUserService(deps: { users: UserRepository; clock: Clock; random: RandomSource }): UserService {
  // Checked against when the username is unknown, so the response time tells nothing.
  // Made on first use, not at start: every CLI command and test server builds a core, and most
  // never check a password.
  let dummyHash: Promise<string> | undefined;
  return {
    async create({ username, password, role = 'user' }) {
      if (!USERNAME.test(username)) throw new Error('username: 1 to 64 of letters, digits and . _ @ -');
      if (password.length < 8 || password.length > 1024) throw new Error('password: 8 to 1024 characters');
      if (await deps.users.getByUsername(username)) throw new Error(`user "${username}" already exists`);
      const user: UserRecord = {
        id: newSecret(deps.random, 12),
        username,
        passwordHash: await hashPassword(password, deps.random),
        role,
        createdAt: deps.clock.now(),
      };
      await deps.users.create(user);
      return user;
    },
    get: (id) => deps.users.get(id),
    async verifyCredentials(username, password) {
      // Started before the lookup, so even the first check costs the same for known and unknown names.
      const dummy = await (dummyHash ??= hashPassword(newSecret(deps.random), deps.random));
      const user = USERNAME.test(username) ? await deps.users.getByUsername(username) : undefined;
      const ok = await verifyPassword(password.slice(0, 1024), user?.passwordHash ?? dummy);
      return ok ? user : undefined;
    },
    list: () => deps.users.list(),
  };
}
