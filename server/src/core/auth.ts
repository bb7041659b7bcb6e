import type { AuditContext, AuditTrail } from './audit.js';
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
  /**
   * The user when the credentials are right; undefined otherwise. Must not throw for wrong
   * credentials. `context` (the person's address) is for the audit trail; an implementation may ignore it.
   */
  authenticate(credentials: { username: string; password: string }, context?: AuditContext): Promise<AuthenticatedUser | undefined>;
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

/**
 * `signin.succeeded` and `signin.failed` in the audit trail, around any authenticator (the local
 * accounts or an operator's). A failure keeps the typed username only when it names a local
 * account, so a password typed into the username field is never recorded. The answer waits for
 * the event: a sign-in the trail cannot record does not happen.
 */
export function auditedAuthenticator(authenticator: Authenticator, deps: { audit: AuditTrail; users: Pick<UserService, 'getByUsername'> }): Authenticator {
  return {
    async authenticate(credentials, context = {}) {
      const user = await authenticator.authenticate(credentials, context);
      if (user) {
        await deps.audit.record({ type: 'signin.succeeded', actor: { type: 'user', id: user.id, name: user.username }, userId: user.id, username: user.username, ip: context.ip });
        return user;
      }
      const account = await deps.users.getByUsername(credentials.username);
      await deps.audit.record({
        type: 'signin.failed',
        actor: { type: 'user', id: account?.id ?? null, name: account?.username ?? null },
        userId: account?.id ?? null,
        username: account?.username ?? null,
        ip: context.ip,
        details: account?.disabledAt != null ? { disabled: true } : {},
      });
      return undefined;
    },
  };
}
