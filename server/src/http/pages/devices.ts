/** "My devices": the signed-in person's paired devices, renamed and revoked from the phone. */
import { Router, type Request, type Response } from 'express';
import type { Core } from '../../core/index.js';
import { renderDevices, renderRevokeConfirm } from '@kalm/verify-ui';
import { csrfToken } from './kit/csrf.js';
import { formValue } from './kit/form.js';
import { pageTranslator, renderPage } from './kit/render.js';
import { page, pageStack, requireCsrf } from './kit/route.js';
import { describeScope } from './kit/scopes.js';
import { currentUser, sessionData, updateSession } from './kit/session.js';
import { redirectToSignIn } from './kit/sign-in-redirect.js';

type Flash = { kind: 'success' | 'error'; text: string };

/**
 * "My devices": `GET /devices` lists the signed-in person's device grants;
 * `POST /devices/rename` and `POST /devices/revoke` take the grant id in the
 * form body (never in the URL). Revoking ends the refresh-token family at once
 * and publishes `revoked`, which the push channel forwards to the device.
 */
export function devicesRouter(core: Core): Router {
  const router = Router();
  const stack = pageStack(core);
  router.get('/devices', stack, page((req, res) => listDevices(core, req, res)));
  router.post('/devices/rename', stack, requireCsrf, page((req, res) => renameDevice(core, req, res)));
  router.post('/devices/revoke', stack, requireCsrf, page((req, res) => revokeDevice(core, req, res)));
  return router;
}

/** `GET /devices`, with the notice the last POST left (shown once). */
async function listDevices(core: Core, req: Request, res: Response): Promise<void> {
  const user = currentUser(req);
  if (!user) return redirectToSignIn(req, res, '/devices');
  const flash = sessionData<{ flash: Flash }>(req).flash;
  if (flash) await updateSession(req, { flash: undefined });
  const devices = (await core.pairedDevices.list(user.id)).map((d) => ({
    ...d,
    scopes: d.scopes.map((name) => describeScope(core, name)),
  }));
  const content = renderDevices({ t: pageTranslator(req), csrfToken: csrfToken(req), devices, now: core.clock.now(), flash });
  renderPage(req, res, content, 200, 'devices');
}

/** `POST /devices/rename`. */
async function renameDevice(core: Core, req: Request, res: Response): Promise<void> {
  const user = currentUser(req);
  if (!user) return redirectToSignIn(req, res, '/devices');
  const t = pageTranslator(req);
  const ok = await core.pairedDevices.rename(user.id, formValue(req, 'grant_id') ?? '', formValue(req, 'name') ?? '');
  await updateSession(req, { flash: ok ? { kind: 'success', text: t.t('devices.renamed') } : { kind: 'error', text: t.t('devices.notFound') } });
  res.redirect(303, '/devices');
}

/** `POST /devices/revoke`: a confirmation page first, then the revoke. */
async function revokeDevice(core: Core, req: Request, res: Response): Promise<void> {
  const user = currentUser(req);
  if (!user) return redirectToSignIn(req, res, '/devices');
  const t = pageTranslator(req);
  const grantId = formValue(req, 'grant_id') ?? '';
  const device = (await core.pairedDevices.list(user.id)).find((d) => d.grantId === grantId);
  if (device && formValue(req, 'confirm') !== 'yes') {
    // Revoking cannot be undone: one more explicit step (a page, so it works without JavaScript).
    const content = renderRevokeConfirm({ t, csrfToken: csrfToken(req), grantId, title: device.deviceName || device.clientName, clientName: device.clientName });
    return renderPage(req, res, content, 200, 'devices');
  }
  const ok = device !== undefined && (await core.pairedDevices.revoke(user.id, grantId, { ip: req.ip }));
  const text = ok ? t.t('devices.revoked', { device: device.deviceName || device.clientName }) : t.t('devices.notFound');
  await updateSession(req, { flash: { kind: ok ? 'success' : 'error', text } });
  res.redirect(303, '/devices');
}
