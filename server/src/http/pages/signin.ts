/** `/signin` and `/signout`: username and password sign-in on the page session. */
import { Router, type Request, type Response } from 'express';
import type { Core } from '../../core/index.js';
import { renderSignIn } from '@kalm/verify-ui';
import { attemptKeys } from './kit/attempt-keys.js';
import { checkCsrf, csrfToken } from './kit/csrf.js';
import { formValue } from './kit/form.js';
import { pageTranslator, renderLimited, renderPage } from './kit/render.js';
import { page, pageStack, requireCsrf } from './kit/route.js';
import { currentUser, signIn, signOut } from './kit/session.js';
import { safeReturnPath } from './kit/sign-in-redirect.js';

const DEFAULT_RETURN = '/devices';

/**
 * `GET/POST /signin` (username and password through `core.authenticator`) and
 * `POST /signout`. Failed sign-ins go through the same growing-wait limiter as
 * code entry, per client IP and per browser.
 */
export function signInRouter(core: Core): Router {
  const router = Router();
  const stack = pageStack(core);
  router.get('/signin', stack, page(showSignIn));
  router.post('/signin', stack, requireCsrf, page((req, res) => submitSignIn(core, req, res)));
  router.post('/signout', stack, page(submitSignOut));
  return router;
}

/** `GET /signin`: the form, or straight back when already signed in. */
function showSignIn(req: Request, res: Response): void {
  const returnTo = safeReturnPath(req.query.return_to) ?? DEFAULT_RETURN;
  if (currentUser(req)) return res.redirect(303, returnTo);
  renderPage(req, res, renderSignIn({ t: pageTranslator(req), csrfToken: csrfToken(req), returnTo }));
}

/** `POST /signin`: check the password (limited), sign in, go back. */
async function submitSignIn(core: Core, req: Request, res: Response): Promise<void> {
  const t = pageTranslator(req);
  const returnTo = safeReturnPath(formValue(req, 'return_to')) ?? DEFAULT_RETURN;
  const username = formValue(req, 'username')?.trim().slice(0, 64) ?? '';
  const password = formValue(req, 'password') ?? '';
  const result = await core.attempts.guard(attemptKeys(req, 'signin'), async () =>
    username && password ? core.authenticator.authenticate({ username, password }, { ip: req.ip }) : undefined,
  );
  if (result.limited) return renderLimited(req, res, result.retryAfterMs, true);
  if (!result.value) {
    const content = renderSignIn({ t, csrfToken: csrfToken(req), returnTo, username, error: t.t('signin.failed') });
    return renderPage(req, res, content, 401);
  }
  await signIn(req, res, result.value);
  res.redirect(303, returnTo);
}

/** `POST /signout`. */
async function submitSignOut(req: Request, res: Response): Promise<void> {
  // A forged sign-out is harmless but still refused, like every other form.
  if (!checkCsrf(req)) return res.redirect(303, '/device');
  await signOut(req, res);
  res.redirect(303, '/signin');
}
