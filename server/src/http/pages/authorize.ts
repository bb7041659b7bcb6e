/** `/authorize`: the authorization code flow's sign-in and consent steps in the browser. */
import { Router, type Request, type Response } from 'express';
import type { AuthenticatedUser } from '../../core/auth.js';
import type { AuthorizationParams, AuthorizationRequest } from '../../core/authorization-code.js';
import { OAuthError } from '../../core/errors.js';
import type { Core } from '../../core/index.js';
import { renderAuthorizeError, renderConsent } from '@kalm/verify-ui';
import { csrfToken } from './kit/csrf.js';
import { formList, formValue } from './kit/form.js';
import { pageTranslator, renderPage } from './kit/render.js';
import { page, pageStack, requireCsrf } from './kit/route.js';
import { describeScope } from './kit/scopes.js';
import { currentUser } from './kit/session.js';
import { redirectToSignIn, safeReturnPath } from './kit/sign-in-redirect.js';

// A CSP source for the redirect target: `https://host:port`, or a private-use `scheme:`.
const CSP_SOURCE = /^(?:[a-z][a-z0-9+.-]*:\/\/[A-Za-z0-9.\-[\]:]+|[a-z][a-z0-9+.-]*:)$/;

/**
 * Chromium applies the page's `form-action` to the redirect that follows a form POST, so the
 * consent page must allow the (already verified) redirect URI's origin.
 */
function allowFormRedirectTo(res: Response, redirectUri: string): void {
  const url = new URL(redirectUri);
  const source = url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
  const csp = res.getHeader('Content-Security-Policy');
  if (typeof csp !== 'string' || !CSP_SOURCE.test(source)) return;
  res.setHeader('Content-Security-Policy', csp.replace("form-action 'self'", `form-action 'self' ${source}`));
}

/** The request's query string with its `?`, or nothing. */
function querySuffix(req: Request): string {
  const at = req.originalUrl.indexOf('?');
  return at < 0 ? '' : req.originalUrl.slice(at);
}

/** Where an error that must not be redirected is shown (RFC 6749 §4.1.2.1). */
function showError(req: Request, res: Response, error: OAuthError): void {
  renderPage(req, res, renderAuthorizeError({ t: pageTranslator(req), description: error.description }), 400);
}

/**
 * RFC 6749 §4.1.1–4.1.2 `GET /authorize` with RFC 7636 PKCE, and `POST /authorize` for the
 * consent form. Sign-in and the per-scope consent screen are the ones of the device flow.
 * The request itself rides in the URL's query throughout (the consent form posts back to
 * the same URL), so it is checked afresh at every step and nothing is kept in between.
 */
export function authorizeRouter(core: Core): Router {
  const router = Router();
  const stack = pageStack(core);
  router.get(['/authorize', '/authorize/continue'], stack, page((req, res) => askConsent(core, req, res)));
  router.post('/authorize', stack, requireCsrf, page((req, res) => decideConsent(core, req, res)));
  return router;
}

/** The checked request, or undefined when the response has been sent (error page or error redirect). */
async function checked(core: Core, req: Request, res: Response): Promise<AuthorizationRequest | undefined> {
  const result = await core.authorizationCode.check(req.query as AuthorizationParams);
  if (result.ok) return result.request;
  if (result.redirect) res.redirect(303, result.redirectUrl);
  else showError(req, res, result.error);
  return undefined;
}

/** The checked request and the signed-in person, or undefined when the response has been sent (as `checked`, or the way to sign-in). */
async function checkedForUser(core: Core, req: Request, res: Response): Promise<{ request: AuthorizationRequest; user: AuthenticatedUser } | undefined> {
  const request = await checked(core, req, res);
  if (!request) return undefined;
  const user = currentUser(req);
  if (!user) {
    signInFirst(core, req, res, request);
    return undefined;
  }
  return { request, user };
}

/** Sign-in first: it comes back to this very URL (a local path; it carries no secret). */
function signInFirst(core: Core, req: Request, res: Response, request: AuthorizationRequest): void {
  if (request.prompt.has('none')) {
    return res.redirect(303, core.authorizationCode.errorRedirect(request, new OAuthError('login_required', 'the user is not signed in')));
  }
  // Back to /authorize/continue: the redirect chain that starts at the sign-in form's POST must not
  // end at the client (Chromium holds the whole chain to the sign-in page's `form-action 'self'`).
  const back = safeReturnPath(`/authorize/continue${querySuffix(req)}`);
  if (!back) return showError(req, res, new OAuthError('invalid_request', 'the authorization request is too long'));
  redirectToSignIn(req, res, back);
}

function showConsent(core: Core, req: Request, res: Response, request: AuthorizationRequest, error?: string, status = 200, ticked?: readonly string[]): void {
  const t = pageTranslator(req);
  const client = request.client;
  const host = new URL(request.redirectUri).host || new URL(request.redirectUri).protocol;
  const body = renderConsent({
    t,
    clientName: client.name,
    scopes: request.scopes.map((name) => ({
      ...describeScope(core, name),
      checked: ticked ? ticked.includes(name) : true,
    })),
    context: [{ label: t.t('authorize.redirectsTo'), value: host }],
    // The form posts back to this URL, so the request comes along in the query.
    action: `/authorize${querySuffix(req)}`,
    csrfToken: csrfToken(req),
    warning: { title: t.t('authorize.warningTitle', { client: client.name }), body: t.t('authorize.warning', { host }) },
    error,
  });
  allowFormRedirectTo(res, request.redirectUri);
  renderPage(req, res, { title: t.t('consent.title', { client: client.name }), body }, status);
}

/** `GET /authorize` (and `/authorize/continue` after sign-in): the consent screen, unless it was answered before. */
async function askConsent(core: Core, req: Request, res: Response): Promise<void> {
  const flow = core.authorizationCode;
  const found = await checkedForUser(core, req, res);
  if (!found) return;
  const { request, user } = found;
  // A person who already answered this request for this client is not asked again; right
  // after sign-in the screen shows, with their earlier choices ticked (see signInFirst).
  const remembered = await flow.rememberedConsent(request, user.id);
  if (remembered && req.path === '/authorize/continue') return showConsent(core, req, res, request, undefined, 200, remembered);
  if (remembered) return res.redirect(303, await flow.approve(request, user.id, remembered));
  if (request.prompt.has('none')) {
    return res.redirect(303, flow.errorRedirect(request, new OAuthError('consent_required', 'the user has not consented to this request')));
  }
  showConsent(core, req, res, request);
}

/** `POST /authorize`: the consent form's answer, sent back to the client's redirect_uri. */
async function decideConsent(core: Core, req: Request, res: Response): Promise<void> {
  const flow = core.authorizationCode;
  const found = await checkedForUser(core, req, res);
  if (!found) return;
  const { request, user } = found;
  const ticked = formList(req, 'scope');
  if (!ticked) return showError(req, res, new OAuthError('invalid_request', 'malformed consent form'));
  // Unticking every scope is the same as denying (RFC 6749 §4.1.2.1 access_denied).
  if (formValue(req, 'decision') !== 'approve' || ticked.length === 0) {
    return res.redirect(303, flow.errorRedirect(request, new OAuthError('access_denied', 'the user denied the request')));
  }
  try {
    res.redirect(303, await flow.approve(request, user.id, ticked));
  } catch (err) {
    // A scope that was not offered: the form was tampered with; ask again.
    if (!(err instanceof OAuthError) || err.error !== 'invalid_scope') throw err;
    showConsent(core, req, res, request, pageTranslator(req).t('error.badRequest'), 400);
  }
}
