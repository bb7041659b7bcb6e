/**
 * Small steps of the device flow over HTTP, shared by the black-box tests in test/http.
 * Every step goes through the real endpoints; only approval goes through core, as the
 * verification page would.
 */
import { expect } from 'vitest';
import { GRANT_TYPES, type TestServer } from '../helpers/server.js';

export interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

export interface Tokens {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

/** Client authentication for a request: a public id, Basic, or a secret in the body. */
export type ClientAuth =
  | { clientId: string }
  | { clientId: string; clientSecret: string; method: 'basic' | 'post' };

function withAuth(auth: ClientAuth, form: Record<string, string>) {
  if ('method' in auth && auth.method === 'basic') return { form, init: { basic: [auth.clientId, auth.clientSecret] as [string, string] } };
  if ('method' in auth) return { form: { ...form, client_id: auth.clientId, client_secret: auth.clientSecret }, init: {} };
  return { form: { ...form, client_id: auth.clientId }, init: {} };
}

/** POST a form with the client's authentication. */
/** A confidential client standing in for a resource server: it may introspect, and holds no grant of its own but refresh_token. */
export async function createResourceServer(server: TestServer, method: 'basic' | 'post'): Promise<ClientAuth> {
  const rs = await server.createClient({ type: 'confidential', grantTypes: [GRANT_TYPES.refreshToken] });
  return { clientId: rs.clientId, clientSecret: rs.clientSecret!, method };
}

export function postAs(server: TestServer, path: string, auth: ClientAuth, form: Record<string, string>) {
  const r = withAuth(auth, form);
  return server.post(path, r.form, r.init);
}

/** RFC 8628 §3.1: a device authorization request that must succeed. */
export async function authorize(server: TestServer, auth: ClientAuth, scope?: string): Promise<DeviceAuthorization> {
  const res = await postAs(server, '/device_authorization', auth, scope === undefined ? {} : { scope });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as DeviceAuthorization;
}

/** RFC 8628 §3.4: one poll of the token endpoint. */
export function poll(server: TestServer, auth: ClientAuth, deviceCode: string) {
  return postAs(server, '/token', auth, { grant_type: GRANT_TYPES.deviceCode, device_code: deviceCode });
}

/** Read an error response: status, body and the headers the tests look at. */
export async function errorOf(res: Response) {
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, wwwAuthenticate: res.headers.get('www-authenticate') };
}

/** Authorize, approve through core as a fresh user, redeem: the tokens of a finished flow. */
export async function obtainTokens(
  server: TestServer,
  auth: ClientAuth,
  scope = 'valuate:read billing:read',
  granted?: string[],
): Promise<Tokens & { userId: string }> {
  const flow = await authorize(server, auth, scope);
  const user = await server.createUser();
  await server.core.deviceFlow.approve(flow.user_code, user.id, granted ?? scope.split(' '));
  const res = await poll(server, auth, flow.device_code);
  expect(res.status, await res.clone().text()).toBe(200);
  return { ...((await res.json()) as Tokens), userId: user.id };
}

/** RFC 6749 §6 refresh request. */
export function refresh(server: TestServer, auth: ClientAuth, refreshToken: string, scope?: string) {
  const form: Record<string, string> = { grant_type: 'refresh_token', refresh_token: refreshToken };
  if (scope !== undefined) form.scope = scope;
  return postAs(server, '/token', auth, form);
}

/** RFC 7662 introspection as `auth` (which must be a confidential client). */
export async function introspect(server: TestServer, auth: ClientAuth, token: string, hint?: string) {
  const form: Record<string, string> = { token };
  if (hint) form.token_type_hint = hint;
  const res = await postAs(server, '/introspect', auth, form);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}
