import { Router } from 'express';
import type { Core } from '../../core/index.js';
import { renderSignIn } from '@kalm/verify-ui';
import { clientIp } from './kit/attempt-keys.js';
import { checkCsrf, csrfToken } from './kit/csrf.js';
import { formValue } from './kit/form.js';
import { pageTranslator, renderLimited, renderPage } from './kit/render.js';
import { page, pageStack, requireCsrf } from './kit/route.js';
import { currentUser, sessionLimiterKey, signIn, signOut } from './kit/session.js';
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

  router.get(
    '/signin',
    stack,
    page((req, res) => {
      const returnTo = safeReturnPath(req.query.return_to) ?? DEFAULT_RETURN;
      if (currentUser(req)) return res.redirect(303, returnTo);
      renderPage(req, res, renderSignIn({ t: pageTranslator(req), csrfToken: csrfToken(req), returnTo }));
    }),
  );

  router.post(
    '/signin',
    stack,
    requireCsrf,
    page(async (req, res) => {
      const t = pageTranslator(req);
      const returnTo = safeReturnPath(formValue(req, 'return_to')) ?? DEFAULT_RETURN;
      const username = formValue(req, 'username')?.trim().slice(0, 64) ?? '';
      const password = formValue(req, 'password') ?? '';
      const keys = [`signin:ip:${clientIp(req)}`, `signin:session:${sessionLimiterKey(req)}`];
      const result = await core.attempts.guard(keys, async () =>
        username && password ? core.authenticator.authenticate({ username, password }) : undefined,
      );
      if (result.limited) return renderLimited(req, res, result.retryAfterMs, true);
      if (!result.value) {
        const content = renderSignIn({ t, csrfToken: csrfToken(req), returnTo, username, error: t.t('signin.failed') });
        return renderPage(req, res, content, 401);
      }
      await signIn(req, res, result.value);
      res.redirect(303, returnTo);
    }),
  );

  router.post(
    '/signout',
    stack,
    page(async (req, res) => {
      // A forged sign-out is harmless but still refused, like every other form.
      if (!checkCsrf(req)) return res.redirect(303, '/device');
      await signOut(req, res);
      res.redirect(303, '/signin');
    }),
  );

  return router;
}
