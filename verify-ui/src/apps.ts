/** `/apps`: a developer's applications, the registration form, the one-time secret and the delete confirmation. */
import { html, type SafeHtml } from './html.js';
import type { MessageKey, Translator } from './i18n.js';
import { csrfField, notice, type PageContent } from './layout.js';

/** One registered application as `/apps` lists it. */
export interface AppRow {
  clientId: string;
  name: string;
  kind: string | undefined;
  confidential: boolean;
  redirectUris: readonly string[];
  grantTypes: readonly string[];
  scopes: readonly string[];
  createdAt: number;
  registeredVia: 'apps' | 'register' | undefined;
}

/** What the registration form offers and, after an error, what was typed. */
export interface AppFormInput {
  kinds: ReadonlyArray<{ value: string; confidential: boolean }>;
  grants: ReadonlyArray<{ value: string; label: string }>;
  scopes: ReadonlyArray<{ name: string; description: string; permissions: readonly string[] }>;
  values?: { name?: string; kind?: string; redirectUris?: string; grantTypes?: readonly string[]; scopes?: readonly string[] } | undefined;
}

/** `/apps`: the registration form and the account's applications, each with rotate and delete. */
export function renderApps(input: {
  t: Translator;
  csrfToken: string;
  apps: readonly AppRow[];
  form: AppFormInput;
  now: number;
  flash?: { kind: 'success' | 'error'; text: string } | undefined;
}): PageContent {
  const { t } = input;
  return {
    title: t.t('apps.title'),
    body: html`<p class="lead">${t.t('apps.lead')}</p>
${input.flash ? notice(input.flash.kind, input.flash.text) : ''}
<h2 class="section-title">${t.t('apps.yours')}</h2>
${input.apps.length === 0 ? html`<p class="empty">${t.t('apps.empty')}</p>` : html`<ul class="devices apps">${input.apps.map((app) => appItem(t, input.csrfToken, app, input.now))}</ul>`}
<h2 id="register" class="section-title">${t.t('apps.register')}</h2>
${appForm(t, input.csrfToken, input.form)}`,
  };
}

function appItem(t: Translator, csrfToken: string, app: AppRow, now: number): SafeHtml {
  return html`<li class="device app" data-client-id="${app.clientId}">
  <h3 class="device-title">${app.name}</h3>
  <dl class="facts facts-compact">
    <div class="fact"><dt>${t.t('apps.clientId')}</dt><dd><code class="client-id">${app.clientId}</code></dd></div>
    <div class="fact"><dt>${t.t('apps.type')}</dt><dd>${app.kind ? kindLabel(t, app.kind) : '—'} · ${app.confidential ? t.t('apps.confidential') : t.t('apps.public')}</dd></div>
    <div class="fact"><dt>${t.t('apps.grants')}</dt><dd><ul class="tags">${app.grantTypes.map((g) => html`<li class="tag">${grantLabel(g)}</li>`)}</ul></dd></div>
    <div class="fact"><dt>${t.t('apps.scopes')}</dt><dd><ul class="tags">${app.scopes.map((s) => html`<li class="tag">${s}</li>`)}</ul></dd></div>
    ${app.redirectUris.length > 0 ? html`<div class="fact"><dt>${t.t('apps.redirectUris')}</dt><dd><ul>${app.redirectUris.map((u) => html`<li><code>${u}</code></li>`)}</ul></dd></div>` : ''}
    <div class="fact"><dt>${t.t('apps.created')}</dt><dd><time datetime="${new Date(app.createdAt).toISOString()}">${t.relative(app.createdAt, now)}</time>${app.registeredVia === 'register' ? html` · ${t.t('apps.viaRegister')}` : ''}</dd></div>
  </dl>
  <div class="actions">
    ${app.confidential
      ? html`<form method="post" action="/apps/rotate">${csrfField(csrfToken)}<input type="hidden" name="client_id" value="${app.clientId}"><button class="button button-secondary" type="submit" aria-label="${t.t('apps.rotate')}: ${app.name}">${t.t('apps.rotate')}</button></form>`
      : ''}
    <form method="post" action="/apps/delete">${csrfField(csrfToken)}<input type="hidden" name="client_id" value="${app.clientId}"><button class="button button-danger" type="submit" aria-label="${t.t('apps.delete')}: ${app.name}">${t.t('apps.delete')}</button></form>
  </div>
</li>`;
}

const KIND_LABELS: Record<string, MessageKey> = {
  spa: 'apps.kind.spa',
  mobile: 'apps.kind.mobile',
  cli: 'apps.kind.cli',
  tv: 'apps.kind.tv',
  server: 'apps.kind.server',
};

function kindLabel(t: Translator, kind: string): string {
  const key = KIND_LABELS[kind];
  return key ? t.t(key) : kind;
}

/** RFC 7591 spells the device grant as a URN; the form shows its short name. */
function grantLabel(grant: string): string {
  return grant === 'urn:ietf:params:oauth:grant-type:device_code' ? 'device_code' : grant;
}

function appForm(t: Translator, csrfToken: string, form: AppFormInput): SafeHtml {
  const v = form.values ?? {};
  const kind = v.kind ?? 'spa';
  const grants = v.grantTypes ?? ['authorization_code', 'refresh_token'];
  const scopes = v.scopes ?? [];
  return html`<form class="stack app-form" method="post" action="/apps">
  ${csrfField(csrfToken)}
  <div class="field">
    <label for="app-name">${t.t('apps.name')}</label>
    <input id="app-name" name="name" type="text" maxlength="100" required value="${v.name ?? ''}">
  </div>
  <fieldset class="field">
    <legend>${t.t('apps.type')}</legend>
    ${form.kinds.map((k) => html`<div class="choice"><input type="radio" name="kind" id="kind-${k.value}" value="${k.value}"${k.value === kind ? html` checked` : ''}>
      <label for="kind-${k.value}">${kindLabel(t, k.value)} <span class="hint">(${k.confidential ? t.t('apps.confidential') : t.t('apps.public')})</span></label></div>`)}
  </fieldset>
  <div class="field">
    <label for="app-redirects">${t.t('apps.redirectUris')}</label>
    <p class="hint" id="redirects-hint">${t.t('apps.redirectUrisHint')}</p>
    <textarea id="app-redirects" name="redirect_uris" rows="3" aria-describedby="redirects-hint">${v.redirectUris ?? ''}</textarea>
  </div>
  <fieldset class="field">
    <legend>${t.t('apps.grants')}</legend>
    ${form.grants.map((g) => html`<div class="choice"><input type="checkbox" name="grant_type" id="grant-${g.label}" value="${g.value}"${grants.includes(g.value) || grants.includes(g.label) ? html` checked` : ''}>
      <label for="grant-${g.label}"><code>${g.label}</code></label></div>`)}
  </fieldset>
  <fieldset class="field scopes">
    <legend>${t.t('apps.scopes')}</legend>
    ${form.scopes.map((s) => html`<div class="scope"><input class="scope-check" type="checkbox" name="scope" id="app-scope-${s.name}" value="${s.name}"${scopes.includes(s.name) ? html` checked` : ''}>
      <label class="scope-label" for="app-scope-${s.name}"><span class="scope-title">${t.scope(s).description}</span> <code class="scope-name">${s.name}</code></label></div>`)}
  </fieldset>
  <div class="actions"><button class="button button-primary" type="submit">${t.t('apps.create')}</button></div>
</form>`;
}

/** The one and only time a client secret is shown: after registration or rotation. */
export function renderAppSecret(input: { t: Translator; name: string; clientId: string; clientSecret?: string | undefined; rotated?: boolean }): PageContent {
  const { t } = input;
  return {
    title: input.rotated ? t.t('apps.rotated.title') : t.t('apps.created.title'),
    body: html`<p class="lead">${input.rotated ? t.t('apps.rotated.lead', { name: input.name }) : t.t('apps.created.lead', { name: input.name })}</p>
<dl class="facts">
  <div class="fact"><dt>${t.t('apps.clientId')}</dt><dd><code id="client-id">${input.clientId}</code></dd></div>
  ${input.clientSecret ? html`<div class="fact"><dt>${t.t('apps.clientSecret')}</dt><dd><code id="client-secret">${input.clientSecret}</code></dd></div>` : ''}
</dl>
${input.clientSecret ? notice('info', t.t('apps.secretOnce')) : ''}
<p><a class="button button-secondary" href="/apps">${t.t('apps.back')}</a></p>`,
  };
}

/** Deleting revokes every token of the application: ask once more. */
export function renderAppDeleteConfirm(input: { t: Translator; csrfToken: string; name: string; clientId: string }): PageContent {
  const { t } = input;
  return {
    title: t.t('apps.deleteConfirm.title', { name: input.name }),
    body: html`${notice('error', t.t('apps.deleteConfirm.body'))}
<form method="post" action="/apps/delete" class="actions">
  ${csrfField(input.csrfToken)}
  <input type="hidden" name="client_id" value="${input.clientId}">
  <input type="hidden" name="confirm" value="yes">
  <button class="button button-danger" type="submit">${t.t('apps.deleteConfirm.yes')}</button>
  <a class="button button-secondary" href="/apps">${t.t('apps.back')}</a>
</form>`,
  };
}

/** An account without the developer role. */
export function renderAppsForbidden(input: { t: Translator }): PageContent {
  return { title: input.t.t('apps.title'), body: notice('error', input.t.t('apps.forbidden')) };
}
