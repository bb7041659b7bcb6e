/**
 * `/admin`, the operator's dashboard: the device flows of the last hour and of today, two charts
 * (flows per minute over 24 h, approvals and denials per client), the recent audit events and the
 * links to manage devices, clients and users; `/admin/devices`, where an admin revokes anyone's
 * paired device; and `/admin/users`, every account, disabled or enabled there. Functions from data to HTML, like every page here; the charts are charts.ts.
 */
import { columnChart, groupedBarChart } from './charts.js';
import { html, type SafeHtml } from './html.js';
import type { MessageKey, Translator } from './i18n.js';
import { csrfField, notice, type PageContent } from './layout.js';
import { revokeDeviceForm } from './my-devices.js';

/** Device flows in one window, as core's dashboard counts them. */
export interface AdminWindow {
  requested: number;
  approved: number;
  denied: number;
  expired: number;
  medianApprovalMs: number | null;
  rateLimited: { device: number; signin: number };
}

/** One minute of the flow chart. */
export interface AdminMinute {
  minute: number;
  requested: number;
  approved: number;
  denied: number;
  expired: number;
}

/** One client's line: decisions over the last 24 h and live paired devices. */
export interface AdminClientRow {
  clientId: string;
  clientName: string | null;
  approved: number;
  denied: number;
  activeDevices: number;
}

/** One audit event as the dashboard lists it (already free of secrets: the audit trail keeps none). */
export interface AdminEventRow {
  at: number;
  type: string;
  /** Who did it: a username, a client id, `cli`, `system`. */
  actor: string | null;
  /** The person it is about (who approved, whose device), by username where known. */
  user: string | null;
  clientId: string | null;
  address: string | null;
}

export interface AdminDashboardInput {
  t: Translator;
  now: number;
  lastHour: AdminWindow;
  today: AdminWindow;
  perMinute: readonly AdminMinute[];
  clients: readonly AdminClientRow[];
  /** The newest audit events, newest first. */
  events: readonly AdminEventRow[];
}

/** The links every admin page starts with. */
function adminNav(t: Translator, current: 'dashboard' | 'devices' | 'users'): SafeHtml {
  const link = (href: string, label: string, here: boolean) => html`<a class="nav-link" href="${href}"${here ? html` aria-current="page"` : ''}>${label}</a>`;
  return html`<nav class="admin-nav" aria-label="${t.t('admin.nav')}">
  ${link('/admin', t.t('admin.title'), current === 'dashboard')}
  ${link('/admin/devices', t.t('admin.devices.title'), current === 'devices')}
  ${link('/admin/users', t.t('admin.users.title'), current === 'users')}
  ${link('/admin#clients', t.t('admin.clients.title'), false)}
  ${link('/admin#events', t.t('admin.events.title'), false)}
</nav>`;
}

const FIGURES: ReadonlyArray<{ key: string; label: MessageKey; value: (w: AdminWindow, t: Translator) => string }> = [
  { key: 'requested', label: 'admin.figure.requested', value: (w) => String(w.requested) },
  { key: 'approved', label: 'admin.figure.approved', value: (w) => String(w.approved) },
  { key: 'denied', label: 'admin.figure.denied', value: (w) => String(w.denied) },
  { key: 'expired', label: 'admin.figure.expired', value: (w) => String(w.expired) },
  { key: 'median', label: 'admin.figure.median', value: (w, t) => approvalTime(t, w.medianApprovalMs) },
  { key: 'limited-device', label: 'admin.figure.limitedDevice', value: (w) => String(w.rateLimited.device) },
  { key: 'limited-signin', label: 'admin.figure.limitedSignin', value: (w) => String(w.rateLimited.signin) },
];

/** `/admin`: figures, charts, clients, recent events. */
export function renderAdminDashboard(input: AdminDashboardInput): PageContent {
  const { t } = input;
  return {
    title: t.t('admin.title'),
    body: html`<div class="admin">
${adminNav(t, 'dashboard')}
<p class="lead">${t.t('admin.lead', { time: t.dateTime(input.now) })}</p>
<section class="admin-section admin-half" aria-labelledby="figures-title">
  <h2 id="figures-title" class="section-title">${t.t('admin.figures.title')}</h2>
  <div class="table-scroll">
  <table class="figures">
    <thead><tr><td></td><th scope="col">${t.t('admin.window.hour')}</th><th scope="col">${t.t('admin.window.today')}</th></tr></thead>
    <tbody>
    ${FIGURES.map(
      (f) => html`<tr><th scope="row">${t.t(f.label)}</th><td data-figure="${f.key}" data-window="hour">${f.value(input.lastHour, t)}</td><td data-figure="${f.key}" data-window="today">${f.value(input.today, t)}</td></tr>`,
    )}
    </tbody>
  </table>
  </div>
  <p class="hint">${t.t('admin.figures.hint')}</p>
</section>
<section class="admin-section admin-half" aria-labelledby="flows-title">
  <h2 id="flows-title" class="section-title">${t.t('admin.flows.title')}</h2>
  ${flowChart(t, input.perMinute)}
</section>
<section class="admin-section" id="clients" aria-labelledby="clients-title">
  <h2 id="clients-title" class="section-title">${t.t('admin.clients.title')}</h2>
  ${clientSection(t, input.clients)}
</section>
<section class="admin-section" id="events" aria-labelledby="events-title">
  <h2 id="events-title" class="section-title">${t.t('admin.events.title')}</h2>
  ${eventSection(t, input.events)}
</section>
</div>`,
  };
}

function hhmm(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

/** Device authorizations per minute; each bar's title tells the minute's outcomes too. */
function flowChart(t: Translator, minutes: readonly AdminMinute[]): SafeHtml {
  const total = minutes.reduce((n, m) => n + m.requested, 0);
  const peak = Math.max(0, ...minutes.map((m) => m.requested));
  return columnChart({
    label: t.t('admin.flows.label', { total, peak }),
    yAxisLabel: t.t('admin.flows.yAxis'),
    xAxisLabel: t.t('admin.flows.xAxis'),
    bars: minutes.map((m) => ({ value: m.requested, title: t.t('admin.flows.bar', { time: hhmm(m.minute), ...m }) })),
    // A label every three hours of UTC; on a phone every six.
    ticks: minutes.flatMap((m, index) =>
      m.minute % (3 * 3_600_000) === 0 ? [{ index, text: hhmm(m.minute), minor: m.minute % (6 * 3_600_000) !== 0 }] : [],
    ),
  });
}

// The chart names at most this many clients (the busiest); the table lists every one.
const CHART_CLIENTS = 10;

function clientSection(t: Translator, clients: readonly AdminClientRow[]): SafeHtml {
  if (clients.length === 0) return html`<p class="empty">${t.t('admin.clients.empty')}</p>`;
  const name = (c: AdminClientRow) => c.clientName ?? t.t('admin.clients.deleted', { id: c.clientId });
  const decided = clients.filter((c) => c.approved + c.denied > 0).sort((a, b) => b.approved + b.denied - (a.approved + a.denied));
  const chart =
    decided.length === 0
      ? html`<p class="empty">${t.t('admin.decisions.empty')}</p>`
      : groupedBarChart({
          label: t.t('admin.decisions.label', { clients: Math.min(decided.length, CHART_CLIENTS) }),
          valueAxisLabel: t.t('admin.decisions.axis'),
          series: [
            { name: t.t('admin.figure.approved'), className: 'chart-approved' },
            { name: t.t('admin.figure.denied'), className: 'chart-denied' },
          ],
          groups: decided.slice(0, CHART_CLIENTS).map((c) => ({
            name: shorten(name(c), 48),
            bars: [
              { value: c.approved, title: t.t('admin.decisions.approved', { client: name(c), count: c.approved }) },
              { value: c.denied, title: t.t('admin.decisions.denied', { client: name(c), count: c.denied }) },
            ],
          })),
        });
  return html`<h3 class="subsection-title">${t.t('admin.decisions.title')}</h3>
${chart}
<div class="table-scroll">
<table class="admin-table clients-table">
  <thead><tr><th scope="col">${t.t('admin.clients.client')}</th><th scope="col" class="num">${t.t('admin.clients.devices')}</th><th scope="col" class="num">${t.t('admin.figure.approved')}</th><th scope="col" class="num">${t.t('admin.figure.denied')}</th></tr></thead>
  <tbody>
  ${clients.map(
    (c) => html`<tr data-client-id="${c.clientId}"><th scope="row">${name(c)}<br><code class="client-id">${c.clientId}</code></th>
    <td class="num" data-figure="devices">${c.activeDevices > 0 ? html`<a href="/admin/devices?client=${encodeURIComponent(c.clientId)}">${c.activeDevices}</a>` : '0'}</td>
    <td class="num" data-figure="approved">${c.approved}</td><td class="num" data-figure="denied">${c.denied}</td></tr>`,
  )}
  </tbody>
</table>
</div>
<p class="hint">${t.t('admin.clients.hint')}</p>`;
}

function eventSection(t: Translator, events: readonly AdminEventRow[]): SafeHtml {
  if (events.length === 0) return html`<p class="empty">${t.t('admin.events.empty')}</p>`;
  return html`<div class="table-scroll">
<table class="admin-table events-table">
  <thead><tr><th scope="col">${t.t('admin.events.time')}</th><th scope="col">${t.t('admin.events.type')}</th><th scope="col">${t.t('admin.events.actor')}</th><th scope="col">${t.t('admin.devices.user')}</th><th scope="col">${t.t('admin.clients.client')}</th><th scope="col">${t.t('admin.events.address')}</th></tr></thead>
  <tbody>
  ${events.map(
    // data-label: on a phone each row is a block and the cells name themselves (styles.css).
    (e) => html`<tr><td><time datetime="${new Date(e.at).toISOString()}">${t.dateTime(e.at)}</time></td><td><code>${e.type}</code></td>
    <td data-label="${t.t('admin.events.actor')}">${e.actor ?? '—'}</td><td data-label="${t.t('admin.devices.user')}">${e.user ?? '—'}</td>
    <td data-label="${t.t('admin.clients.client')}">${e.clientId ? html`<code>${e.clientId}</code>` : '—'}</td><td data-label="${t.t('admin.events.address')}">${e.address ?? '—'}</td></tr>`,
  )}
  </tbody>
</table>
</div>
<p class="hint">${t.t('admin.events.hint', { count: events.length })}</p>`;
}

/** A paired device as the operator's list shows it. */
export interface AdminDeviceRow {
  grantId: string;
  clientId: string;
  clientName: string;
  deviceName: string | null;
  username: string | null;
  userId: string | null;
  approvedAt: number;
  lastUsedAt: number | null;
  requestIp: string | null;
}

/** `/admin/devices`: every live paired device (of one user or client when filtered), each with a revoke button. */
export function renderAdminDevices(input: {
  t: Translator;
  csrfToken: string;
  now: number;
  devices: readonly AdminDeviceRow[];
  filter: { user?: string | undefined; client?: string | undefined };
  flash?: { kind: 'success' | 'error'; text: string } | undefined;
}): PageContent {
  const { t, now } = input;
  const when = (ms: number) => html`<time datetime="${new Date(ms).toISOString()}" title="${t.dateTime(ms)}">${t.relative(ms, now)}</time>`;
  const filtered = input.filter.user !== undefined || input.filter.client !== undefined;
  return {
    title: t.t('admin.devices.title'),
    body: html`<div class="admin">
${adminNav(t, 'devices')}
${input.flash ? notice(input.flash.kind, input.flash.text) : ''}
<form class="admin-filter" method="get" action="/admin/devices">
  <div class="field"><label for="filter-user">${t.t('admin.devices.user')}</label><input id="filter-user" name="user" type="text" maxlength="64" value="${input.filter.user ?? ''}"></div>
  <div class="field"><label for="filter-client">${t.t('admin.clients.client')}</label><input id="filter-client" name="client" type="text" maxlength="64" value="${input.filter.client ?? ''}"></div>
  <div class="admin-filter-actions"><button class="button button-secondary" type="submit">${t.t('admin.devices.filter')}</button>${filtered ? html` <a href="/admin/devices">${t.t('admin.devices.all')}</a>` : ''}</div>
</form>
<p class="hint" role="status">${t.t('admin.devices.count', { count: input.devices.length })}</p>
${input.devices.length === 0
  ? html`<p class="empty">${t.t('admin.devices.empty')}</p>`
  : html`<ul class="devices admin-devices">
  ${input.devices.map((d) => {
    const title = d.deviceName || d.clientName;
    return html`<li class="device" data-grant-id="${d.grantId}">
    <h2 class="device-title">${title}</h2>
    <dl class="facts facts-compact">
      <div class="fact"><dt>${t.t('admin.devices.user')}</dt><dd>${d.username ?? d.userId ?? '—'}</dd></div>
      <div class="fact"><dt>${t.t('admin.clients.client')}</dt><dd>${d.clientName} <code class="client-id">${d.clientId}</code></dd></div>
      <div class="fact"><dt>${t.t('devices.approved')}</dt><dd>${when(d.approvedAt)}</dd></div>
      <div class="fact"><dt>${t.t('devices.lastUsed')}</dt><dd>${d.lastUsedAt !== null && d.lastUsedAt !== d.approvedAt ? when(d.lastUsedAt) : t.t('devices.never')}</dd></div>
      ${d.requestIp ? html`<div class="fact"><dt>${t.t('admin.events.address')}</dt><dd>${d.requestIp}</dd></div>` : ''}
    </dl>
    ${revokeDeviceForm({ t, action: '/admin/devices/revoke', csrfToken: input.csrfToken, grantId: d.grantId, title })}
  </li>`;
  })}
</ul>`}
</div>`,
  };
}

/** The confirmation before an admin revokes someone's device. */
export function renderAdminRevokeConfirm(input: { t: Translator; csrfToken: string; grantId: string; title: string; username: string; clientName: string }): PageContent {
  const { t } = input;
  return {
    title: t.t('devices.confirmTitle', { device: input.title }),
    body: html`<p class="lead">${t.t('admin.devices.confirmBody', { user: input.username, client: input.clientName })}</p>
<form class="actions" method="post" action="/admin/devices/revoke">
  ${csrfField(input.csrfToken)}
  <input type="hidden" name="grant_id" value="${input.grantId}">
  <input type="hidden" name="confirm" value="yes">
  <button class="button button-danger-solid" type="submit">${t.t('devices.revoke')}</button>
  <a class="button button-secondary" href="/admin/devices">${t.t('admin.devices.cancel')}</a>
</form>`,
  };
}

/** An account as the operator's list shows it. */
export interface AdminUserRow {
  id: string;
  username: string;
  role: string;
  createdAt: number;
  disabled: boolean;
}

/** `/admin/users`: every account, a link to its devices, and disable / enable (not for one's own). */
export function renderAdminUsers(input: {
  t: Translator;
  csrfToken: string;
  now: number;
  /** The signed-in admin, who may not disable themselves here. */
  selfId: string;
  users: readonly AdminUserRow[];
  flash?: { kind: 'success' | 'error'; text: string } | undefined;
}): PageContent {
  const { t } = input;
  const toggle = (u: AdminUserRow) =>
    u.id === input.selfId
      ? ''
      : html`<form method="post" action="/admin/users/disable">${csrfField(input.csrfToken)}<input type="hidden" name="user_id" value="${u.id}"><input type="hidden" name="disabled" value="${u.disabled ? 'no' : 'yes'}"><button class="link-button" type="submit" aria-label="${u.disabled ? t.t('admin.users.enable') : t.t('admin.users.disable')}: ${u.username}">${u.disabled ? t.t('admin.users.enable') : t.t('admin.users.disable')}</button></form>`;
  return {
    title: t.t('admin.users.title'),
    body: html`<div class="admin">
${adminNav(t, 'users')}
${input.flash ? notice(input.flash.kind, input.flash.text) : ''}
<section class="admin-section">
<div class="table-scroll">
<table class="admin-table users-table">
  <thead><tr><th scope="col">${t.t('admin.devices.user')}</th><th scope="col">${t.t('admin.users.role')}</th><th scope="col">${t.t('admin.users.status')}</th><th scope="col">${t.t('admin.users.created')}</th><th scope="col"><span class="visually-hidden">${t.t('admin.users.actions')}</span></th></tr></thead>
  <tbody>
  ${input.users.map(
    (u) => html`<tr data-user-id="${u.id}"><th scope="row">${u.username}</th><td>${u.role}</td>
    <td data-status="${u.disabled ? 'disabled' : 'active'}">${u.disabled ? t.t('admin.users.disabled') : t.t('admin.users.active')}</td>
    <td><time datetime="${new Date(u.createdAt).toISOString()}">${t.relative(u.createdAt, input.now)}</time></td>
    <td class="row-actions"><a href="/admin/devices?user=${encodeURIComponent(u.username)}">${t.t('admin.devices.title')}</a>${toggle(u)}</td></tr>`,
  )}
  </tbody>
</table>
</div>
<p class="hint">${t.t('admin.users.hint')}</p>
</section>
</div>`,
  };
}

/** Signed in, but not an admin account: the 403 page. */
export function renderAdminForbidden(input: { t: Translator }): PageContent {
  return { title: input.t.t('admin.title'), body: notice('error', input.t.t('admin.forbidden')) };
}

/** "42 s", "3.5 min", "1.2 h" in the page's language; "—" when nothing was approved. */
export function approvalTime(t: Translator, ms: number | null): string {
  if (ms === null) return '—';
  const unit = (value: number, u: 'second' | 'minute' | 'hour') =>
    new Intl.NumberFormat(t.locale, { style: 'unit', unit: u, unitDisplay: 'short', maximumFractionDigits: u === 'second' ? 0 : 1 }).format(value);
  if (ms < 60_000) return unit(ms / 1000, 'second');
  if (ms < 3_600_000) return unit(ms / 60_000, 'minute');
  return unit(ms / 3_600_000, 'hour');
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
