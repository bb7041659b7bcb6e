import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// "Create OAuth Application" in Chromium, JavaScript off: the pages must work without it.
let server: TestServer;
let browser: TestBrowser;
let page: Page;
const PASSWORD = 'correct horse battery';

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchBrowser({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } })]);
  await server.core.users.create({ username: 'devon', password: PASSWORD, role: 'developer' });
  await server.core.users.create({ username: 'plain', password: PASSWORD, role: 'user' });
  page = await browser.newPage();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(username: string) {
  await page.goto(`${server.url}/apps`);
  expect(new URL(page.url()).pathname).toBe('/signin');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

function clientCredentials(clientId: string, secret: string) {
  return server.post('/token', { grant_type: 'client_credentials' }, { basic: [clientId, secret] });
}

describe('/apps in Chromium', () => {
  it('turns away an account without the developer role', async () => {
    await signIn('plain');
    expect(new URL(page.url()).pathname).toBe('/apps');
    await expect(page.locator('main').textContent()).resolves.toContain('Only developer accounts can register applications');
    await expect(page.locator('form.app-form').count()).resolves.toBe(0);
    // The header offers Applications only to those who may register one.
    await page.goto(`${server.url}/devices`);
    await expect(page.getByRole('navigation').getByRole('link').allTextContents()).resolves.toEqual(['Connect a device', 'My devices']);
    await page.getByRole('button', { name: 'Sign out' }).click();
  });

  let clientId: string;
  let secret: string;

  it('links a developer to Applications from every page header', async () => {
    await signIn('devon');
    const nav = page.getByRole('navigation');
    await expect(nav.getByRole('link', { name: 'Applications' }).getAttribute('aria-current')).resolves.toBe('page');
    await page.goto(`${server.url}/device`);
    await expect(nav.getByRole('link').allTextContents()).resolves.toEqual(['Connect a device', 'My devices', 'Applications']);
    await nav.getByRole('link', { name: 'Applications' }).click();
    expect(new URL(page.url()).pathname).toBe('/apps');
    await page.getByRole('button', { name: 'Sign out' }).click();
  });

  it('registers a server application and shows its secret exactly once', async () => {
    await signIn('devon');
    await page.getByLabel('Name (shown to people on the consent screen)').fill('Reports backend');
    await page.getByLabel(/^Server/).check();
    await page.locator('#grant-authorization_code').uncheck();
    await page.locator('#grant-refresh_token').uncheck();
    await page.locator('#grant-client_credentials').check();
    await page.locator('#app-scope-billing\\:read').check();
    await page.getByRole('button', { name: 'Register application' }).click();
    await browser.screenshot(page, 'apps-secret-once');
    clientId = (await page.locator('#client-id').textContent())!;
    secret = (await page.locator('#client-secret').textContent())!;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(page.locator('main').textContent()).resolves.toContain('shown only this once');
    expect((await clientCredentials(clientId, secret)).status).toBe(200);

    await page.goto(`${server.url}/apps`);
    await browser.screenshot(page, 'apps-list');
    const listing = await page.content();
    expect(listing).toContain(clientId);
    expect(listing).toContain('Reports backend');
    expect(listing).not.toContain(secret);
    // Only the scrypt hash is stored.
    expect((await server.core.clients.get(clientId))?.secretHash).toMatch(/^scrypt\$/);
    expect(server.logText()).not.toContain(secret);
  });

  it('refuses a redirect URI that is plain http off the local machine, keeping what was typed', async () => {
    await page.goto(`${server.url}/apps`);
    await page.getByLabel('Name (shown to people on the consent screen)').fill('Broken SPA');
    await page.getByLabel('Redirect URIs').fill('http://app.example.com/callback');
    await page.locator('#app-scope-valuate\\:read').check();
    await page.getByRole('button', { name: 'Register application' }).click();
    await expect(page.locator('.notice-error').textContent()).resolves.toContain('must use https');
    await expect(page.getByLabel('Name (shown to people on the consent screen)').inputValue()).resolves.toBe('Broken SPA');
    expect((await server.core.clients.list()).map((c) => c.name)).not.toContain('Broken SPA');
  });

  it('registers a public SPA without a secret, usable at /authorize', async () => {
    await page.goto(`${server.url}/apps`);
    await page.getByLabel('Name (shown to people on the consent screen)').fill('Valuations SPA');
    await page.getByLabel(/^Single-page app/).check();
    await page.getByLabel('Redirect URIs').fill('https://spa.example.com/callback\nhttp://localhost:5173/callback');
    await page.locator('#app-scope-valuate\\:read').check();
    await page.getByRole('button', { name: 'Register application' }).click();
    const spaId = (await page.locator('#client-id').textContent())!;
    await expect(page.locator('#client-secret').count()).resolves.toBe(0);
    const spa = await server.core.clients.get(spaId);
    expect(spa).toMatchObject({ type: 'public', redirectUris: ['https://spa.example.com/callback', 'http://localhost:5173/callback'], scopes: ['valuate:read'] });
  });

  it('rotates the secret: the new one works and the old one stops at once', async () => {
    await page.goto(`${server.url}/apps`);
    await page.getByRole('button', { name: 'New secret: Reports backend' }).click();
    const rotated = (await page.locator('#client-secret').textContent())!;
    expect(rotated).not.toBe(secret);
    expect((await clientCredentials(clientId, rotated)).status).toBe(200);
    expect((await clientCredentials(clientId, secret)).status).toBe(401);
    secret = rotated;
  });

  it('deletes the application after a confirmation, and its tokens stop working', async () => {
    const { access_token } = (await (await clientCredentials(clientId, secret)).json()) as { access_token: string };
    expect(await server.core.tokens.verifyAccessToken(access_token)).toBeDefined();
    await page.goto(`${server.url}/apps`);
    await page.getByRole('button', { name: 'Delete: Reports backend' }).click();
    await expect(page.locator('h1').textContent()).resolves.toBe('Delete Reports backend?');
    await page.getByRole('button', { name: 'Delete application' }).click();
    expect(new URL(page.url()).pathname).toBe('/apps');
    await expect(page.locator('.notice-success').textContent()).resolves.toContain('Reports backend was deleted');
    expect(await server.core.clients.get(clientId)).toBeUndefined();
    expect(await server.core.tokens.verifyAccessToken(access_token)).toBeUndefined();
    expect((await clientCredentials(clientId, secret)).status).toBe(401);
  });
});
