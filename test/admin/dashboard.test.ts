import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { formatUserCode } from '../../server/src/core/user-codes.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { artefactName, queryDatabase } from '../helpers/engine.js';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { PageClient } from '../http/verify-client.js';
import { subscribe } from '../push/push-client.js';

// The admin dashboard in real Chromium with JavaScript off, at a desktop and a phone size, after
// device flows made at known times of the fake clock: yesterday evening, early today and in the
// last hour. The older codes are purged before the page is read, as the server's purge timer
// would, so the 24 h figures must come from their kept history.

const SCREENSHOTS = path.resolve('test-results');
/** test-results/NAME.png (NAME-postgres.png in the postgres project, which may run at the same time). */
const screenshotFile = (name: string) => path.join(SCREENSHOTS, `${artefactName(name)}.png`);
const MINUTE = 60_000;
const DAY1 = Date.UTC(2026, 2, 10);
const DAY2 = DAY1 + 24 * 60 * MINUTE;
const at = (day: number, hh: number, mm: number, ss = 0) => day + ((hh * 60 + mm) * 60 + ss) * 1000;
const NOW = at(DAY2, 9, 30);

let server: TestServer;
let desktop: TestBrowser;
let phone: TestBrowser;
let tv: string;
let doorbell: string;
let alice: { id: string; username: string; password: string };
const admin = { username: 'root', password: 'admin password 1' };
/** The device paired at 09:10 today: the one revoked from the dashboard. */
let pairedTv: { accessToken: string; grantId: string };

type Outcome = 'approved' | 'redeemed' | 'denied' | 'undecided';

/** One device flow on the real endpoints: requested at `start`, decided `afterMs` later (as the consent page would, through core). */
async function flow(clientId: string, start: number, outcome: Outcome, afterMs = 0) {
  server.clock.set(start);
  const res = await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' });
  expect(res.status).toBe(200);
  const auth = (await res.json()) as { device_code: string; user_code: string };
  if (outcome === 'undecided') return undefined;
  server.clock.set(start + afterMs);
  if (outcome === 'denied') return server.core.deviceFlow.deny(auth.user_code, alice.id);
  await server.core.deviceFlow.approve(auth.user_code, alice.id, ['valuate:read']);
  if (outcome !== 'redeemed') return undefined;
  server.clock.advance(1000);
  const token = await server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: auth.device_code, client_id: clientId });
  expect(token.status).toBe(200);
  const { access_token } = (await token.json()) as { access_token: string };
  const grantId = JSON.parse(Buffer.from(access_token.split('.')[1]!, 'base64url').toString()).grant_id as string;
  return { accessToken: access_token, grantId };
}

/** Five wrong entries from one address in one browser session: both of its keys must wait then. */
async function exhaustLimiter(kind: 'device' | 'signin', localAddress: string) {
  const client = new PageClient(server.url, { localAddress });
  const csrf = await client.csrf(kind === 'device' ? '/device' : '/signin');
  for (let i = 0; i < 5; i++) {
    const res =
      kind === 'device'
        ? await client.post('/device', { csrf_token: csrf, user_code: formatUserCode(`BCDFGHJ${'LMNPQ'[i]}`) })
        : await client.post('/signin', { csrf_token: csrf, username: alice.username, password: `wrong ${i}` });
    expect([400, 401]).toContain(res.status);
  }
}

beforeAll(async () => {
  [server, desktop, phone] = await Promise.all([
    startTestServer({ clockStart: at(DAY1, 22, 0), logLevel: 'warn' }),
    launchBrowser({ viewport: { width: 1280, height: 800 }, javaScriptEnabled: false }),
    launchBrowser({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false }),
  ]);
  mkdirSync(SCREENSHOTS, { recursive: true });
  ({ clientId: tv } = await server.createClient({ name: 'Living-room TV' }));
  ({ clientId: doorbell } = await server.createClient({ name: 'Doorbell' }));
  alice = await server.createUser('alice');
  await server.core.users.create({ ...admin, role: 'admin' });

  // Yesterday evening (in the last 24 h, not today).
  await flow(tv, at(DAY1, 22, 0), 'redeemed', 30_000);
  await flow(tv, at(DAY1, 22, 5), 'approved', 90_000);
  await flow(doorbell, at(DAY1, 22, 20), 'denied', 15_000);
  await flow(tv, at(DAY1, 22, 30), 'undecided'); // expires at 22:40
  // Early today.
  await flow(doorbell, at(DAY2, 6, 0), 'redeemed', 60_000);
  await flow(tv, at(DAY2, 6, 30), 'undecided'); // expires at 06:40
  // The purge the server runs every 10 minutes: codes that expired over an hour ago.
  server.clock.set(at(DAY2, 9, 0));
  expect(await server.core.store.deviceCodes.purgeExpired(server.clock.now() - 60 * MINUTE)).toBe(6);
  // The last hour.
  pairedTv = (await flow(tv, at(DAY2, 9, 10), 'redeemed', 20_000))!;
  await flow(tv, at(DAY2, 9, 12), 'approved', 40_000);
  await flow(doorbell, at(DAY2, 9, 15), 'denied', 10_000);
  server.clock.set(at(DAY2, 9, 20));
  await exhaustLimiter('device', '127.0.0.21');
  await exhaustLimiter('signin', '127.0.0.22');
  await flow(tv, at(DAY2, 9, 25), 'undecided'); // still pending at 09:30
  server.clock.set(NOW);
});
afterAll(async () => {
  await desktop?.close();
  await phone?.close();
  await server?.stop();
});

/** Open /admin, signing in as the admin when the page asks (so each test also runs on its own). */
async function signInAsAdmin(page: Page) {
  await page.goto(`${server.url}/admin`);
  if (new URL(page.url()).pathname === '/admin') return;
  expect(new URL(page.url()).pathname).toBe('/signin');
  await page.locator('#username').fill(admin.username);
  await page.locator('#password').fill(admin.password);
  await page.locator('form[action="/signin"] button[type="submit"]').click();
  expect(new URL(page.url()).pathname).toBe('/admin');
}

/** The figures straight from the database (the SQLite file, or its PostgreSQL database): every code, live or in its purged history. */
async function figuresInDatabase(from: number, to: number) {
  const codes = await queryDatabase<{ status: string; created_at: number; expires_at: number; decided_at: number | null }>(
    server.dataDir,
    'SELECT status, created_at, expires_at, decided_at FROM device_codes UNION ALL SELECT status, created_at, expires_at, decided_at FROM device_code_history',
  );
  const inWindow = (t: number | null) => t !== null && t >= from && t < to;
  const approvedWaits = codes.filter((c) => c.status !== 'denied' && inWindow(c.decided_at)).map((c) => c.decided_at! - c.created_at).sort((a, b) => a - b);
  const mid = (approvedWaits.length - 1) / 2;
  const limited = await queryDatabase<{ key: string }>(server.dataDir, 'SELECT key FROM attempt_counters WHERE failures >= 5 AND last_failure_at >= ? AND last_failure_at < ?', [from, to]);
  const [history] = await queryDatabase<{ n: number }>(server.dataDir, 'SELECT count(*) AS n FROM device_code_history');
  return {
    requested: codes.filter((c) => inWindow(c.created_at)).length,
    approved: approvedWaits.length,
    denied: codes.filter((c) => c.status === 'denied' && inWindow(c.decided_at)).length,
    expired: codes.filter((c) => c.status === 'pending' && inWindow(c.expires_at)).length,
    medianMs: (approvedWaits[Math.floor(mid)]! + approvedWaits[Math.ceil(mid)]!) / 2,
    limitedDevice: limited.filter((l) => l.key.startsWith('device:')).length,
    limitedSignin: limited.filter((l) => l.key.startsWith('signin:')).length,
    historyRows: history!.n,
  };
}

async function figure(page: Page, name: string, window: 'hour' | 'today') {
  return (await page.locator(`td[data-figure="${name}"][data-window="${window}"]`).textContent())?.trim();
}

describe('the admin dashboard in Chromium (JavaScript off)', () => {
  it('keeps the purged codes as history, and the known flows are what the database holds', async () => {
    const hour = await figuresInDatabase(NOW - 60 * MINUTE, NOW);
    const today = await figuresInDatabase(DAY2, NOW);
    expect(hour).toMatchObject({ requested: 4, approved: 2, denied: 1, expired: 0, medianMs: 30_000, limitedDevice: 2, limitedSignin: 2, historyRows: 6 });
    expect(today).toMatchObject({ requested: 6, approved: 3, denied: 1, expired: 1, medianMs: 40_000, limitedDevice: 2, limitedSignin: 2 });
  });

  for (const [name, viewport] of [
    ['1280x800', () => desktop],
    ['390x844', () => phone],
  ] as const) {
    it(`shows the database's figures and both charts, one bar per bucket, at ${name}`, async () => {
      const page = await viewport().newPage();
      await signInAsAdmin(page);
      for (const [window, from] of [
        ['hour', NOW - 60 * MINUTE],
        ['today', DAY2],
      ] as const) {
        const db = await figuresInDatabase(from, NOW);
        expect(await figure(page, 'requested', window)).toBe(String(db.requested));
        expect(await figure(page, 'approved', window)).toBe(String(db.approved));
        expect(await figure(page, 'denied', window)).toBe(String(db.denied));
        expect(await figure(page, 'expired', window)).toBe(String(db.expired));
        expect(await figure(page, 'median', window)).toBe(`${db.medianMs / 1000} sec`);
        expect(await figure(page, 'limited-device', window)).toBe(String(db.limitedDevice));
        expect(await figure(page, 'limited-signin', window)).toBe(String(db.limitedSignin));
      }

      // Flows per minute: 1440 bars, the last one the current minute; 10 requests in 24 h.
      const flows = page.locator('svg.chart-columns');
      await expect(flows.getAttribute('role')).resolves.toBe('img');
      expect(await flows.getAttribute('aria-label')).toContain('10 in all');
      const bars = flows.locator('rect.chart-bar');
      expect(await bars.count()).toBe(1440);
      const chartStart = NOW - 1439 * MINUTE;
      const bar = (t: number) => bars.nth((t - chartStart) / MINUTE);
      expect(await bar(at(DAY2, 9, 10)).locator('title').textContent()).toBe('09:10 UTC: 1 requested, 1 approved, 0 denied, 0 expired');
      expect(await bar(at(DAY2, 9, 10)).getAttribute('height')).toBe('1');
      expect(await bar(at(DAY1, 22, 40)).locator('title').textContent()).toBe('22:40 UTC: 0 requested, 0 approved, 0 denied, 1 expired');
      expect(await bar(at(DAY2, 9, 11)).getAttribute('height')).toBe('0');
      const totalHeight = (await bars.evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('height'))))).reduce((a, b) => a + b, 0);
      expect(totalHeight).toBe(10);

      // Approvals vs denials per client: one bar per client and series.
      const decisions = page.locator('svg.chart-groups');
      await expect(decisions.getAttribute('role')).resolves.toBe('img');
      expect(await decisions.locator('rect.chart-bar').count()).toBe(4);
      const titles = await decisions.locator('rect.chart-bar title').allTextContents();
      expect(titles).toEqual(['Living-room TV: 4 approved', 'Living-room TV: 0 denied', 'Doorbell: 1 approved', 'Doorbell: 2 denied']);
      const devicesOf = (clientId: string) => page.locator(`tr[data-client-id="${clientId}"] td[data-figure="devices"]`).textContent();
      expect(await devicesOf(tv)).toBe('2');
      expect(await devicesOf(doorbell)).toBe('1');

      // Nothing wider than the screen.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport() === phone ? 390 : 1280);
      await page.screenshot({ path: screenshotFile(`admin-dashboard-${name}`), fullPage: true });
      await page.close();
    });
  }

  it('lists the newest audit events as the audit trail returns them', async () => {
    const page = await desktop.newPage();
    await signInAsAdmin(page);
    const recent = await server.core.audit.recent({ limit: 20 });
    const rows = page.locator('.events-table tbody tr');
    expect(await rows.count()).toBe(recent.length);
    if (recent.length === 0) expect(await page.locator('#events .empty').textContent()).toBe('Nothing recorded yet.');
    else expect(await rows.first().locator('td').nth(1).textContent()).toBe(recent[0]!.type);
    await page.close();
  });

  it('in German: the same page in the other locale', async () => {
    const page = await phone.newPage();
    await page.route('**/*', (route) => route.continue({ headers: { ...route.request().headers(), 'accept-language': 'de-DE,de;q=0.9' } }));
    await signInAsAdmin(page);
    expect(await page.locator('h1').textContent()).toBe('Verwaltung');
    expect(await page.locator('html').getAttribute('lang')).toBe('de');
    expect(await page.locator('svg.chart-columns').getAttribute('aria-label')).toContain('10 insgesamt');
    expect(await figure(page, 'median', 'hour')).toBe('30 Sek.');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: screenshotFile('admin-dashboard-de-390x844'), fullPage: true });
    await page.close();
  });

  it('revokes a device from the dashboard after a confirmation, and its push socket hears revoked', async () => {
    const device = await subscribe(server, { access_token: pairedTv.accessToken });
    expect(await device.next()).toEqual({ type: 'subscribed', status: 'paired' });
    const page = await desktop.newPage();
    await signInAsAdmin(page);
    await page.locator(`tr[data-client-id="${tv}"] td[data-figure="devices"] a`).click();
    expect(new URL(page.url()).pathname).toBe('/admin/devices');
    expect(new URL(page.url()).searchParams.get('client')).toBe(tv);
    const listed = page.locator('li.device');
    expect(await listed.count()).toBe(2);
    await page.screenshot({ path: screenshotFile('admin-devices-1280x800'), fullPage: true });

    await page.locator(`li[data-grant-id="${pairedTv.grantId}"] button`).click();
    expect(await page.locator('h1').textContent()).toBe('Revoke access for Living-room TV?');
    expect(await page.locator('.lead').textContent()).toContain('alice');
    await page.screenshot({ path: screenshotFile('admin-revoke-confirm-1280x800'), fullPage: true });
    await page.getByRole('button', { name: 'Revoke access' }).click();

    expect(await device.next()).toEqual({ type: 'status', status: 'revoked' });
    expect((await device.closed).code).toBe(1000);
    expect(new URL(page.url()).pathname).toBe('/admin/devices');
    expect(await page.locator('.notice-success').textContent()).toBe('Living-room TV of alice is signed out.');
    expect(await page.locator(`li[data-grant-id="${pairedTv.grantId}"]`).count()).toBe(0);
    expect(await server.core.pairedDevices.find(pairedTv.grantId)).toBeUndefined();
    // The audit trail names the admin who did it, from where (written with the revocation, before the answer), and the dashboard lists it first.
    const [revocation] = await server.core.audit.recent({ type: 'grant.revoked', limit: 1 });
    expect(revocation).toMatchObject({ actorName: admin.username, username: 'alice', clientId: tv, grantId: pairedTv.grantId, ip: '127.0.0.1', details: { by: 'admin' } });
    await page.screenshot({ path: screenshotFile('admin-revoked-1280x800'), fullPage: true });
    await page.goto(`${server.url}/admin`);
    expect(await page.locator(`tr[data-client-id="${tv}"] td[data-figure="devices"]`).textContent()).toBe('1');
    const newest = page.locator('.events-table tbody tr').first().locator('td');
    expect(await newest.nth(1).textContent()).toBe('grant.revoked');
    expect(await newest.nth(2).textContent()).toBe(admin.username);
    await page.close();
  });

  it('lists the devices at phone size too', async () => {
    const page = await phone.newPage();
    await signInAsAdmin(page);
    await page.goto(`${server.url}/admin/devices?user=alice`);
    expect(await page.locator('li.device').count()).toBe(2);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: screenshotFile('admin-devices-390x844'), fullPage: true });
    await page.goto(`${server.url}/admin/devices?user=nobody`);
    expect(await page.locator('.notice-error').textContent()).toBe('There is no user nobody.');
    await page.close();
  });

  it('revokes nothing without the form\'s CSRF token, nor for a signed-in non-admin', async () => {
    const [live] = await server.core.pairedDevices.listAll({ clientId: tv });
    const signedIn = async (username: string, password: string) => {
      const client = new PageClient(server.url);
      const csrf = await client.csrf('/signin');
      expect((await client.post('/signin', { csrf_token: csrf, username, password })).status).toBe(303);
      return client;
    };
    const asAdmin = await signedIn(admin.username, admin.password);
    const forged = await asAdmin.post('/admin/devices/revoke', { csrf_token: 'forged', grant_id: live!.grantId, confirm: 'yes' });
    expect(forged.status).toBe(403);
    const crossSite = await asAdmin.post('/admin/devices/revoke', { csrf_token: await asAdmin.csrf('/admin/devices'), grant_id: live!.grantId, confirm: 'yes' }, { 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    const asAlice = await signedIn(alice.username, alice.password);
    const notAdmin = await asAlice.post('/admin/devices/revoke', { csrf_token: await asAlice.csrf('/devices'), grant_id: live!.grantId, confirm: 'yes' });
    expect(notAdmin.status).toBe(403);
    expect(await server.core.pairedDevices.find(live!.grantId)).toBeDefined();
  });

  it('lists the accounts, and disables and enables one, never the signed-in admin', async () => {
    const page = await desktop.newPage();
    await signInAsAdmin(page);
    await page.getByRole('link', { name: 'Users' }).click();
    expect(new URL(page.url()).pathname).toBe('/admin/users');
    const row = (username: string) => page.locator('.users-table tbody tr', { has: page.locator('th', { hasText: new RegExp(`^${username}$`) }) });
    expect(await page.locator('.users-table tbody tr').count()).toBe(2);
    expect(await row('root').locator('button').count()).toBe(0);
    await page.screenshot({ path: screenshotFile('admin-users-1280x800'), fullPage: true });

    await row('alice').getByRole('button', { name: 'Disable: alice' }).click();
    expect(await page.locator('.notice-success').textContent()).toContain('alice is disabled');
    expect(await row('alice').locator('td[data-status]').getAttribute('data-status')).toBe('disabled');
    const signIn = async () => {
      const client = new PageClient(server.url, { localAddress: '127.0.0.31' });
      return (await client.post('/signin', { csrf_token: await client.csrf('/signin'), username: alice.username, password: alice.password })).status;
    };
    expect(await signIn()).not.toBe(303);
    await row('alice').getByRole('button', { name: 'Enable: alice' }).click();
    expect(await row('alice').locator('td[data-status]').getAttribute('data-status')).toBe('active');
    expect(await signIn()).toBe(303);
    await row('alice').getByRole('link', { name: 'Paired devices' }).click();
    expect(new URL(page.url()).searchParams.get('user')).toBe('alice');
    await page.close();
  });

  it('answers a non-admin with 403, in Chromium and over HTTP, and sends the signed-out to sign-in', async () => {
    // The phone's profile is signed in as the admin from the tests above: start over as alice.
    await phone.context.clearCookies();
    const page = await phone.newPage();
    await page.goto(`${server.url}/signin`);
    await page.locator('#username').fill(alice.username);
    await page.locator('#password').fill(alice.password);
    await page.locator('form[action="/signin"] button[type="submit"]').click();
    const res = await page.goto(`${server.url}/admin`);
    expect(res?.status()).toBe(403);
    expect(await page.locator('.notice-error').textContent()).toContain('Only administrator accounts');
    expect(await page.locator('svg.chart').count()).toBe(0);
    await page.screenshot({ path: screenshotFile('admin-forbidden-390x844'), fullPage: true });
    expect((await page.goto(`${server.url}/admin/devices`))?.status()).toBe(403);
    await phone.context.clearCookies();
    await page.close();

    const anonymous = new PageClient(server.url);
    const signedOut = await anonymous.get('/admin');
    expect(signedOut.status).toBe(303);
    expect(signedOut.location).toBe('/signin?return_to=%2Fadmin');
  });
});
