/**
 * What every page route is assembled from: `...pageStack(core)` first (headers, then the
 * session), `requireCsrf` on a POST, then the handler wrapped in `page()`. Per route, never
 * `router.use`, so API requests and 404s never create sessions.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { Core } from '../../../core/index.js';
import { renderError } from '@kalm/verify-ui';
import { checkCsrf } from './csrf.js';
import { pageHeaders, type PageHeaderOptions } from './headers.js';
import { pageTranslator, renderPage } from './render.js';
import { sessionMiddleware } from './session.js';

/** Headers, then session: put this before every page handler. */
export function pageStack(core: Core, options: PageHeaderOptions = {}): RequestHandler[] {
  return [...pageHeaders(core, options), sessionMiddleware(core)];
}

/** Middleware form of `checkCsrf`: answers 403 with an error page on a mismatch. */
export const requireCsrf: RequestHandler = (req, res, next) => {
  if (checkCsrf(req)) return next();
  const t = pageTranslator(req);
  renderPage(req, res, renderError({ t, message: t.t('error.csrf') }), 403);
};

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
