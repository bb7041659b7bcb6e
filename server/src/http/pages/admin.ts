/** The operator's pages: the `/admin` dashboard and `/admin/devices`, for `admin` accounts only. */
import { Router, type Request, type Response } from 'express';
import type { Core } from '../../core/index.js';
import type { UserRecord } from '../../store/port/index.js';
import { renderAdminDashboard, renderAdminDevices, renderAdminForbidden, renderAdminRevokeConfirm, renderAdminUsers, renderError } from '@kalm/verify-ui';
import { NotFoundError } from '../../core/errors.js';
import { csrfToken } from './kit/csrf.js';
import { formValue } from './kit/form.js';
import { pageTranslator, renderPage } from './kit/render.js';
import { page, pageStack, requireCsrf } from './kit/route.js';
import { currentAccount, currentUser, sessionData, updateSession } from './kit/session.js';
import { redirectToSignIn } from './kit/sign-in-redirect.js';

type Flash = { kind: 'success' | 'error'; text: string };

/** Audit events the dashboard lists; `kalm audit` shows the rest. */
const RECENT_EVENTS = 20;

/**
 * `GET /admin`: the dashboard (figures, inline SVG charts, clients, recent audit events);
 * `GET /admin/devices` lists every paired device (`?user=` username or id, `?client=` client id);
 * `POST /admin/devices/revoke` revokes one after a confirmation page, and the device hears
 * `revoked` on push as from My devices; `GET /admin/users` lists every account and
 * `POST /admin/users/disable` disables or enables one. Signed out: to sign-in; signed in without the admin
 * role: 403. The role is read on every request (by the session middleware, the same read the
 * header's links come from), so a demoted account loses the pages at once. Every admin page
 * marks the header's "Admin" link as the current page.
 */
export function adminRouter(core: Core): Router {
  const router = Router();
  const stack = pageStack(core);
  router.get('/admin', stack, page((req, res) => showDashboard(core, req, res)));
  router.get('/admin/devices', stack, page((req, res) => listDevices(core, req, res)));
  router.post('/admin/devices/revoke', stack, requireCsrf, page((req, res) => revokeDevice(core, req, res)));
  router.get('/admin/users', stack, page((req, res) => listUsers(core, req, res)));
  router.post('/admin/users/disable', stack, requireCsrf, page((req, res) => disableUser(core, req, res)));
  return router;
}

/** The signed-in admin (as the session middleware read the account), or undefined when the response (sign-in redirect or 403 page) is sent. */
function admin(req: Request, res: Response, returnTo: string): UserRecord | undefined {
  if (!currentUser(req)) {
    redirectToSignIn(req, res, returnTo);
    return undefined;
  }
  const user = currentAccount(req);
  if (user?.role !== 'admin') {
    renderPage(req, res, renderAdminForbidden({ t: pageTranslator(req) }), 403);
    return undefined;
  }
  return user;
}

/** `GET /admin`. */
async function showDashboard(core: Core, req: Request, res: Response): Promise<void> {
  if (!admin(req, res, '/admin')) return;
  const [snapshot, events] = await Promise.all([core.dashboard.snapshot(), core.audit.recent({ limit: RECENT_EVENTS })]);
  const content = renderAdminDashboard({
    t: pageTranslator(req),
    now: snapshot.at,
    lastHour: snapshot.lastHour,
    today: snapshot.today,
    perMinute: snapshot.perMinute,
    clients: snapshot.clients,
    events: events.map((e) => ({
      at: e.at,
      type: e.type,
      actor: e.actorName ?? e.actorId ?? e.actorType,
      user: e.username ?? e.userId,
      clientId: e.clientId,
      address: e.ip,
    })),
  });
  renderPage(req, res, content, 200, 'admin');
}

/** A query parameter as one short string, or undefined. */
function queryValue(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === 'string' && value.trim() !== '' && value.length <= 64 ? value.trim() : undefined;
}

/** `GET /admin/devices`, with the notice the last revoke left (shown once). */
async function listDevices(core: Core, req: Request, res: Response): Promise<void> {
  if (!admin(req, res, '/admin/devices')) return;
  const t = pageTranslator(req);
  let flash = sessionData<{ adminFlash: Flash }>(req).adminFlash;
  if (flash) await updateSession(req, { adminFlash: undefined });
  const filter = { user: queryValue(req, 'user'), client: queryValue(req, 'client') };
  // A username (or, failing that, an account id) names the user.
  const user = filter.user === undefined ? undefined : ((await core.users.getByUsername(filter.user)) ?? (await core.users.get(filter.user)));
  let devices: Awaited<ReturnType<Core['pairedDevices']['listAll']>> = [];
  if (filter.user !== undefined && !user) flash ??= { kind: 'error', text: t.t('admin.devices.noUser', { user: filter.user }) };
  else devices = await core.pairedDevices.listAll({ ...(user && { userId: user.id }), ...(filter.client !== undefined && { clientId: filter.client }) });
  renderPage(req, res, renderAdminDevices({ t, csrfToken: csrfToken(req), now: core.clock.now(), devices, filter, flash }), 200, 'admin');
}

/** `POST /admin/devices/revoke`: a confirmation page first, then the revoke and back to the list. */
async function revokeDevice(core: Core, req: Request, res: Response): Promise<void> {
  const self = admin(req, res, '/admin/devices');
  if (!self) return;
  const t = pageTranslator(req);
  const grantId = formValue(req, 'grant_id') ?? '';
  const device = await core.pairedDevices.find(grantId);
  const title = device ? device.deviceName || device.clientName : '';
  const owner = device ? (device.username ?? device.userId ?? '—') : '';
  if (device && formValue(req, 'confirm') !== 'yes') {
    const content = renderAdminRevokeConfirm({ t, csrfToken: csrfToken(req), grantId, title, username: owner, clientName: device.clientName });
    return renderPage(req, res, content, 200, 'admin');
  }
  // revokeAny publishes `revoked`: the push hub tells the device, here and on every other process.
  // The audit trail records it as `grant.revoked` by the admin, from this address.
  const actor = { type: 'user' as const, id: self.id, name: self.username };
  const ok = device !== undefined && (await core.pairedDevices.revokeAny(grantId, { actor, ip: req.ip }));
  const text = ok ? t.t('admin.devices.revoked', { device: title, user: owner }) : t.t('admin.devices.notFound');
  await backTo(req, res, '/admin/devices', { kind: ok ? 'success' : 'error', text });
}

/** Flash the notice of a POST and go back to the page it came from (post/redirect/get). */
async function backTo(req: Request, res: Response, path: string, flash: Flash): Promise<void> {
  await updateSession(req, { adminFlash: flash });
  res.redirect(303, path);
}

/** `GET /admin/users`. */
async function listUsers(core: Core, req: Request, res: Response): Promise<void> {
  const self = admin(req, res, '/admin/users');
  if (!self) return;
  const flash = sessionData<{ adminFlash: Flash }>(req).adminFlash;
  if (flash) await updateSession(req, { adminFlash: undefined });
  const users = (await core.users.list()).map((u) => ({ id: u.id, username: u.username, role: u.role, createdAt: u.createdAt, disabled: u.disabledAt != null }));
  renderPage(req, res, renderAdminUsers({ t: pageTranslator(req), csrfToken: csrfToken(req), now: core.clock.now(), selfId: self.id, users, flash }), 200, 'admin');
}

/** `POST /admin/users/disable` with `disabled=yes|no`: an admin never disables their own account here. */
async function disableUser(core: Core, req: Request, res: Response): Promise<void> {
  const self = admin(req, res, '/admin/users');
  if (!self) return;
  const t = pageTranslator(req);
  const userId = formValue(req, 'user_id') ?? '';
  const disabled = formValue(req, 'disabled');
  if (disabled !== 'yes' && disabled !== 'no') return renderPage(req, res, renderError({ t, message: t.t('error.badRequest') }), 400, 'admin');
  // Locking oneself out takes the CLI (kalm user disable), not a click.
  if (userId === self.id) return backTo(req, res, '/admin/users', { kind: 'error', text: t.t('admin.users.notSelf') });
  try {
    const { user } = await core.users.setDisabled(userId, disabled === 'yes');
    await backTo(req, res, '/admin/users', { kind: 'success', text: t.t(disabled === 'yes' ? 'admin.users.disabledNow' : 'admin.users.enabledNow', { user: user.username }) });
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    await backTo(req, res, '/admin/users', { kind: 'error', text: t.t('admin.users.notFound') });
  }
}
