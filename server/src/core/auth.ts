import type { UserService } from './users.js';

/** The person a session belongs to, as the pages show them. */
export interface AuthenticatedUser {
  /** Stable id; becomes the `sub` of tokens issued on this person's approval. */
  id: string;
  /** What the pages show ("Signed in as …"). */
  username: string;
}

/**
 * How a person proves who they are on the verification pages. The one seam an
 * operator replaces to use their own identity provider (LDAP, a company SSO
 * behind a password form, ...): pass another implementation as
 * `createCore({ authenticator })` / `startServer(config, { authenticator })`.
 *
 * @example
 * const ldap: Authenticator = {
 *   async authenticate({ username, password }) {
 *     const entry = await directory.bind(username, password);
 *     return entry ? { id: entry.uid, username: entry.mail } : undefined;
 *   },
 * };
 */
export interface Authenticator {
  /** The user when the credentials are right; undefined otherwise. Must not throw for wrong credentials. */
  authenticate(credentials: { username: string; password: string }): Promise<AuthenticatedUser | undefined>;
}

/** The default: local accounts with scrypt-hashed passwords (`kalm user create`). */
export function localAuthenticator(users: UserService): Authenticator {
  return {
    async authenticate({ username, password }) {
      const user = await users.verifyCredentials(username, password);
      return user && { id: user.id, username: user.username };
    },
  };
}
