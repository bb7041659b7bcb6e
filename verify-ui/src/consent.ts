import { html, type SafeHtml } from './html.js';
import type { Translator } from './i18n.js';
import { csrfField } from './layout.js';

/** One requested scope as the catalogue describes it. */
export interface ConsentScope {
  name: string;
  description: string;
  permissions: readonly string[];
  /** Ticked when the page opens (default true). */
  checked?: boolean;
}

/** What the consent form shows and where it posts. Shared by the device flow and the authorization code flow. */
export interface ConsentInput {
  t: Translator;
  clientName: string;
  scopes: readonly ConsentScope[];
  /** Lines about the request, e.g. [{ label: 'Requested', value: '2 minutes ago' }]. */
  context: ReadonlyArray<{ label: string; value: string }>;
  /** Where the form posts (a local path). */
  action: string;
  /** Extra hidden fields posted back with the decision (never secrets: they are visible in the page). */
  hidden?: Readonly<Record<string, string>>;
  csrfToken: string;
  /** Plain-words warning above the buttons; the device flow's one by default, `false` for none. */
  warning?: { title: string; body: string } | false;
  /** An error to show above the form. */
  error?: string | undefined;
}

/**
 * The consent form: the app's name, context lines, every scope with its
 * description and permissions and its own checkbox (ticked by default), a
 * warning, and two buttons. Posts `scope` (repeated, one per ticked box),
 * `decision` = `approve` | `deny`, `csrf_token` and the hidden fields.
 * Unticking every box and approving must be treated as denying.
 */
export function renderConsent(input: ConsentInput): SafeHtml {
  const { t } = input;
  const warning = input.warning === undefined ? { title: t.t('consent.warningTitle'), body: t.t('consent.warning') } : input.warning;
  return html`<p class="lead">${t.t('consent.lead', { client: input.clientName })}</p>
${input.error ? html`<div class="notice notice-error" role="alert">${input.error}</div>` : ''}
${input.context.length > 0
  ? html`<dl class="facts">
  ${input.context.map((line) => html`<div class="fact"><dt>${line.label}</dt><dd>${line.value}</dd></div>`)}
</dl>`
  : ''}
<form class="consent" method="post" action="${input.action}">
  ${csrfField(input.csrfToken)}
  ${Object.entries(input.hidden ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
  <fieldset class="scopes">
    <legend>${t.t('consent.scopes')}</legend>
    <p class="hint" id="scopes-hint">${t.t('consent.scopesHint')}</p>
    ${input.scopes.map((scope, i) => {
      const text = t.scope(scope);
      const id = `scope-${i}`;
      return html`<div class="scope">
      <input class="scope-check" type="checkbox" name="scope" value="${scope.name}" id="${id}" aria-describedby="${id}-perms"${scope.checked === false ? '' : html` checked`}>
      <label class="scope-label" for="${id}">
        <span class="scope-title">${text.description}</span>
        <code class="scope-name">${scope.name}</code>
      </label>
      <div class="scope-perms" id="${id}-perms">
        <span class="visually-hidden">${t.t('consent.grants')}</span>
        <ul>${text.permissions.map((p) => html`<li>${p}</li>`)}</ul>
      </div>
    </div>`;
    })}
  </fieldset>
  ${warning
    ? html`<div class="notice notice-warning" role="note">
    <p class="notice-title">${warning.title}</p>
    <p>${warning.body}</p>
  </div>`
    : ''}
  <div class="actions">
    <button class="button button-primary" type="submit" name="decision" value="approve">${t.t('consent.approve')}</button>
    <button class="button button-secondary" type="submit" name="decision" value="deny">${t.t('consent.deny')}</button>
  </div>
</form>`;
}
