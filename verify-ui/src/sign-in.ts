/** `/signin`: the username and password form. */
import { html } from './html.js';
import type { Translator } from './i18n.js';
import { csrfField, notice, type PageContent } from './layout.js';

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
