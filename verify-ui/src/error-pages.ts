/** The error pages every flow shares: the rate-limit wait and the generic error. */
import { html } from './html.js';
import type { Translator } from './i18n.js';
import { notice, type PageContent } from './layout.js';

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
