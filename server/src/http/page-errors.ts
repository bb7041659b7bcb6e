/**
 * The end of the pages app: the 404 of a path no page serves, and the error handler. A page
 * renders the errors its user should see itself; what reaches the handler is a body the parser
 * refused, an OAuth error a page let through, or a bug.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { renderError } from '@kalm/verify-ui';
import type { Logger } from '../logger.js';
import { pageTranslator, renderPage } from './pages/kit/render.js';
import { asOAuthError, challengeHeaders, httpStatus, oauthErrorBody, SERVER_ERROR_BODY } from './oauth-errors.js';

/** A path nothing serves: JSON, as for every other error. */
export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: 'not_found', error_description: `no route for ${req.method} ${req.path}` });
};

/** The last middleware: OAuth errors as RFC 6749 §5.2 JSON; anything else is a bug, logged and answered 500. */
export function pageErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) {
      logger.error({ err, path: req.path }, 'error after the response started');
      return;
    }
    const oauth = asOAuthError(err);
    if (!oauth) {
      logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
      res.status(500).json(SERVER_ERROR_BODY);
      return;
    }
    const status = httpStatus(oauth);
    if (status === 503 && req.method !== 'OPTIONS' && req.accepts(['json', 'html']) === 'html') {
      // A person on the pages, not a client: a page that says to try again (the store is away).
      res.setHeader('Retry-After', '2');
      renderPage(req, res, renderError({ t: pageTranslator(req), message: pageTranslator(req).t('error.unavailable') }), 503);
      return;
    }
    // RFC 6749 §5.1: no cache keeps an error answer either (the parser may raise one before any page runs).
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    const challenge = challengeHeaders(oauth, status);
    if (challenge) res.set(challenge);
    res.status(status).json(oauthErrorBody(oauth));
  };
}
