/**
 * The page session: the middleware that loads or starts it, what a handler reads from it (the
 * signed-in person and their account, server-side data) and the changes it may make (data,
 * sign-in, sign-out). State lives per request in a WeakMap, not on Express's global Request type.
 */
import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { AuthenticatedUser } from '../../../core/auth.js';
import type { Core } from '../../../core/index.js';
import type { ActiveSession } from '../../../core/sessions.js';
import type { UserRecord } from '../../../store/port/index.js';
import { clearSessionCookie, readSessionCookie, setSessionCookie } from './cookies.js';

interface PageState {
  core: Core;
  session: ActiveSession;
  /**
   * The signed-in person's account as the store had it when the session was loaded (its role
   * decides the header's /apps and /admin links and the admin pages' access), or undefined.
   */
  account: UserRecord | undefined;
}

// Per-request state without augmenting Express's global Request type.
const states = new WeakMap<Request, PageState>();

function state(req: Request): PageState {
  const s = states.get(req);
  if (!s) throw new Error('page session middleware is not mounted on this route (use ...pageStack(core))');
  return s;
}

/**
 * Load the session named by the cookie, or start an anonymous one (every page
 * has a form, and every form needs a CSRF token bound to a session). Changes made
 * through `updateSession` are written at once.
 */
export function sessionMiddleware(core: Core): RequestHandler {
  return async (req, res, next) => {
    try {
      const cookie = readSessionCookie(core, req);
      let session = cookie ? await core.sessions.load(cookie) : undefined;
      if (!session) {
        session = await core.sessions.start({ limiterKey: newLimiterKey(core) });
        setSessionCookie(core, res, session.id);
      }
      // Read once on every page, not kept in the session, so a role change shows at once; the
      // header and the admin pages both read the role from this one read.
      const userId = session.record.userId;
      const account = userId === null ? undefined : await core.users.get(userId);
      states.set(req, { core, session, account });
      next();
    } catch (err) {
      next(err);
    }
  };
}

function newLimiterKey(core: Core): string {
  return Buffer.from(core.random(12)).toString('base64url');
}

/**
 * Whether the session middleware loaded this request's session. It has not when loading it
 * failed (the store is away): the error page of such a request is rendered without one.
 */
export function hasPageSession(req: Request): boolean {
  return states.has(req);
}

/** The signed-in person, or undefined. */
export function currentUser(req: Request): AuthenticatedUser | undefined {
  const { record } = state(req).session;
  return record.userId !== null ? { id: record.userId, username: record.username ?? record.userId } : undefined;
}

/** The signed-in person may register applications (read when the session was loaded). */
export function mayRegisterApps(req: Request): boolean {
  const account = currentAccount(req);
  return account !== undefined && state(req).core.applications.mayRegister(account);
}

/**
 * The signed-in person's account, read when the session was loaded: undefined when signed out,
 * when the account is gone, or when the session was signed in or out during this request.
 */
export function currentAccount(req: Request): UserRecord | undefined {
  const { session, account } = state(req);
  return account !== undefined && account.id === session.record.userId ? account : undefined;
}

/** The signed-in person is an administrator: the header then links to /admin. */
export function isAdmin(req: Request): boolean {
  return currentAccount(req)?.role === 'admin';
}

/** The session id, the cookie's secret value: only for deriving the CSRF token (csrf.ts). */
export function currentSessionId(req: Request): string {
  return state(req).session.id;
}

/** The session's server-side data (read-only view; change it with `updateSession`). */
export function sessionData<T extends Record<string, unknown> = Record<string, unknown>>(req: Request): Readonly<Partial<T>> {
  return state(req).session.record.data as Partial<T>;
}

/** Change the session's data: keys set to undefined are removed. Written at once. */
export async function updateSession(req: Request, patch: Record<string, unknown>): Promise<void> {
  const s = state(req);
  const data = { ...s.session.record.data };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete data[key];
    else data[key] = value;
  }
  s.session.record.data = data;
  await s.core.sessions.save(s.session);
}

/**
 * A stable, non-secret key of this browser for the attempt limiter: it survives
 * the id rotation at sign-in, and the session id itself never reaches the table.
 */
export function sessionLimiterKey(req: Request): string {
  const key = state(req).session.record.data.limiterKey;
  return typeof key === 'string' ? key : createHash('sha256').update(state(req).session.record.idHash).digest('base64url');
}

/** Sign `user` in on this request's session: a new session id (against fixation), same data. */
export async function signIn(req: Request, res: Response, user: AuthenticatedUser): Promise<void> {
  const s = state(req);
  s.session = await s.core.sessions.signIn(s.session, user);
  setSessionCookie(s.core, res, s.session.id);
}

/** End the session and clear the cookie. */
export async function signOut(req: Request, res: Response): Promise<void> {
  const s = state(req);
  await s.core.sessions.end(s.session);
  clearSessionCookie(s.core, res);
}
