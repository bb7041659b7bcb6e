import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { PageClient } from '../http/verify-client.js';

// The header's "Admin" link in real Chromium with JavaScript off: an admin sees it on every page
// and it leads to the dashboard, marked as the current page on each admin page; a plain user, a
// developer (who does get /apps) and a signed-out visitor never see it; the role is read on every
// page, so a demoted admin loses it at once. Both locales, chosen by Accept-Language.

let server: TestServer;
let browser: TestBrowser;
const admin = { username: 'root', password: 'admin password 1' };
const developer = { username: 'dev', password: 'developer password 1' };
let alice: { id: string; username: string; password: string };

beforeAll(async () => {
  [server, browser] = await Promise.all([
    startTestServer({ logLevel: 'warn' }),
    launchBrowser({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false }),
  ]);
  alice = await server.createUser('alice');
  await server.core.users.create({ ...admin, role: 'admin' });
  await server.core.users.create({ ...developer, role: 'developer' });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** A fresh page signed in as `who` (or signed out), optionally asking for German. */
async function pageAs(who: { username: string; password: string } | undefined, locale: 'en' | 'de' = 'en'): Promise<Page> {
  await browser.context.clearCookies();
  const page = await browser.newPage();
  if (locale === 'de') await page.route('**/*', (route) => route.continue({ headers: { ...route.request().headers(), 'accept-language': 'de-DE,de;q=0.9' } }));
  if (!who) return page;
  await page.goto(`${server.url}/signin`);
  await page.locator('#username').fill(who.username);
  await page.locator('#password').fill(who.password);
  await page.locator('form[action="/signin"] button[type="submit"]').click();
  expect(new URL(page.url()).pathname).toBe('/devices');
  return page;
}

const headerLinks = (page: Page) => page.locator('header.top nav a.nav-link');
const adminLink = (page: Page) => page.locator('header.top nav a[href="/admin"]');

/** The header's links as `text → href`, with the current one starred. */
async function nav(page: Page): Promise<string[]> {
  return headerLinks(page).evaluateAll((links) =>
    links.map((a) => `${a.textContent?.trim()} → ${a.getAttribute('href')}${a.getAttribute('aria-current') === 'page' ? ' *' : ''}`),
  );
}

describe('the Admin link in the header (Chromium, JavaScript off)', () => {
  it('is on /device and /devices for an admin, and leads to the dashboard', async () => {
    const page = await pageAs(admin);
    await page.goto(`${server.url}/device`);
    expect(await nav(page)).toEqual(['Connect a device → /device *', 'My devices → /devices', 'Applications → /apps', 'Admin → /admin']);
    await page.goto(`${server.url}/devices`);
    expect(await nav(page)).toEqual(['Connect a device → /device', 'My devices → /devices *', 'Applications → /apps', 'Admin → /admin']);

    await adminLink(page).click();
    expect(new URL(page.url()).pathname).toBe('/admin');
    expect(await page.locator('h1').textContent()).toBe('Admin dashboard');
    await page.close();
  });

  it('is the current page on /admin, /admin/devices and /admin/users, and only there', async () => {
    const page = await pageAs(admin);
    for (const path of ['/admin', '/admin/devices', '/admin/users']) {
      const res = await page.goto(`${server.url}${path}`);
      expect(res?.status()).toBe(200);
      expect(await nav(page)).toEqual(['Connect a device → /device', 'My devices → /devices', 'Applications → /apps', 'Admin → /admin *']);
      expect(await page.locator('header.top [aria-current="page"]').count()).toBe(1);
    }
    await page.goto(`${server.url}/apps`);
    expect(await adminLink(page).getAttribute('aria-current')).toBeNull();
    await page.close();
  });

  it('is never shown to a plain user, a developer or a signed-out visitor', async () => {
    const user = await pageAs(alice);
    for (const path of ['/device', '/devices']) {
      await user.goto(`${server.url}${path}`);
      expect(await headerLinks(user).count()).toBe(2);
      expect(await adminLink(user).count()).toBe(0);
    }
    // The dashboard itself says no, and still without the link.
    expect((await user.goto(`${server.url}/admin`))?.status()).toBe(403);
    expect(await adminLink(user).count()).toBe(0);
    await user.close();

    const dev = await pageAs(developer);
    await dev.goto(`${server.url}/apps`);
    expect(await nav(dev)).toEqual(['Connect a device → /device', 'My devices → /devices', 'Applications → /apps *']);
    await dev.close();

    const anonymous = await pageAs(undefined);
    for (const path of ['/device', '/signin']) {
      await anonymous.goto(`${server.url}${path}`);
      expect(await anonymous.locator('a[href="/admin"]').count()).toBe(0);
    }
    await anonymous.close();
    // Without a browser too: the signed-out HTML names no /admin at all.
    const body = (await new PageClient(server.url).get('/device')).body;
    expect(body).not.toContain('/admin');
  });

  it('goes at once when the account loses the admin role, and comes back with it', async () => {
    const page = await pageAs(admin);
    await page.goto(`${server.url}/device`);
    expect(await adminLink(page).count()).toBe(1);
    const root = await server.core.users.getByUsername(admin.username);
    await server.core.users.setRole(root!.id, 'user');
    try {
      await page.goto(`${server.url}/device`);
      expect(await adminLink(page).count()).toBe(0);
      expect(await nav(page)).toEqual(['Connect a device → /device *', 'My devices → /devices']);
    } finally {
      await server.core.users.setRole(root!.id, 'admin');
    }
    await page.goto(`${server.url}/device`);
    expect(await adminLink(page).count()).toBe(1);
    await page.close();
  });

  it('in German: "Verwaltung", current on the admin pages', async () => {
    const page = await pageAs(admin, 'de');
    await page.goto(`${server.url}/devices`);
    expect(await page.locator('html').getAttribute('lang')).toBe('de');
    expect(await nav(page)).toEqual(['Gerät verbinden → /device', 'Meine Geräte → /devices *', 'Anwendungen → /apps', 'Verwaltung → /admin']);
    // The longest header there is, on a phone: its links wrap, nothing is wider than the screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await adminLink(page).click();
    expect(new URL(page.url()).pathname).toBe('/admin');
    expect(await adminLink(page).getAttribute('aria-current')).toBe('page');
    await page.goto(`${server.url}/admin/users`);
    expect(await nav(page)).toEqual(['Gerät verbinden → /device', 'Meine Geräte → /devices', 'Anwendungen → /apps', 'Verwaltung → /admin *']);
    await page.close();

    const user = await pageAs(alice, 'de');
    await user.goto(`${server.url}/device`);
    expect(await nav(user)).toEqual(['Gerät verbinden → /device *', 'Meine Geräte → /devices']);
    await user.close();
  });
});
