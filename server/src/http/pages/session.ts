/**
 * Cookie sessions, sign-in redirects, CSRF protection, security headers and page
 * rendering shared by every HTML page (the device flow's and /authorize's).
 *
 * Mount order on a page route: `...pageStack(core)` first (headers, then the
 * session), then the handler. Per route, never `router.use`, so API requests and
 * 404s never create sessions.
 */
import { createHash, createHmac } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';
import type { AuthenticatedUser } from '../../core/auth.js';
import type { Core } from '../../core/index.js';
import type { ActiveSession } from '../../core/sessions.js';
import { safeEqual } from '../../core/secrets.js';
import { addressKey } from '../../net/client-address.js';
import {
  chooseLocale,
  renderError,
  renderLayout,
  renderRateLimited,
  translator,
  type Locale,
  type NavPage,
  type PageContent,
  type Translator,
} from '@kalm/verify-ui';

interface PageState {
  core: Core;
  session: ActiveSession;
  /** The signed-in person may register applications: the header then links to /apps. */
  mayRegisterApps: boolean;
}

// Per-request state without augmenting Express's global Request type.
const states = new WeakMap<Request, PageState>();

function state(req: Request): PageState {
  const s = states.get(req);
  if (!s) throw new Error('page session middleware is not mounted on this route (use ...pageStack(core))');
  return s;
}

/** `__Host-` pins the cookie to this origin, path `/`, Secure: only possible over https. */
export function sessionCookieName(core: Core): string {
  return isHttps(core) ? '__Host-kalm_session' : 'kalm_session';
}

function isHttps(core: Core): boolean {
  return core.config.publicUrl.startsWith('https:');
}

function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function setSessionCookie(core: Core, res: Response, id: string): void {
  res.cookie(sessionCookieName(core), id, {
    httpOnly: true,
    sameSite: 'lax',
    secure: isHttps(core),
    path: '/',
    // No maxAge: a browser-session cookie; the server side decides when a session ends.
  });
}

/**
 * Security headers of every page (helmet): a CSP with no inline script or style,
 * `frame-ancestors 'none'`, `Referrer-Policy: no-referrer` (so a user code never
 * leaks through Referer), `Cache-Control: no-store`, HSTS and
 * `upgrade-insecure-requests` only when PUBLIC_URL is https.
 * `formAction` widens `form-action` (Chromium applies it to the redirect after a
 * POST, so a consent form that redirects to a client's redirect_uri needs it).
 */
export function pageHeaders(core: Core, options: { formAction?: string[] } = {}): RequestHandler[] {
  const https = isHttps(core);
  return [
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          formAction: ["'self'", ...(options.formAction ?? [])],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          ...(https ? { upgradeInsecureRequests: [] } : {}),
        },
      },
      referrerPolicy: { policy: 'no-referrer' },
      strictTransportSecurity: https ? { maxAge: 31536000, includeSubDomains: true } : false,
      crossOriginOpenerPolicy: { policy: 'same-origin' },
      crossOriginResourcePolicy: { policy: 'same-origin' },
      xFrameOptions: { action: 'deny' },
    }),
    (_req, res, next) => {
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Pragma', 'no-cache');
      next();
    },
  ];
}

/**
 * Load the session named by the cookie, or start an anonymous one (every page
 * has a form, and every form needs a CSRF token bound to a session). Changes made
 * through `updateSession` are written at once.
 */
export function sessionMiddleware(core: Core): RequestHandler {
  return async (req, res, next) => {
    try {
      const cookie = readCookie(req, sessionCookieName(core));
      let session = cookie ? await core.sessions.load(cookie) : undefined;
      if (!session) {
        session = await core.sessions.start({ limiterKey: newLimiterKey(core) });
        setSessionCookie(core, res, session.id);
      }
      // Read on every page, not kept in the session, so a role change shows at once.
      const userId = session.record.userId;
      const user = userId === null ? undefined : await core.users.get(userId);
      states.set(req, { core, session, mayRegisterApps: user !== undefined && core.applications.mayRegister(user) });
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** Headers, then session: put this before every page handler. */
export function pageStack(core: Core, options: { formAction?: string[] } = {}): RequestHandler[] {
  return [...pageHeaders(core, options), sessionMiddleware(core)];
}

function newLimiterKey(core: Core): string {
  return Buffer.from(core.random(12)).toString('base64url');
}

/** The signed-in person, or undefined. */
export function currentUser(req: Request): AuthenticatedUser | undefined {
  const { record } = state(req).session;
  return record.userId !== null ? { id: record.userId, username: record.username ?? record.userId } : undefined;
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

/**
 * The client's address for rate limiting: `req.ip`, which follows X-Forwarded-For only from
 * the proxies TRUST_PROXY names (client-address.ts). IPv6 clients are grouped by /64, the
 * block one subscriber usually gets, so hopping addresses inside it gains nothing.
 */
export function clientIp(req: Request): string {
  return addressKey(req.ip);
}

/**
 * The CSRF token of this session: an HMAC of the session id, so it needs no
 * storage, changes when the id rotates at sign-in, and reveals nothing about the id.
 */
export function csrfToken(req: Request): string {
  return createHmac('sha256', state(req).session.id).update('kalm csrf v1').digest('base64url');
}

/**
 * True when the form's `csrf_token` matches this session's and the browser does
 * not report a cross-site request (`Sec-Fetch-Site`). Call on every POST.
 */
export function checkCsrf(req: Request): boolean {
  if (req.headers['sec-fetch-site'] === 'cross-site') return false;
  const sent = (req.body as Record<string, unknown> | undefined)?.csrf_token;
  return typeof sent === 'string' && sent.length < 200 && safeEqual(sent, csrfToken(req));
}

/** Middleware form of `checkCsrf`: answers 403 with an error page on a mismatch. */
export const requireCsrf: RequestHandler = (req, res, next) => {
  if (checkCsrf(req)) return next();
  const t = pageTranslator(req);
  renderPage(req, res, renderError({ t, message: t.t('error.csrf') }), 403);
};

/**
 * A local path to come back to after sign-in, or undefined: it must start with a
 * single `/` (not `//` or `/\`, which browsers read as another host) and hold no
 * control characters. Keep secrets out of it: it travels in the sign-in URL.
 */
export function safeReturnPath(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 1024) return undefined;
  if (!/^\/(?![/\\])/.test(value) || /[\u0000-\u001f\u007f\\]/.test(value)) return undefined;
  return value;
}

/** Send the person to `GET /signin`, to come back to the local path `returnTo` afterwards. */
export function redirectToSignIn(_req: Request, res: Response, returnTo: string): void {
  const path = safeReturnPath(returnTo) ?? '/devices';
  res.redirect(303, `/signin?return_to=${encodeURIComponent(path)}`);
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
  res.clearCookie(sessionCookieName(s.core), { httpOnly: true, sameSite: 'lax', secure: isHttps(s.core), path: '/' });
}

/** The page language, from `Accept-Language`. */
export function requestLocale(req: Request): Locale {
  return chooseLocale(req.headers['accept-language']);
}

export function pageTranslator(req: Request): Translator {
  return translator(requestLocale(req));
}

/** Frame `content` with the layout (header, account, sign-out) and send it. */
export function renderPage(req: Request, res: Response, content: PageContent, status = 200, current?: NavPage): void {
  const t = pageTranslator(req);
  const user = currentUser(req);
  const apps = state(req).mayRegisterApps;
  const page = renderLayout({ t, title: content.title, body: content.body, heading: content.heading ?? true, user, csrfToken: csrfToken(req), current, apps });
  res.status(status).type('html').setHeader('Content-Language', t.locale);
  res.send(page.value);
}

/** 429 with `Retry-After` and a page that says how long to wait. */
export function renderLimited(req: Request, res: Response, retryAfterMs: number, signInPage = false): void {
  res.setHeader('Retry-After', String(Math.ceil(retryAfterMs / 1000)));
  renderPage(req, res, renderRateLimited({ t: pageTranslator(req), retryAfterMs, signIn: signInPage }), 429);
}

/** One form value: a string, or undefined when absent, empty or repeated. */
export function formValue(req: Request, name: string): string | undefined {
  const value = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Wrap an async page handler so a thrown error reaches Express's error handler. */
export function page(handler: (req: Request, res: Response) => Promise<void> | void): RequestHandler {
  return async (req, res, next) => {
    try {
      await handler(req, res);
    } catch (err) {
      next(err);
    }
  };
}
