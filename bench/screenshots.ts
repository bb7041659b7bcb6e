/**
 * The screenshots of the admin dashboard in docs/screenshots/, made again by anyone:
 *
 *   node --import tsx bench/screenshots.ts [--out docs/screenshots]
 *
 * Starts a server on a temp data dir with a fake clock, plays a day of device flows over HTTP the
 * way devices and people make them (device authorization, sign-in, code entry and consent on the
 * pages, the device's token request, a refresh now and then; codes left to expire; a browser that
 * types wrong codes until the limiter holds it back), then opens /admin and /admin/devices as an
 * admin in Debian's Chromium (playwright-core, JavaScript off, as test/admin does) at 1280×800 and
 * 390×844. The flows are drawn from a seeded generator, so every run draws the same day.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { defaultConfig } from '../server/src/config.js';
import { GRANT_TYPES } from '../server/src/core/clients.js';
import { formatUserCode } from '../server/src/core/user-codes.js';
import { createLogger } from '../server/src/logger.js';
import { startServer, type RunningServer } from '../server/src/server.js';
import { launchBrowser } from '../test/helpers/browser.js';
import { fakeClock, type FakeClock } from '../test/helpers/clock.js';
import { csrfOf, PageClient } from '../test/http/verify-client.js';
import { freePort } from './lib/net.js';

const { values: args } = parseArgs({ options: { out: { type: 'string', default: 'docs/screenshots' } } });
const OUT = path.resolve(args.out!);

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The moment the screenshots show: a Wednesday afternoon. */
const NOW = Date.UTC(2026, 2, 11, 14, 30);
const PASSWORD = 'correct horse battery';
const ADMIN = { username: 'root', password: 'admin password 1' };

/** A small seeded generator (mulberry32): the same day of flows on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seeded(15);


type Outcome = 'redeemed' | 'approved' | 'denied' | 'expired';

/** A person with a browser session on the pages (signed in again when the session went idle). */
interface Person {
  username: string;
  client: PageClient;
}

async function main() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-screenshots-'));
  const clock = fakeClock(NOW - 24 * HOUR);
  const port = await freePort();
  const config = defaultConfig({ port, host: '127.0.0.1', dataDir, demo: false, publicUrl: `http://127.0.0.1:${port}` });
  const server = await startServer(config, { clock, logger: createLogger('warn') });
  try {
    await playTheDay(server, clock);
    clock.set(NOW);
    await takeScreenshots(server);
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function playTheDay(server: RunningServer, clock: FakeClock) {
  const { core } = server;
  const scopes = ['valuate:read', 'valuate:write', 'organization:read'];
  const newClient = async (name: string) =>
    (await core.clients.create({ name, type: 'public', grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken], scopes })).client.id;
  const clients = [await newClient('Living-room TV'), await newClient('Doorbell'), await newClient('Thermostat')];
  await core.users.create({ ...ADMIN, role: 'admin' });
  const people: Person[] = [];
  for (const [i, username] of ['alice', 'bob', 'carol'].entries()) {
    await core.users.create({ username, password: PASSWORD });
    people.push({ username, client: new PageClient(server.url, { localAddress: `127.0.0.${11 + i}` }) });
  }

  // About 160 flows in the last 24 hours, busier in the evening, a burst in the last hour.
  const starts: number[] = [];
  for (let t = NOW - 24 * HOUR + 5 * MINUTE; t < NOW - 12 * MINUTE; t += 4 * MINUTE) {
    const hour = new Date(t).getUTCHours();
    const busy = hour >= 17 && hour <= 22 ? 0.75 : hour >= 1 && hour <= 6 ? 0.05 : 0.3;
    if (random() < busy) starts.push(t + Math.floor(random() * 3 * MINUTE));
  }
  for (let t = NOW - 55 * MINUTE; t < NOW - 12 * MINUTE; t += 3 * MINUTE) starts.push(t);
  // The clock only moves forward.
  starts.sort((a, b) => a - b);
  const paired: Array<{ clientId: string; refreshToken: string }> = [];
  let refreshes = 0;
  for (const start of starts) {
    const r = random();
    const outcome: Outcome = r < 0.55 ? 'redeemed' : r < 0.62 ? 'approved' : r < 0.82 ? 'denied' : 'expired';
    const clientId = clients[Math.floor(random() * clients.length)]!;
    const person = people[Math.floor(random() * people.length)]!;
    clock.set(start);
    const refreshToken = await deviceFlow(clock, server.url, clientId, person, outcome, 10_000 + Math.floor(random() * 80_000));
    if (refreshToken) paired.push({ clientId, refreshToken });
    // Now and then a device paired earlier refreshes its tokens (RFC 6749 §6; the token rotates).
    if (paired.length > 0 && random() < 0.12) {
      const device = paired[Math.floor(random() * paired.length)]!;
      device.refreshToken = await refresh(server.url, device.clientId, device.refreshToken);
      refreshes++;
    }
  }
  // Codes that ran out undecided are told as expired (the server's expiry timer does it on the real clock).
  clock.set(NOW - 5 * MINUTE);
  await core.expiry.sweep();
  // A browser guessing codes and one guessing bob's password: five wrong tries each, then the limiters hold them back.
  const codeGuesser = new PageClient(server.url, { localAddress: '127.0.0.98' });
  const codeCsrf = await codeGuesser.csrf('/device');
  for (let i = 0; i < 5; i++) await codeGuesser.post('/device', { csrf_token: codeCsrf, user_code: formatUserCode(`BCDFGHJ${'LMNPQ'[i]}`) });
  const passwordGuesser = new PageClient(server.url, { localAddress: '127.0.0.99' });
  const signInCsrf = await passwordGuesser.csrf('/signin');
  for (let i = 0; i < 5; i++) await passwordGuesser.post('/signin', { csrf_token: signInCsrf, username: 'bob', password: `guess ${i}` });
  console.log(`${starts.length} device flows, ${refreshes} refreshes`);
}

function post(baseUrl: string, pathname: string, form: Record<string, string>) {
  return fetch(`${baseUrl}${pathname}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
}

/** The device's refresh at `/token`: the new refresh token. */
async function refresh(baseUrl: string, clientId: string, refreshToken: string): Promise<string> {
  const res = await post(baseUrl, '/token', { grant_type: GRANT_TYPES.refreshToken, refresh_token: refreshToken, client_id: clientId });
  if (res.status !== 200) throw new Error(`refresh: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { refresh_token: string }).refresh_token;
}

/** One device flow over HTTP; the refresh token when the device redeemed its code. */
async function deviceFlow(clock: FakeClock, baseUrl: string, clientId: string, person: Person, outcome: Outcome, decideAfterMs: number) {
  const res = await post(baseUrl, '/device_authorization', { client_id: clientId, scope: 'valuate:read valuate:write' });
  if (res.status !== 200) throw new Error(`device_authorization: ${res.status} ${await res.text()}`);
  const auth = (await res.json()) as { device_code: string; user_code: string };
  if (outcome === 'expired') return undefined;
  clock.advance(decideAfterMs);
  await signedIn(person);
  const entered = await person.client.post('/device', { csrf_token: await person.client.csrf('/device'), user_code: auth.user_code });
  if (entered.location !== '/device/consent') throw new Error(`code entry: ${entered.status} ${entered.location}`);
  const consent = await person.client.get('/device/consent');
  const decision = outcome === 'denied' ? 'deny' : 'approve';
  const done = await person.client.post('/device/consent', { csrf_token: csrfOf(consent.body), decision, scope: ['valuate:read', 'valuate:write'] });
  if (done.status !== 303) throw new Error(`consent: ${done.status}`);
  if (outcome !== 'redeemed') return undefined;
  clock.advance(2_000);
  const token = await post(baseUrl, '/token', { grant_type: GRANT_TYPES.deviceCode, device_code: auth.device_code, client_id: clientId });
  if (token.status !== 200) throw new Error(`token: ${token.status} ${await token.text()}`);
  return ((await token.json()) as { refresh_token: string }).refresh_token;
}

/** Sign `person` in on the pages unless they still are (the sign-in page then sends them on). */
async function signedIn(person: Person) {
  const page = await person.client.get('/signin');
  if (page.status === 303) return;
  const res = await person.client.post('/signin', { csrf_token: csrfOf(page.body), username: person.username, password: PASSWORD, return_to: '/devices' });
  if (res.status !== 303) throw new Error(`sign-in: ${res.status}`);
}

async function takeScreenshots(server: RunningServer) {
  mkdirSync(OUT, { recursive: true });
  for (const viewport of [
    { width: 1280, height: 800 },
    { width: 390, height: 844 },
  ]) {
    const browser = await launchBrowser({ viewport, javaScriptEnabled: false });
    try {
      const page = await browser.newPage();
      await signInAsAdmin(server, page);
      const size = `${viewport.width}x${viewport.height}`;
      // The dashboard from the top to the end of the clients (figures and both charts); the 20
      // audit events below are rows of text that would take the PNG past 200 KB.
      const clients = await page.locator('#clients').boundingBox();
      if (!clients) throw new Error('no clients section on /admin');
      await shoot(page, `admin-${size}.png`, { x: 0, y: 0, width: viewport.width, height: Math.ceil(clients.y + clients.height + 16) });
      if (viewport.width === 1280) {
        // The first screen of the list (it holds every paired device of the day).
        await page.goto(`${server.url}/admin/devices`);
        await shoot(page, `admin-devices-${size}.png`, { x: 0, y: 0, ...viewport });
      }
    } finally {
      await browser.close();
    }
  }
}

async function signInAsAdmin(server: RunningServer, page: Page) {
  await page.goto(`${server.url}/signin?return_to=%2Fadmin`);
  await page.locator('#username').fill(ADMIN.username);
  await page.locator('#password').fill(ADMIN.password);
  await page.locator('form[action="/signin"] button[type="submit"]').click();
  if (new URL(page.url()).pathname !== '/admin') throw new Error(`signed in to ${page.url()}`);
}

/** Screenshots stay small enough to keep in the repository. */
const MAX_BYTES = 200 * 1024;

async function shoot(page: Page, name: string, clip: { x: number; y: number; width: number; height: number }) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  if (overflow > 0) throw new Error(`${name}: the page is ${overflow} px wider than the screen`);
  const file = path.join(OUT, name);
  await page.screenshot({ path: file, fullPage: true, clip });
  const { size } = statSync(file);
  console.log(`${path.relative(process.cwd(), file)}: ${clip.width}×${clip.height}, ${Math.round(size / 1024)} KB`);
  if (size > MAX_BYTES) throw new Error(`${name} is ${Math.round(size / 1024)} KB, more than ${MAX_BYTES / 1024} KB`);
}

await main();
