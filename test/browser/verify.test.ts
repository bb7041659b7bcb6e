import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';

// The whole file runs with JavaScript turned off: the pages must work without it.
let browser: TestBrowser;
let server: TestServer;
let clientId: string;
let user: { id: string; username: string; password: string };
let page: Page;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchBrowser({ javaScriptEnabled: false }), startTestServer()]);
  ({ clientId } = await server.createClient({ name: 'Living-room TV' }));
  user = await server.createUser('alice');
  page = await browser.newPage();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function authorize(scope = 'valuate:read valuate:write billing:read') {
  const res = await server.post('/device_authorization', { client_id: clientId, scope }, { headers: { 'user-agent': 'KalmTV/2.1 (Tizen 7.0)' } });
  expect(res.status).toBe(200);
  return (await res.json()) as { device_code: string; user_code: string; verification_uri_complete: string };
}

async function poll(deviceCode: string) {
  server.clock.advance(10_000);
  const res = await server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: deviceCode, client_id: clientId });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

async function enterCode(code: string) {
  await page.goto(`${server.url}/device`);
  await page.getByLabel('Code', { exact: true }).fill(code);
  await page.getByRole('button', { name: 'Continue' }).click();
}

/** Sign in when the page asks for it (so each test also runs on its own). */
async function signInIfAsked() {
  if (new URL(page.url()).pathname !== '/signin') return;
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('phone verification pages in Chromium (390×844, JavaScript off)', () => {
  let refreshToken: string;

  it('confirms a QR code, signs in, grants exactly the ticked scopes, and the device gets them', async () => {
    const auth = await authorize();
    await page.goto(auth.verification_uri_complete);
    // The code is kept server-side: the address bar shows a clean URL.
    expect(new URL(page.url()).search).toBe('');
    expect(new URL(page.url()).pathname).toBe('/device');
    await expect(page.locator('.code-display').textContent()).resolves.toBe(auth.user_code);
    await browser.screenshot(page, 'verify-1-confirm');

    await page.getByRole('button', { name: 'It matches, continue' }).click();
    expect(new URL(page.url()).pathname).toBe('/signin');
    await browser.screenshot(page, 'verify-2-signin');
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    expect(new URL(page.url()).pathname).toBe('/device/consent');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Allow Living-room TV?');
    const facts = await page.locator('.facts').textContent();
    expect(facts).toContain(auth.user_code);
    expect(facts).toContain('127.0.0.1');
    expect(facts).toContain('KalmTV/2.1 (Tizen 7.0)');
    expect(await page.getByRole('note').textContent()).toContain('Only continue if you started this yourself');
    for (const name of ['Read valuation results', 'Create valuations', 'View billing']) {
      expect(await page.getByRole('checkbox', { name }).isChecked()).toBe(true);
    }
    await expect(page.getByText('Batch processing').count()).resolves.toBe(1);
    await browser.screenshot(page, 'verify-3-consent');

    await page.getByRole('checkbox', { name: 'Create valuations' }).uncheck();
    await page.getByRole('button', { name: 'Allow selected' }).click();
    expect(new URL(page.url()).pathname).toBe('/device/done');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Device connected');
    await expect(page.getByText('You can return to your TV').count()).resolves.toBe(1);
    await browser.screenshot(page, 'verify-4-approved');

    const tokens = await poll(auth.device_code);
    expect(tokens.status).toBe(200);
    expect(tokens.body.scope).toBe('valuate:read billing:read');
    refreshToken = tokens.body.refresh_token!;
    expect(refreshToken).toBeTruthy();
  });

  it('takes a typed code in any case, with spaces and no dash, and denies it', async () => {
    const auth = await authorize('organization:read');
    await signInIfAsked();
    await enterCode(`  ${auth.user_code.replace('-', ' ').toLowerCase()} `);
    // Already signed in: straight to consent.
    expect(new URL(page.url()).pathname).toBe('/device/consent');
    await page.getByRole('button', { name: 'Deny' }).click();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Request denied');
    await browser.screenshot(page, 'verify-5-denied');
    expect((await poll(auth.device_code)).body.error).toBe('access_denied');
  });

  it('treats approving with every box unticked as denying', async () => {
    const auth = await authorize('valuate:read');
    await enterCode(auth.user_code);
    await signInIfAsked();
    await page.getByRole('checkbox', { name: 'Read valuation results' }).uncheck();
    await page.getByRole('button', { name: 'Allow selected' }).click();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Request denied');
    expect((await poll(auth.device_code)).body.error).toBe('access_denied');
  });

  it('shows one message for an unknown code, with what was typed escaped', async () => {
    await enterCode('BCDF-GHJKC');
    expect(new URL(page.url()).pathname).toBe('/device');
    await expect(page.getByRole('alert').textContent()).resolves.toContain("That code didn't work");
    await expect(page.getByLabel('Code', { exact: true }).inputValue()).resolves.toBe('BCDF-GHJKC');
    await browser.screenshot(page, 'verify-6-wrong-code');
  });

  it('tells a mistyped code at once, keeps what was typed, and then takes the right one', async () => {
    const auth = await authorize('valuate:read');
    // One letter read wrong across the room: the seventh, taken for its neighbour in the alphabet.
    const letters = 'BCDFGHJKLMNPQRSTVWXZ';
    const typo = `${auth.user_code.slice(0, 6)}${letters[(letters.indexOf(auth.user_code[6]!) + 1) % 20]}${auth.user_code.slice(7)}`;
    await enterCode(typo.toLowerCase());
    expect(new URL(page.url()).pathname).toBe('/device');
    await expect(page.getByRole('alert').textContent()).resolves.toContain('That code has a typo — check the letters on your TV.');
    await expect(page.getByLabel('Code', { exact: true }).inputValue()).resolves.toBe(typo.toLowerCase());
    await browser.screenshot(page, 'verify-6-typo');
    await enterCode(auth.user_code);
    await signInIfAsked();
    expect(new URL(page.url()).pathname).toBe('/device/consent');
  });

  it('says a code already decided in another tab was already used', async () => {
    const auth = await authorize('billing:read');
    await enterCode(auth.user_code);
    await signInIfAsked();
    await server.core.deviceFlow.deny(auth.user_code);
    await page.getByRole('button', { name: 'Allow selected' }).click();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('This code was already used');
  });

  it('lists the paired device in My devices, renames it, and revoking it makes the next refresh fail', async () => {
    await page.goto(`${server.url}/devices`);
    await signInIfAsked();
    const device = page.locator('.device');
    await expect(device.count()).resolves.toBe(1);
    await expect(device.locator('.device-title').textContent()).resolves.toBe('Living-room TV');
    const text = await device.textContent();
    expect(text).toContain('Read valuation results');
    expect(text).toContain('View billing');
    expect(text).not.toContain('Create valuations');

    await device.getByLabel('Name').fill('Bedroom <TV>');
    await device.getByRole('button', { name: 'Save name' }).click();
    await expect(page.locator('.device-title').textContent()).resolves.toBe('Bedroom <TV>');
    await browser.screenshot(page, 'verify-7-devices');

    await page.getByRole('button', { name: 'Revoke access: Bedroom <TV>' }).click();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Revoke access for Bedroom <TV>?');
    await browser.screenshot(page, 'verify-8-revoke-confirm');
    await page.getByRole('button', { name: 'Revoke access' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('Bedroom <TV> can no longer use your account');
    await expect(page.locator('.device').count()).resolves.toBe(0);
    await browser.screenshot(page, 'verify-8-revoked');

    const res = await server.post('/token', { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('reflows at 200% zoom without sideways scrolling, in English and in German', async () => {
    const auth = await authorize('valuate:read organization:admin billing:read');
    await enterCode(auth.user_code);
    await signInIfAsked();
    // 200% zoom of a 390 px wide phone lays out like a 195 px wide viewport.
    await page.setViewportSize({ width: 195, height: 422 });
    try {
      const english = await browser.screenshot(page, 'verify-9-consent-zoom-200');
      expect(PNG.sync.read(readFileSync(english)).width).toBe(195);
      // German has the longest words ("Bewertungsergebnisse"): the hardest case for reflow.
      await page.route('**/*', (route) => route.continue({ headers: { ...route.request().headers(), 'accept-language': 'de-DE,de;q=0.9' } }));
      await page.goto(page.url());
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Living-room TV erlauben?');
      const german = await browser.screenshot(page, 'verify-9-consent-zoom-200-de');
      expect(PNG.sync.read(readFileSync(german)).width).toBe(195);
    } finally {
      await page.unrouteAll();
      await page.setViewportSize({ width: 390, height: 844 });
    }
  });
});

describe('brute-force limit in Chromium', () => {
  it('shows a 429 page with the wait once too many wrong codes were tried, and lets the person retry after it', async () => {
    const limited = await startTestServer();
    try {
      const tryCode = async (code: string) => {
        await page.goto(`${limited.url}/device`);
        await page.getByLabel('Code', { exact: true }).fill(code);
        const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Continue' }).click()]);
        return response.status();
      };
      for (let i = 0; i < 5; i++) expect(await tryCode('BCDF-GHJKC')).toBe(400);
      expect(await tryCode('BCDF-GHJKC')).toBe(429);
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Too many tries');
      await expect(page.getByRole('alert').textContent()).resolves.toContain('wait 30 seconds');
      await browser.screenshot(page, 'verify-10-limited');
      limited.clock.advance(30_000);
      expect(await tryCode('BCDF-GHJKC')).toBe(400);
      expect(await tryCode('BCDF-GHJKC')).toBe(429);
      await expect(page.getByRole('alert').textContent()).resolves.toContain('wait 1 minute');
    } finally {
      await limited.stop();
    }
  });
});
