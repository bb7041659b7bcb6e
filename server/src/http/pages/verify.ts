/**
 * The RFC 8628 verification pages: code entry at the verification_uri, the per-scope
 * consent, and the outcome. The code lives in the session, server-side, from entry to answer.
 */
import { Router, type Request, type Response } from 'express';
import type { Core } from '../../core/index.js';
import { OAuthError } from '../../core/errors.js';
import { formatUserCode, readUserCode } from '../../core/user-codes.js';
import {
  renderCodeEntry,
  renderConfirmCode,
  renderConsent,
  renderError,
  renderOutcome,
  type DeviceOutcome,
  type Translator,
} from '@kalm/verify-ui';
import { attemptKeys } from './kit/attempt-keys.js';
import { csrfToken } from './kit/csrf.js';
import { formList, formValue } from './kit/form.js';
import { pageTranslator, renderLimited, renderPage } from './kit/render.js';
import { page, pageStack, requireCsrf } from './kit/route.js';
import { currentUser, sessionData, updateSession } from './kit/session.js';
import { redirectToSignIn } from './kit/sign-in-redirect.js';
import { describeScope } from './kit/scopes.js';

/** What the device flow keeps in the session, server-side, so no code ever sits in a URL. */
interface DeviceSessionData {
  /** A code that arrived in verification_uri_complete, waiting for the person to compare it with the TV. */
  linkCode: string;
  /** The normalised code the person entered or confirmed and that was live then. */
  code: string;
  /** When that code expires, to tell "expired" from "already used" later. */
  codeExpiresAt: number;
  outcome: DeviceOutcome;
  [key: string]: unknown;
}

// What a link may carry: enough for a code with separators, nothing more is kept.
const MAX_LINK_CODE = 16;

/**
 * The RFC 8628 verification pages: `GET /device` (the verification_uri),
 * `POST /device` (code entry, or confirm/cancel of a linked code),
 * `GET/POST /device/consent`, `GET /device/done`.
 */
export function verifyRouter(core: Core): Router {
  const router = Router();
  const stack = pageStack(core);
  router.get('/device', stack, page(showCodeEntry));
  router.post('/device', stack, requireCsrf, page((req, res) => enterCode(core, req, res)));
  router.get('/device/consent', stack, page((req, res) => showDeviceConsent(core, req, res)));
  router.post('/device/consent', stack, requireCsrf, page((req, res) => decideDeviceConsent(core, req, res)));
  router.get('/device/done', stack, page(showOutcome));
  return router;
}

function deviceData(req: Request): Readonly<Partial<DeviceSessionData>> {
  return sessionData<DeviceSessionData>(req);
}

/** `GET /device`: the code-entry form, or the check of a code that came in a link. */
async function showCodeEntry(req: Request, res: Response): Promise<void> {
  const linked = req.query.user_code;
  if (req.originalUrl.includes('?')) {
    // RFC 8628 §3.3.1 verification_uri_complete: keep the code server-side and show a
    // clean URL, so it stays out of history, bookmarks and any Referer.
    if (typeof linked === 'string' && linked.trim() !== '') {
      await updateSession(req, { linkCode: linked.trim().toUpperCase().slice(0, MAX_LINK_CODE), outcome: undefined });
    }
    return res.redirect(303, '/device');
  }
  const t = pageTranslator(req);
  const linkCode = deviceData(req).linkCode;
  if (linkCode) {
    const linked = readUserCode(linkCode);
    if (linked.kind !== 'code') {
      // A mangled or mistyped link: let the person type the code instead. Nothing was looked up.
      await updateSession(req, { linkCode: undefined });
      const entry = renderCodeEntry({ t, csrfToken: csrfToken(req), value: linkCode, error: entryError(t, linked.kind) });
      return renderPage(req, res, entry, 200, 'device');
    }
    // RFC 8628 §5.4: a code from a link must be compared with the device's screen first.
    return renderPage(req, res, renderConfirmCode({ t, csrfToken: csrfToken(req), userCode: formatUserCode(linked.code) }), 200, 'device');
  }
  renderPage(req, res, renderCodeEntry({ t, csrfToken: csrfToken(req) }), 200, 'device');
}

/** `POST /device`: a typed code, or the confirm/cancel of a linked one; on to consent when it is live. */
async function enterCode(core: Core, req: Request, res: Response): Promise<void> {
  const t = pageTranslator(req);
  const action = formValue(req, 'action');
  let input: string;
  if (action === 'cancel') {
    await updateSession(req, { linkCode: undefined });
    return res.redirect(303, '/device');
  } else if (action === 'confirm') {
    const linkCode = deviceData(req).linkCode;
    if (!linkCode) return res.redirect(303, '/device');
    input = linkCode;
  } else {
    input = (formValue(req, 'user_code') ?? '').slice(0, 64);
  }
  await updateSession(req, { linkCode: undefined });
  const entry = (error: string, status: number) =>
    renderPage(req, res, renderCodeEntry({ t, csrfToken: csrfToken(req), value: input.trim().slice(0, 32), error }), status, 'device');

  const typed = readUserCode(input);
  // Not the shape of a code, or a typo its check character caught: answered at once, before the
  // limiter, and never looked up, so a slip of the finger costs no attempt. 400, as every entry
  // the page cannot take; the message tells the two apart.
  if (typed.kind !== 'code') return entry(entryError(t, typed.kind), 400);
  const { code } = typed;

  // RFC 8628 §5.1: failed entries are limited per client IP and per browser.
  const result = await core.attempts.guard(attemptKeys(req, 'device'), () => core.deviceFlow.findPending(code));
  if (result.limited) return renderLimited(req, res, result.retryAfterMs);
  // Unknown, expired and already decided codes get one and the same answer: no oracle.
  if (!result.value) return entry(t.t('entry.invalid'), 400);

  await updateSession(req, { code, codeExpiresAt: result.value.expiresAt, outcome: undefined });
  if (!currentUser(req)) return redirectToSignIn(req, res, '/device/consent');
  res.redirect(303, '/device/consent');
}

/** What the entry form says about an entry that is not a code. */
function entryError(t: Translator, kind: 'typo' | 'malformed'): string {
  return t.t(kind === 'typo' ? 'entry.typo' : 'entry.malformed');
}

/** The code of this session, or a redirect to where the person should be. */
async function pendingRequest(core: Core, req: Request, res: Response) {
  const { code, codeExpiresAt } = deviceData(req);
  if (!code) {
    res.redirect(303, deviceData(req).outcome ? '/device/done' : '/device');
    return undefined;
  }
  const pending = await core.deviceFlow.findPending(code);
  if (!pending) {
    await finish(core, req, res, core.clock.now() >= (codeExpiresAt ?? 0) ? 'expired' : 'used');
    return undefined;
  }
  return { code, pending };
}

async function finish(core: Core, req: Request, res: Response, outcome: DeviceOutcome): Promise<void> {
  await updateSession(req, { code: undefined, codeExpiresAt: undefined, outcome });
  res.redirect(303, '/device/done');
}

/** `GET /device/consent`: what the device asks for, scope by scope, and where the request came from. */
async function showDeviceConsent(core: Core, req: Request, res: Response): Promise<void> {
  const user = currentUser(req);
  if (!user) return redirectToSignIn(req, res, '/device/consent');
  const found = await pendingRequest(core, req, res);
  if (!found) return;
  const t = pageTranslator(req);
  const { pending } = found;
  const now = core.clock.now();
  const body = renderConsent({
    t,
    clientName: pending.client.name,
    scopes: pending.scopes.map((name) => describeScope(core, name)),
    context: [
      { label: t.t('consent.account'), value: user.username },
      { label: t.t('consent.code'), value: pending.userCode },
      { label: t.t('consent.requested'), value: `${t.relative(pending.createdAt, now)} · ${t.dateTime(pending.createdAt)}` },
      { label: t.t('consent.network'), value: pending.requestIp ?? t.t('consent.unknown') },
      { label: t.t('consent.deviceType'), value: pending.requestUserAgent ?? t.t('consent.unknown') },
      { label: t.t('consent.expires'), value: t.relative(pending.expiresAt, now) },
    ],
    action: '/device/consent',
    csrfToken: csrfToken(req),
  });
  renderPage(req, res, { title: t.t('consent.title', { client: pending.client.name }), body }, 200, 'device');
}

/** `POST /device/consent`: approve the ticked scopes or deny. */
async function decideDeviceConsent(core: Core, req: Request, res: Response): Promise<void> {
  const user = currentUser(req);
  if (!user) return redirectToSignIn(req, res, '/device/consent');
  const found = await pendingRequest(core, req, res);
  if (!found) return;
  const ticked = formList(req, 'scope');
  if (!ticked) {
    const t = pageTranslator(req);
    return renderPage(req, res, renderError({ t, message: t.t('error.badRequest') }), 400);
  }
  const approve = formValue(req, 'decision') === 'approve' && ticked.length > 0;
  try {
    // Unticking every scope is the same as denying.
    // The person's address goes to the audit trail with the decision.
    if (approve) await core.deviceFlow.approve(found.code, user.id, ticked, { ip: req.ip });
    else await core.deviceFlow.deny(found.code, user.id, { ip: req.ip });
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    if (err.error === 'invalid_scope') {
      const t = pageTranslator(req);
      return renderPage(req, res, renderError({ t, message: t.t('error.badRequest') }), 400);
    }
    // Decided in another tab, or expired while the page was open.
    const expiresAt = deviceData(req).codeExpiresAt ?? 0;
    return finish(core, req, res, core.clock.now() >= expiresAt ? 'expired' : 'used');
  }
  await finish(core, req, res, approve ? 'approved' : 'denied');
}

/** `GET /device/done`: the outcome, once. */
function showOutcome(req: Request, res: Response): void {
  const outcome = deviceData(req).outcome;
  if (!outcome) return res.redirect(303, '/device');
  renderPage(req, res, renderOutcome({ t: pageTranslator(req), outcome }), 200, 'device');
}
