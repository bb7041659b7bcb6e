import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, type JWK } from 'jose';
import jsqr from 'jsqr';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let browser: TestBrowser;

beforeAll(async () => {
  server = await startTestServer();
  // Tests run with the demo off: create the client the TV page pairs as.
  await server.createClient({ id: 'tv-demo', name: 'Kalm TV demo' });
  browser = await launchBrowser({ viewport: { width: 1920, height: 1080 } });
  // The page's clock is the server's (fake) one: DPoP proofs carry it as iat (RFC 9449 §4.3).
  await browser.context.clock.setFixedTime(server.clock.now());
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** The QR code on a PNG screenshot, decoded. */
function decodeQr(file: string): string | undefined {
  const png = PNG.sync.read(readFileSync(file));
  return jsqr.default(new Uint8ClampedArray(png.data), png.width, png.height)?.data;
}

/** What the page keeps in IndexedDB: the pairing, and the DPoP key as the page sees it. */
function readStore(page: Page) {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open('kalm-device');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const get = <T>(key: string) =>
      new Promise<T>((resolve) => {
        const req = db.transaction('kalm').objectStore('kalm').get(key);
        req.onsuccess = () => resolve(req.result as T);
      });
    const pairing = await get<{ accessToken: string; refreshToken: string; tokenType: string } | undefined>('pairing');
    const key = await get<CryptoKeyPair>('dpop-key');
    const exportPrivate = await crypto.subtle.exportKey('jwk', key.privateKey).then(
      () => 'exported',
      (e: Error) => e.name,
    );
    db.close();
    return {
      pairing,
      isCryptoKey: key.privateKey instanceof CryptoKey,
      extractable: key.privateKey.extractable,
      exportPrivate,
      publicJwk: await crypto.subtle.exportKey('jwk', key.publicKey),
    };
  });
}

describe('TV demo page', () => {
  it('shows a 1920×1080 pairing screen whose QR code decodes to verification_uri_complete, and signs in through push on approval', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));

    const response = await page.goto(`${server.url}/tv`);
    expect(response!.headers()['content-security-policy']).toMatch(/script-src 'self'(;|$)/);
    await page.waitForSelector('body[data-state="pairing"][data-push="open"]');
    const userCode = (await page.textContent('#user-code'))!.trim();
    expect(userCode).toMatch(/^[A-Z]{4}-[A-Z]{5}$/);
    expect(await page.textContent('#short-url')).toBe(`${server.url.replace('http://', '')}/device`);
    expect(await page.textContent('#countdown')).toMatch(/^Code expires in (10:00|9:5\d)$/);

    const shot = await browser.screenshot(page, 'tv-pairing');
    expect(decodeQr(shot)).toBe(`${server.url}/device?user_code=${userCode}`);

    const user = await server.createUser();
    await server.core.deviceFlow.approve(userCode, user.id, ['valuate:read', 'billing:read']);
    await page.waitForSelector('body[data-state="signed-in"]');
    expect(await page.textContent('#signed-in h1')).toBe('Signed in');
    const scopes = await page.$$eval('#scopes code', (codes) => codes.map((c) => c.textContent));
    expect(scopes).toEqual(['valuate:read', 'billing:read']);
    await browser.screenshot(page, 'tv-signed-in');

    // The signed-in TV watches its pairing: revoking it from "My devices" signs it out at once.
    await page.waitForSelector('body[data-watch="paired"]');
    const [grant] = await server.core.store.grants.listByUser(user.id);
    await server.core.tokens.revokeGrant(grant!.id);
    await page.waitForSelector('body[data-state="message"]');
    expect(await page.textContent('#message-title')).toBe('Signed out');
    expect(problems).toEqual([]);
  });

  it('says the sign-in was declined when the person denies', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/tv`);
    await page.waitForSelector('body[data-state="pairing"][data-push="open"]');
    await server.core.deviceFlow.deny((await page.textContent('#user-code'))!.trim());
    await page.waitForSelector('body[data-state="message"]');
    expect(await page.textContent('#message-title')).toBe('Sign-in declined');
    await browser.screenshot(page, 'tv-declined');
  });

  it('pairs with a DPoP token bound to a non-extractable key kept in IndexedDB, and after a reload refreshes it with that key', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${server.url}/tv`);
    await page.waitForSelector('body[data-state="pairing"][data-push="open"]');
    const user = await server.createUser();
    await server.core.deviceFlow.approve((await page.textContent('#user-code'))!.trim(), user.id, ['valuate:read']);
    await page.waitForSelector('body[data-state="signed-in"]');
    expect(await page.textContent('#token-type')).toBe('DPoP token');
    expect(await page.textContent('#binding-text')).toBe('bound to this TV’s key');
    const jkt = (await page.textContent('#jkt'))!;

    // The key is a CryptoKey in IndexedDB that the page itself cannot export; the token names it.
    const stored = await readStore(page);
    expect(stored).toMatchObject({ isCryptoKey: true, extractable: false, exportPrivate: 'InvalidAccessError', pairing: { tokenType: 'DPoP' } });
    expect(await calculateJwkThumbprint(stored.publicJwk as JWK)).toBe(jkt);
    // The paired push subscription carries a proof of that key, and the server accepts it.
    await page.waitForSelector('body[data-watch="paired"]');

    // Two hours later the access token is stale: a reload resumes from IndexedDB and refreshes
    // with a proof of the same key (a refresh without it, or with another key, is refused).
    server.clock.advance(2 * 3_600_000);
    await browser.context.clock.setFixedTime(server.clock.now());
    await page.reload();
    await page.waitForSelector('body[data-state="signed-in"][data-watch="paired"]');
    const after = await readStore(page);
    expect(after.pairing!.refreshToken).not.toBe(stored.pairing!.refreshToken);
    expect(after.publicJwk).toEqual(stored.publicJwk);
    expect(await page.textContent('#jkt')).toBe(jkt);

    const [grant] = await server.core.store.grants.listByUser(user.id);
    await server.core.tokens.revokeGrant(grant!.id);
    await page.waitForSelector('body[data-state="message"]');
    expect((await readStore(page)).pairing).toBeUndefined();
    expect(problems).toEqual([]);
  });

  it('serves the script as an external, cacheable file and refuses inline script', async () => {
    const html = await (await fetch(`${server.url}/tv`)).text();
    const src = /<script type="module" src="(\/tv\/app\.[0-9a-f]{12}\.js)"><\/script>/.exec(html)?.[1];
    expect(src).toBeDefined();
    expect(html).not.toMatch(/<script(?![^>]*src=)[^>]*>/);
    const script = await fetch(`${server.url}${src}`);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect(script.headers.get('cache-control')).toContain('immutable');
    expect((await script.text()).length).toBeGreaterThan(1000);
  });
});
