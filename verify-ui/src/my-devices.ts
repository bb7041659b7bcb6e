/** `/devices`, "My devices": the signed-in person's paired devices and the revoke confirmation. */
import { html } from './html.js';
import type { Translator } from './i18n.js';
import { csrfField, notice, type PageContent } from './layout.js';

/** One paired device as "My devices" shows it. */
export interface DeviceRow {
  grantId: string;
  clientName: string;
  deviceName: string | null;
  scopes: ReadonlyArray<{ name: string; description: string; permissions: readonly string[] }>;
  approvedAt: number;
  lastUsedAt: number | null;
  /** The user agent the device sent when it asked to be paired. */
  requestUserAgent?: string | null;
}

/** "My devices": every paired device with its scopes and times, a rename form and a revoke button. */
export function renderDevices(input: {
  t: Translator;
  csrfToken: string;
  devices: readonly DeviceRow[];
  now: number;
  flash?: { kind: 'success' | 'error'; text: string } | undefined;
}): PageContent {
  const { t, now } = input;
  const when = (ms: number) => html`<time datetime="${new Date(ms).toISOString()}" title="${t.dateTime(ms)}">${t.relative(ms, now)}</time>`;
  return {
    title: t.t('devices.title'),
    body: html`<p class="lead">${t.t('devices.lead')}</p>
${input.flash ? notice(input.flash.kind, input.flash.text) : ''}
${input.devices.length === 0
  ? html`<p class="empty">${t.t('devices.empty')}</p>`
  : html`<ul class="devices">
  ${input.devices.map((d, i) => {
    const title = d.deviceName || d.clientName;
    return html`<li class="device">
    <h2 class="device-title">${title}</h2>
    ${d.deviceName ? html`<p class="device-app">${d.clientName}</p>` : ''}
    <dl class="facts facts-compact">
      ${d.requestUserAgent ? html`<div class="fact"><dt>${t.t('consent.deviceType')}</dt><dd>${d.requestUserAgent}</dd></div>` : ''}
      <div class="fact"><dt>${t.t('devices.approved')}</dt><dd>${when(d.approvedAt)}</dd></div>
      <div class="fact"><dt>${t.t('devices.lastUsed')}</dt><dd>${d.lastUsedAt !== null && d.lastUsedAt !== d.approvedAt ? when(d.lastUsedAt) : t.t('devices.never')}</dd></div>
      <div class="fact"><dt>${t.t('devices.scopes')}</dt><dd><ul class="tags">${d.scopes.map((s) => html`<li class="tag" title="${s.name}">${t.scope(s).description}</li>`)}</ul></dd></div>
    </dl>
    <form class="rename" method="post" action="/devices/rename">
      ${csrfField(input.csrfToken)}
      <input type="hidden" name="grant_id" value="${d.grantId}">
      <label for="name-${i}">${t.t('devices.rename')}</label>
      <div class="inline">
        <input id="name-${i}" name="name" type="text" maxlength="60" value="${d.deviceName ?? ''}" placeholder="${d.clientName}">
        <button class="button button-secondary" type="submit">${t.t('devices.renameSubmit')}</button>
      </div>
    </form>
    ${revokeDeviceForm({ t, action: '/devices/revoke', csrfToken: input.csrfToken, grantId: d.grantId, title })}
  </li>`;
  })}
</ul>`}`,
  };
}

/** The Revoke button of one device, posting to `action` (My devices, or an admin's /admin/devices); `title` names the device to screen readers. */
export function revokeDeviceForm(input: { t: Translator; action: string; csrfToken: string; grantId: string; title: string }) {
  const { t } = input;
  return html`<form method="post" action="${input.action}">
      ${csrfField(input.csrfToken)}
      <input type="hidden" name="grant_id" value="${input.grantId}">
      <button class="button button-danger" type="submit" aria-label="${t.t('devices.revoke')}: ${input.title}">${t.t('devices.revoke')}</button>
    </form>`;
}

/** The confirmation before a revoke: revoking signs the device out at once and cannot be undone. */
export function renderRevokeConfirm(input: { t: Translator; csrfToken: string; grantId: string; title: string; clientName: string }): PageContent {
  const { t } = input;
  return {
    title: t.t('devices.confirmTitle', { device: input.title }),
    body: html`<p class="lead">${t.t('devices.confirmBody', { client: input.clientName })}</p>
<form class="actions" method="post" action="/devices/revoke">
  ${csrfField(input.csrfToken)}
  <input type="hidden" name="grant_id" value="${input.grantId}">
  <input type="hidden" name="confirm" value="yes">
  <button class="button button-danger-solid" type="submit">${t.t('devices.revoke')}</button>
  <a class="button button-secondary" href="/devices">${t.t('devices.cancel')}</a>
</form>`,
  };
}
