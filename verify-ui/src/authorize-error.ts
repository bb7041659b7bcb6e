/** `/authorize`'s error page, for a request that cannot be answered by redirect. */
import { html } from './html.js';
import type { Translator } from './i18n.js';
import { notice, type PageContent } from './layout.js';

/**
 * The page shown when an authorization request cannot be answered by redirect
 * (unknown client, missing or unregistered redirect_uri): RFC 6749 §4.1.2.1 forbids
 * sending the person on to an unverified address, so this page has no link to it.
 */
export function renderAuthorizeError(input: { t: Translator; description: string }): PageContent {
  const { t } = input;
  return {
    title: t.t('authorize.error.title'),
    body: html`${notice('error', t.t('authorize.error.body'))}
<dl class="facts">
  <div class="fact"><dt>${t.t('authorize.error.detail')}</dt><dd>${input.description}</dd></div>
</dl>
<p class="hint">${t.t('authorize.error.hint')}</p>`,
  };
}
