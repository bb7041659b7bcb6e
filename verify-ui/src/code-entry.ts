/** `/device`, the RFC 8628 verification_uri: the code-entry form and the check of a code that came in a link. */
import { html } from './html.js';
import type { Translator } from './i18n.js';
import { csrfField, notice, type PageContent } from './layout.js';

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
      value="${input.value ?? ''}" placeholder="BCDF-GHJKC">
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
