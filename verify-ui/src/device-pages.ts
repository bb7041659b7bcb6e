import { html, type SafeHtml } from './html.js';
import type { Translator } from './i18n.js';
import { csrfField, notice } from './layout.js';

/** A page's title and body; the server frames it with `renderLayout`. */
export interface PageContent {
  title: string;
  body: SafeHtml;
  /** False to leave the `<h1>` to the body. */
  heading?: boolean;
}

/**
 * Code entry (RFC 8628 §3.3). One field, friendly to phone keyboards: capitals
 * by default, one-time-code autofill; case, dash and spaces do not matter.
 */
export function renderCodeEntry(input: {
  t: Translator;
  csrfToken: string;
  /** What the person typed, shown back (escaped) after an error. */
  value?: string | undefined;
  error?: string | undefined;
}): PageContent {
  const { t } = input;
  const describedBy = input.error ? 'code-hint code-error' : 'code-hint';
  return {
    title: t.t('entry.title'),
    body: html`<p class="lead">${t.t('entry.lead')}</p>
${input.error ? notice('error', input.error, 'code-error') : ''}
<form class="stack" method="post" action="/device">
  ${csrfField(input.csrfToken)}
  <div class="field">
    <label for="user_code">${t.t('entry.label')}</label>
    <input class="code-input" id="user_code" name="user_code" type="text" inputmode="text"
      autocomplete="one-time-code" autocapitalize="characters" autocorrect="off" spellcheck="false"
      maxlength="32" required autofocus aria-describedby="${describedBy}"${input.error ? html` aria-invalid="true"` : ''}
      value="${input.value ?? ''}" placeholder="BCDF-GHJK">
    <p class="hint" id="code-hint">${t.t('entry.hint')}</p>
  </div>
  <button class="button button-primary" type="submit">${t.t('entry.submit')}</button>
</form>`,
  };
}

/** RFC 8628 §5.4: a code that arrived in a link must be checked against the device's screen. */
export function renderConfirmCode(input: { t: Translator; csrfToken: string; userCode: string }): PageContent {
  const { t } = input;
  return {
    title: t.t('confirm.title'),
    body: html`<p class="lead">${t.t('confirm.lead')}</p>
<p class="code-display" aria-label="${input.userCode.split('').join(' ')}">${input.userCode}</p>
<p>${t.t('confirm.explain')}</p>
<form class="actions" method="post" action="/device">
  ${csrfField(input.csrfToken)}
  <button class="button button-primary" type="submit" name="action" value="confirm">${t.t('confirm.yes')}</button>
  <button class="button button-secondary" type="submit" name="action" value="cancel">${t.t('confirm.no')}</button>
</form>`,
  };
}

export type DeviceOutcome = 'approved' | 'denied' | 'expired' | 'used';

/** The end of the flow. */
export function renderOutcome(input: { t: Translator; outcome: DeviceOutcome }): PageContent {
  const { t, outcome } = input;
  const icon = outcome === 'approved' ? '✓' : outcome === 'denied' ? '✕' : '!';
  return {
    title: t.t(`done.${outcome}.title`),
    heading: false,
    body: html`<div class="result result-${outcome}">
  <p class="result-icon" aria-hidden="true">${icon}</p>
  <h1>${t.t(`done.${outcome}.title`)}</h1>
  <p class="lead">${t.t(`done.${outcome}.body`)}</p>
</div>
<p class="center"><a class="button button-secondary" href="/device">${t.t(outcome === 'approved' || outcome === 'denied' ? 'done.another' : 'done.retry')}</a></p>`,
  };
}

/** 429: too many failed attempts; says how long to wait. */
export function renderRateLimited(input: { t: Translator; retryAfterMs: number; signIn?: boolean }): PageContent {
  const { t } = input;
  const wait = t.duration(input.retryAfterMs);
  return {
    title: t.t('limited.title'),
    body: html`${notice('error', t.t(input.signIn ? 'limited.signin' : 'limited.body', { wait }))}
<p><a class="button button-secondary" href="${input.signIn ? '/signin' : '/device'}">${t.t('limited.retry')}</a></p>`,
  };
}

/** A generic error page (bad CSRF token, malformed request). */
export function renderError(input: { t: Translator; message: string }): PageContent {
  const { t } = input;
  return {
    title: t.t('error.title'),
    body: html`${notice('error', input.message)}
<p><a class="button button-secondary" href="/device">${t.t('error.back')}</a></p>`,
  };
}

/** Sign-in with username and password; `returnTo` is a local path checked by the server. */
export function renderSignIn(input: { t: Translator; csrfToken: string; returnTo: string; username?: string; error?: string | undefined }): PageContent {
  const { t } = input;
  return {
    title: t.t('signin.title'),
    body: html`<p class="lead">${t.t('signin.lead')}</p>
${input.error ? notice('error', input.error, 'signin-error') : ''}
<form class="stack" method="post" action="/signin">
  ${csrfField(input.csrfToken)}
  <input type="hidden" name="return_to" value="${input.returnTo}">
  <div class="field">
    <label for="username">${t.t('signin.username')}</label>
    <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" autocorrect="off"
      spellcheck="false" maxlength="64" required value="${input.username ?? ''}"${input.username ? '' : html` autofocus`}>
  </div>
  <div class="field">
    <label for="password">${t.t('signin.password')}</label>
    <input id="password" name="password" type="password" autocomplete="current-password" maxlength="1024" required${input.username ? html` autofocus` : ''}>
  </div>
  <button class="button button-primary" type="submit">${t.t('signin.submit')}</button>
</form>`,
  };
}
