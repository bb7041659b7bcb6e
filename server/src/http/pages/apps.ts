/** "Create OAuth Application": the `/apps` pages where a developer registers and manages clients. */
import { Router, type Request, type Response } from 'express';
import { APPLICATION_KINDS, type ApplicationInput } from '../../core/applications.js';
import { GRANT_ALIASES, GRANT_TYPES } from '../../core/clients.js';
import { OAuthError } from '../../core/errors.js';
import type { Core } from '../../core/index.js';
import type { ApplicationKind, UserRecord } from '../../store/port/index.js';
import { httpStatus } from '../oauth-errors.js';
import {
  renderAppDeleteConfirm,
  renderApps,
  renderAppSecret,
  renderAppsForbidden,
  type AppFormInput,
} from '@kalm/verify-ui';
import { csrfToken } from './kit/csrf.js';
import { formList, formValue } from './kit/form.js';
import { pageTranslator, renderPage } from './kit/render.js';
import { page, pageStack, requireCsrf } from './kit/route.js';
import { currentUser, sessionData, updateSession } from './kit/session.js';
import { redirectToSignIn } from './kit/sign-in-redirect.js';

const GRANT_CHOICES = [
  { value: GRANT_TYPES.authorizationCode, label: 'authorization_code' },
  { value: GRANT_TYPES.refreshToken, label: 'refresh_token' },
  { value: GRANT_TYPES.clientCredentials, label: 'client_credentials' },
  { value: GRANT_TYPES.deviceCode, label: 'device_code' },
];

type Flash = { kind: 'success' | 'error'; text: string };

/**
 * "Create OAuth Application": `GET /apps` lists the signed-in developer's applications and
 * offers the registration form; `POST /apps` registers, `POST /apps/rotate` makes a new
 * secret, `POST /apps/delete` deletes (after a confirmation). A secret appears in exactly one
 * response, the one that created it; only its hash is kept.
 */
export function appsRouter(core: Core): Router {
  const router = Router();
  const stack = pageStack(core);
  router.get('/apps', stack, page((req, res) => listApps(core, req, res)));
  router.post('/apps', stack, requireCsrf, page((req, res) => registerApp(core, req, res)));
  router.post('/apps/rotate', stack, requireCsrf, page((req, res) => rotateAppSecret(core, req, res)));
  router.post('/apps/delete', stack, requireCsrf, page((req, res) => deleteApp(core, req, res)));
  return router;
}

/** The signed-in developer, or undefined when the response (sign-in redirect or 403 page) is sent. */
async function developer(core: Core, req: Request, res: Response): Promise<UserRecord | undefined> {
  const signedIn = currentUser(req);
  if (!signedIn) {
    redirectToSignIn(req, res, '/apps');
    return undefined;
  }
  const user = await core.users.get(signedIn.id);
  if (!user || !core.applications.mayRegister(user)) {
    renderPage(req, res, renderAppsForbidden({ t: pageTranslator(req) }), 403);
    return undefined;
  }
  return user;
}

/** The list and the registration form, with a notice and, after an error, what was typed. */
async function showApps(
  core: Core,
  req: Request,
  res: Response,
  user: UserRecord,
  options: { status?: number; flash?: Flash; values?: AppFormInput['values'] } = {},
): Promise<void> {
  const apps = await core.applications.listOwned(user);
  const content = renderApps({
    t: pageTranslator(req),
    csrfToken: csrfToken(req),
    now: core.clock.now(),
    flash: options.flash,
    apps: apps.map(({ client, profile }) => ({
      clientId: client.id,
      name: client.name,
      kind: profile?.kind,
      confidential: client.type === 'confidential',
      redirectUris: client.redirectUris,
      grantTypes: client.grantTypes,
      scopes: client.scopes,
      createdAt: client.createdAt,
      registeredVia: profile?.registeredVia,
    })),
    form: {
      kinds: APPLICATION_KINDS.map((kind) => ({ value: kind, confidential: kind === 'server' })),
      grants: GRANT_CHOICES,
      scopes: core.catalog.scopes,
      values: options.values,
    },
  });
  renderPage(req, res, content, options.status ?? 200, 'apps');
}

/** `GET /apps`. */
async function listApps(core: Core, req: Request, res: Response): Promise<void> {
  const user = await developer(core, req, res);
  if (!user) return;
  // A notice left by the last POST (post/redirect/get), shown once.
  const flash = sessionData<{ appsFlash: Flash }>(req).appsFlash;
  if (flash) await updateSession(req, { appsFlash: undefined });
  await showApps(core, req, res, user, { flash });
}

/** `POST /apps`: register, and show the secret (if any) once. */
async function registerApp(core: Core, req: Request, res: Response): Promise<void> {
  const user = await developer(core, req, res);
  if (!user) return;
  const t = pageTranslator(req);
  const grants = formList(req, 'grant_type');
  const scopes = formList(req, 'scope');
  const redirectUris = formValue(req, 'redirect_uris') ?? '';
  const values = { name: formValue(req, 'name') ?? '', kind: formValue(req, 'kind') ?? '', redirectUris, grantTypes: grants ?? [], scopes: scopes ?? [] };
  if (!grants || !scopes) return showApps(core, req, res, user, { status: 400, flash: { kind: 'error', text: t.t('error.badRequest') }, values });
  const input: ApplicationInput = {
    name: values.name.slice(0, 200),
    kind: values.kind as ApplicationKind,
    redirectUris: redirectUris.split(/\r?\n/).slice(0, 50),
    grantTypes: grants.map((g) => (Object.hasOwn(GRANT_ALIASES, g) ? GRANT_ALIASES[g]! : g)),
    scopes,
  };
  try {
    const { client, clientSecret } = await core.applications.create(user, input);
    renderPage(req, res, renderAppSecret({ t, name: client.name, clientId: client.id, clientSecret }), 201);
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    await showApps(core, req, res, user, { status: 400, flash: { kind: 'error', text: err.description }, values });
  }
}

/** `POST /apps/rotate`: a new secret, shown once; the old one stops working. */
async function rotateAppSecret(core: Core, req: Request, res: Response): Promise<void> {
  const user = await developer(core, req, res);
  if (!user) return;
  const t = pageTranslator(req);
  const clientId = formValue(req, 'client_id') ?? '';
  try {
    const clientSecret = await core.applications.rotateSecret(user, clientId);
    const client = await core.clients.get(clientId);
    renderPage(req, res, renderAppSecret({ t, name: client?.name ?? clientId, clientId, clientSecret, rotated: true }));
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    await showApps(core, req, res, user, { status: httpStatus(err), flash: { kind: 'error', text: t.t('apps.notFound') } });
  }
}

/** `POST /apps/delete`: a confirmation page first, then the delete and back to the list. */
async function deleteApp(core: Core, req: Request, res: Response): Promise<void> {
  const user = await developer(core, req, res);
  if (!user) return;
  const t = pageTranslator(req);
  const clientId = formValue(req, 'client_id') ?? '';
  const client = await core.clients.get(clientId);
  if (!client || (client.ownerUserId !== user.id && user.role !== 'admin')) {
    return showApps(core, req, res, user, { status: 404, flash: { kind: 'error', text: t.t('apps.notFound') } });
  }
  if (formValue(req, 'confirm') !== 'yes') {
    return renderPage(req, res, renderAppDeleteConfirm({ t, csrfToken: csrfToken(req), name: client.name, clientId }));
  }
  await core.applications.delete(user, clientId);
  await updateSession(req, { appsFlash: { kind: 'success', text: t.t('apps.deleted', { name: client.name }) } });
  res.redirect(303, '/apps');
}
