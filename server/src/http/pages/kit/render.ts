/** Sending a page: the language from `Accept-Language`, the layout around the content, the 429 page. */
import type { Request, Response } from 'express';
import {
  chooseLocale,
  renderLayout,
  renderRateLimited,
  translator,
  type Locale,
  type NavPage,
  type PageContent,
  type Translator,
} from '@kalm/verify-ui';
import { csrfToken } from './csrf.js';
import { currentUser, hasPageSession, isAdmin, mayRegisterApps } from './session.js';

/** The page language, from `Accept-Language`. */
export function requestLocale(req: Request): Locale {
  return chooseLocale(req.headers['accept-language']);
}

export function pageTranslator(req: Request): Translator {
  return translator(requestLocale(req));
}

/**
 * Frame `content` with the layout (header, account, sign-out) and send it. A request whose
 * session could not be loaded (the 503 page of a store that is away) gets the anonymous frame.
 */
export function renderPage(req: Request, res: Response, content: PageContent, status = 200, current?: NavPage): void {
  const t = pageTranslator(req);
  const session = hasPageSession(req);
  const user = session ? currentUser(req) : undefined;
  const apps = session && mayRegisterApps(req);
  const admin = session && isAdmin(req);
  const page = renderLayout({ t, title: content.title, body: content.body, heading: content.heading ?? true, user, csrfToken: session ? csrfToken(req) : undefined, current, apps, admin });
  res.status(status).type('html').setHeader('Content-Language', t.locale);
  res.send(page.value);
}

/** 429 with `Retry-After` and a page that says how long to wait. */
export function renderLimited(req: Request, res: Response, retryAfterMs: number, signInPage = false): void {
  res.setHeader('Retry-After', String(Math.ceil(retryAfterMs / 1000)));
  renderPage(req, res, renderRateLimited({ t: pageTranslator(req), retryAfterMs, signIn: signInPage }), 429);
}
