// The Prometheus metrics over the real boundaries: the flows go through the public listener (the
// device over HTTP, the person through the pages), and the metrics are scraped from their own
// listener on METRICS_PORT and read as Prometheus reads the text format, before and after.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemRandom } from '../../server/src/core/secrets.js';
import { formatUserCode, generateUserCode } from '../../server/src/core/user-codes.js';
import { PageClient, csrfOf } from '../http/verify-client.js';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { changes, scrape, type Scrape } from './scrape.js';

let server: TestServer;
let metricsUrl: string;
let clientId: string;
let user: { id: string; username: string; password: string };

beforeAll(async () => {
  server = await startTestServer({ config: { metricsPort: 0 } });
  metricsUrl = server.metrics!.url;
  ({ clientId } = await server.createClient({ name: 'Kitchen display' }));
  user = await server.createUser('carol');
});
afterAll(() => server.stop());

const DEVICE_CODE = GRANT_TYPES.deviceCode;
const REFRESH = GRANT_TYPES.refreshToken;
const DURATION = 'kalm_http_request_duration_seconds';
const APPROVAL = 'kalm_approval_to_token_seconds';

/** Each test gets its own client IP (127.0.0.N), so the per-IP limiter of one test never touches another. */
let nextIp = 20;
const newBrowser = () => new PageClient(server.url, { localAddress: `127.0.0.${nextIp++}` });

async function authorize(): Promise<{ device_code: string; user_code: string; verification_uri_complete: string }> {
  const res = await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read billing:read' });
  expect(res.status).toBe(200);
  return (await res.json()) as { device_code: string; user_code: string; verification_uri_complete: string };
}

async function poll(deviceCode: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await server.post('/token', { grant_type: DEVICE_CODE, device_code: deviceCode, client_id: clientId });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function refresh(refreshToken: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await server.post('/token', { grant_type: REFRESH, refresh_token: refreshToken, client_id: clientId });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The person's side, through the pages: the linked code, sign-in, consent. */
async function approveThroughPages(verificationUriComplete: string): Promise<void> {
  const browser = newBrowser();
  const link = new URL(verificationUriComplete);
  expect((await browser.get(link.pathname + link.search)).location).toBe('/device');
  const confirm = await browser.get('/device');
  const confirmed = await browser.post('/device', { csrf_token: csrfOf(confirm.body), action: 'confirm' });
  expect(confirmed.location).toBe('/signin?return_to=%2Fdevice%2Fconsent');
  const signInPage = await browser.get(confirmed.location!);
  const signedIn = await browser.post('/signin', { csrf_token: csrfOf(signInPage.body), username: user.username, password: user.password, return_to: '/device/consent' });
  expect(signedIn.location).toBe('/device/consent');
  const consent = await browser.get('/device/consent');
  const done = await browser.post('/device/consent', { csrf_token: csrfOf(consent.body), decision: 'approve', scope: 'valuate:read' });
  expect(done.location).toBe('/device/done');
  expect((await browser.get('/device/done')).status).toBe(200);
}

/** The counter series that changed (the histograms are looked at on their own). */
function counterChanges(before: Scrape, after: Scrape): Record<string, number> {
  const changed = changes(before, after, 'kalm_');
  for (const key of Object.keys(changed)) if (key.startsWith(DURATION) || key.startsWith(APPROVAL)) delete changed[key];
  return changed;
}

describe('GET /metrics on METRICS_PORT', () => {
  it('counts exactly what one full device flow and one refresh did', async () => {
    const before = await scrape(metricsUrl);

    const auth = await authorize();
    expect((await scrape(metricsUrl)).value('kalm_pending_device_codes')).toBe(before.value('kalm_pending_device_codes') + 1);
    expect((await poll(auth.device_code)).body.error).toBe('authorization_pending');
    // RFC 8628 §3.5: polled again at once, on the same (fake) clock.
    expect((await poll(auth.device_code)).body.error).toBe('slow_down');
    await approveThroughPages(auth.verification_uri_complete);
    // The polling device asks again 2 s after the approval.
    server.clock.advance(2_000);
    const redeemed = await poll(auth.device_code);
    expect(redeemed.status).toBe(200);
    const refreshed = await refresh(String(redeemed.body.refresh_token));
    expect(refreshed.status).toBe(200);

    const after = await scrape(metricsUrl);
    expect(counterChanges(before, after)).toEqual({
      [`kalm_device_authorizations_total{client_id="${clientId}"}`]: 1,
      [`kalm_device_decisions_total{client_id="${clientId}",decision="approved"}`]: 1,
      [`kalm_token_requests_total{grant_type="${DEVICE_CODE}",result="authorization_pending"}`]: 1,
      [`kalm_token_requests_total{grant_type="${DEVICE_CODE}",result="slow_down"}`]: 1,
      [`kalm_token_requests_total{grant_type="${DEVICE_CODE}",result="ok"}`]: 1,
      [`kalm_token_requests_total{grant_type="${REFRESH}",result="ok"}`]: 1,
    });
    // Back where it was: the code is decided.
    expect(after.value('kalm_pending_device_codes')).toBe(before.value('kalm_pending_device_codes'));
    expect(after.types.get('kalm_token_requests_total')).toBe('counter');
    expect(after.types.get('kalm_pending_device_codes')).toBe('gauge');

    // The approval reached the token 2 s later (the injected clock), by polling.
    expect(changes(before, after, APPROVAL)).toEqual({
      [`${APPROVAL}_bucket{channel="poll",le="2.5"}`]: 1,
      [`${APPROVAL}_bucket{channel="poll",le="5"}`]: 1,
      [`${APPROVAL}_bucket{channel="poll",le="10"}`]: 1,
      [`${APPROVAL}_bucket{channel="poll",le="30"}`]: 1,
      [`${APPROVAL}_bucket{channel="poll",le="60"}`]: 1,
      [`${APPROVAL}_bucket{channel="poll",le="+Inf"}`]: 1,
      [`${APPROVAL}_sum{channel="poll"}`]: 2,
      [`${APPROVAL}_count{channel="poll"}`]: 1,
    });

    // Requests by route template, method and status.
    const requests = changes(before, after, `${DURATION}_count`);
    expect(requests).toMatchObject({
      [`${DURATION}_count{method="POST",route="/device_authorization",status="200"}`]: 1,
      [`${DURATION}_count{method="POST",route="/token",status="400"}`]: 2,
      [`${DURATION}_count{method="POST",route="/token",status="200"}`]: 2,
      [`${DURATION}_count{method="GET",route="/device",status="303"}`]: 1,
      [`${DURATION}_count{method="GET",route="/device",status="200"}`]: 1,
      [`${DURATION}_count{method="POST",route="/device",status="303"}`]: 1,
      [`${DURATION}_count{method="POST",route="/signin",status="303"}`]: 1,
      [`${DURATION}_count{method="POST",route="/device/consent",status="303"}`]: 1,
      [`${DURATION}_count{method="GET",route="/device/done",status="200"}`]: 1,
    });
  });

  it('labels requests with route templates only: no code, query string or unmatched path', async () => {
    const auth = await authorize();
    const browser = newBrowser();
    const link = new URL(auth.verification_uri_complete);
    await browser.get(link.pathname + link.search);
    await browser.get(`/device/${auth.user_code}`);
    await browser.get(`/nothing-here/${auth.device_code}`);
    await server.post(`/token?device_code=${auth.device_code}`, { grant_type: DEVICE_CODE, device_code: auth.device_code, client_id: clientId });
    // Written unusually, served by the protocol router all the same.
    await server.post('/Token/', { grant_type: DEVICE_CODE, device_code: auth.device_code, client_id: clientId });

    const after = await scrape(metricsUrl);
    const routes = new Set(after.series(`${DURATION}_count`).map((s) => s.labels.route!));
    const shown = [auth.user_code, auth.user_code.replace('-', ''), auth.device_code];
    for (const route of routes) {
      expect(route === 'unmatched' || /^\/[a-z0-9_./-]*$/.test(route), route).toBe(true);
      for (const secret of shown) expect(route).not.toContain(secret);
    }
    expect(routes).toContain('unmatched');
    expect(routes).toContain('/token');
    expect(routes).not.toContain('/Token/');
    expect(after.text).not.toContain(auth.device_code);
    expect(after.text).not.toContain(auth.user_code);
    // Every series of the histogram has the three labels, each bucket line `le` too.
    for (const s of after.series(`${DURATION}_bucket`)) expect(Object.keys(s.labels).sort()).toEqual(['le', 'method', 'route', 'status']);
    expect(after.types.get(DURATION)).toBe('histogram');
    await server.core.deviceFlow.deny(auth.user_code, user.id);
  });

  it('counts invalid_grant, a refresh token reused, failed code entries and the limiter refusing', async () => {
    const auth = await authorize();
    await server.core.deviceFlow.approve(auth.user_code, user.id, ['valuate:read']);
    const first = await poll(auth.device_code);
    const rotated = await refresh(String(first.body.refresh_token));
    expect(rotated.status).toBe(200);
    const before = await scrape(metricsUrl);

    // A second redemption of the code, and the spent refresh token again (its family ends).
    expect((await poll(auth.device_code)).body.error).toBe('invalid_grant');
    expect((await refresh(String(first.body.refresh_token))).body.error).toBe('invalid_grant');
    expect((await refresh(String(rotated.body.refresh_token))).body.error).toBe('invalid_grant');
    // Missing or made-up grant types never become label values of their own.
    await server.post('/token', { grant_type: 'urn:example:made-up', client_id: clientId });
    await server.post('/token', { client_id: clientId });

    // Well-formed codes that match nothing: 5 free failures, then the limiter refuses.
    const browser = newBrowser();
    const wrong = () => formatUserCode(generateUserCode(systemRandom));
    for (let i = 0; i < 5; i++) expect((await browser.post('/device', { csrf_token: await browser.csrf(), user_code: wrong() })).status).toBe(400);
    expect((await browser.post('/device', { csrf_token: await browser.csrf(), user_code: wrong() })).status).toBe(429);
    // A typo the check character catches is no attempt.
    const typo = wrong().replace(/.$/, (c) => (c === 'B' ? 'C' : 'B'));
    const typoAnswer = await browser.post('/device', { csrf_token: await browser.csrf(), user_code: typo });
    expect(typoAnswer.status).toBe(400);

    const after = await scrape(metricsUrl);
    expect(counterChanges(before, after)).toEqual({
      [`kalm_token_requests_total{grant_type="${DEVICE_CODE}",result="invalid_grant"}`]: 1,
      [`kalm_token_requests_total{grant_type="${REFRESH}",result="invalid_grant"}`]: 2,
      [`kalm_token_requests_total{grant_type="other",result="unsupported_grant_type"}`]: 1,
      [`kalm_token_requests_total{grant_type="other",result="invalid_request"}`]: 1,
      'kalm_refresh_reuse_detected_total': 1,
      'kalm_code_entry_failures_total': 5,
      'kalm_rate_limited_total{limiter="code_entry"}': 1,
    });
  });

  it('counts a code that ran out undecided as expired, once, and no longer as pending', async () => {
    const before = await scrape(metricsUrl);
    expect(before.value('kalm_pending_device_codes')).toBe(0);
    const auth = await authorize();
    const decided = await authorize();
    await server.core.deviceFlow.deny(decided.user_code, user.id);
    expect((await scrape(metricsUrl)).value('kalm_pending_device_codes')).toBe(before.value('kalm_pending_device_codes') + 1);

    // RFC 8628 `expires_in` 600 s, plus the 5 s a decision taken elsewhere has to arrive.
    server.clock.advance(600_000 + 5_000);
    const after = await scrape(metricsUrl);
    expect((await poll(auth.device_code)).body.error).toBe('expired_token');
    const again = await scrape(metricsUrl);
    expect(counterChanges(before, after)).toEqual({
      [`kalm_device_authorizations_total{client_id="${clientId}"}`]: 2,
      [`kalm_device_decisions_total{client_id="${clientId}",decision="denied"}`]: 1,
      [`kalm_device_decisions_total{client_id="${clientId}",decision="expired"}`]: 1,
    });
    expect(after.value('kalm_pending_device_codes')).toBe(0);
    expect(counterChanges(after, again)).toEqual({ [`kalm_token_requests_total{grant_type="${DEVICE_CODE}",result="expired_token"}`]: 1 });
  });

  it('is 404 on the public port, and the metrics port serves nothing else', async () => {
    for (const path of ['/metrics', '/metrics/', '/Metrics']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text()).not.toContain('kalm_token_requests_total');
    }
    const origin = new URL(metricsUrl).origin;
    expect(new URL(metricsUrl).port).not.toBe(String(server.port));
    expect((await fetch(`${origin}/`)).status).toBe(404);
    expect((await fetch(`${origin}/token`, { method: 'POST' })).status).toBe(404);
    const post = await fetch(metricsUrl, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(metricsUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    // The default Node process metrics are there too.
    const all = await scrape(metricsUrl);
    expect(all.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(all.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect(all.value('kalm_mqtt_connected')).toBe(0);
  });

  it('is off unless METRICS_PORT is set', async () => {
    const plain = await startTestServer();
    try {
      expect(plain.metrics).toBeUndefined();
      expect((await fetch(`${plain.url}/metrics`)).status).toBe(404);
    } finally {
      await plain.stop();
    }
  });
});
