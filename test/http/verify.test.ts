import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import en from '../../verify-ui/messages/en.json' with { type: 'json' };
import de from '../../verify-ui/messages/de.json' with { type: 'json' };
import { hashSecret } from '../../server/src/core/secrets.js';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { PageClient, csrfOf } from './verify-client.js';

let server: TestServer;
let clientId: string;
let user: { id: string; username: string; password: string };

beforeAll(async () => {
  server = await startTestServer();
  ({ clientId } = await server.createClient({ name: 'Kitchen display' }));
  user = await server.createUser('bob');
});
afterAll(() => server.stop());

async function authorize(scope = 'valuate:read billing:read') {
  const res = await server.post('/device_authorization', { client_id: clientId, scope });
  return (await res.json()) as { device_code: string; user_code: string; verification_uri_complete: string };
}

/** Each test gets its own client IP (127.0.0.N), so the per-IP limiter of one test never touches another. */
let nextIp = 10;
function newClient(headers: Record<string, string> = {}) {
  return new PageClient(server.url, { localAddress: `127.0.0.${nextIp++}`, headers });
}

async function signIn(client: PageClient) {
  const csrf = await client.csrf('/signin');
  const res = await client.post('/signin', { csrf_token: csrf, username: user.username, password: user.password, return_to: '/devices' });
  expect(res.status).toBe(303);
}

async function enter(client: PageClient, code: string) {
  return client.post('/device', { csrf_token: await client.csrf(), user_code: code });
}

function alertText(html: string): string | undefined {
  return /role="alert">([^<]*)</.exec(html)?.[1];
}

describe('security of the verification pages', () => {
  it('refuses every form without the session\'s CSRF token, with a foreign one, or sent cross-site', async () => {
    const a = newClient();
    const b = newClient();
    const tokenA = await a.csrf();
    const tokenB = await b.csrf();
    expect(tokenA).not.toBe(tokenB);
    for (const path of ['/device', '/device/consent', '/signin', '/devices/rename', '/devices/revoke']) {
      expect((await a.post(path, { user_code: 'BCDF-GHJKC' })).status, path).toBe(403);
      expect((await a.post(path, { csrf_token: tokenB, user_code: 'BCDF-GHJKC' })).status, path).toBe(403);
    }
    expect((await a.post('/device', { csrf_token: tokenA, user_code: 'BCDF-GHJKC' }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await a.post('/device', { csrf_token: tokenA, user_code: 'BCDF-GHJKC' })).status).toBe(400);
  });

  it('sends a strict CSP, no-store, no-referrer and an HttpOnly SameSite=Lax cookie without Secure over http', async () => {
    const res = await newClient().get('/device');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('script-src');
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['strict-transport-security']).toBeUndefined();
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^kalm_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');
    expect(cookie).not.toContain('Secure');
    // No inline style or script anywhere: the CSP would block them.
    expect(res.body).not.toMatch(/<script|style=|<style/i);
  });

  it('marks the cookie Secure (__Host-) and upgrades insecure requests when PUBLIC_URL is https', async () => {
    const https = await startTestServer({ config: { publicUrl: 'https://auth.example.com' } });
    try {
      const res = await new PageClient(https.url).get('/device');
      expect(String(res.headers['set-cookie'])).toMatch(/^__Host-kalm_session=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
      expect(String(res.headers['content-security-policy'])).toContain('upgrade-insecure-requests');
      expect(res.headers['strict-transport-security']).toContain('max-age=31536000');
    } finally {
      await https.stop();
    }
  });

  it('serves the stylesheet at a hashed path with a year-long immutable cache', async () => {
    const page = await newClient().get('/device');
    const href = /<link rel="stylesheet" href="([^"]+)"/.exec(page.body)![1]!;
    expect(href).toMatch(/^\/assets\/verify-[A-Za-z0-9_-]{12}\.css$/);
    const css = await fetch(`${server.url}${href}`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toContain('text/css');
    expect(css.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('never puts the user code in a redirect Location or a log line, and moves a linked code out of the URL', async () => {
    const auth = await authorize();
    const client = newClient();
    const linked = await client.get(new URL(auth.verification_uri_complete).pathname + new URL(auth.verification_uri_complete).search);
    expect(linked.status).toBe(303);
    expect(linked.location).toBe('/device');
    expect(linked.headers['referrer-policy']).toBe('no-referrer');
    const confirm = await client.get('/device');
    expect(confirm.body).toContain(auth.user_code);
    const confirmed = await client.post('/device', { csrf_token: csrfOf(confirm.body), action: 'confirm' });
    expect(confirmed.location).toBe('/signin?return_to=%2Fdevice%2Fconsent');
    const signInPage = await client.get(confirmed.location!);
    const signedIn = await client.post('/signin', {
      csrf_token: csrfOf(signInPage.body),
      username: user.username,
      password: user.password,
      return_to: '/device/consent',
    });
    expect(signedIn.location).toBe('/device/consent');
    const consent = await client.get('/device/consent');
    const done = await client.post('/device/consent', { csrf_token: csrfOf(consent.body), decision: 'approve', scope: ['billing:read'] });
    expect(done.location).toBe('/device/done');
    expect((await client.get('/device/done')).body).toContain('Device connected');

    const forms = [auth.user_code, auth.user_code.replace('-', ''), auth.user_code.toLowerCase(), auth.user_code.replace('-', '').toLowerCase()];
    expect(client.locations.length).toBeGreaterThanOrEqual(4);
    for (const location of client.locations) for (const form of forms) expect(location).not.toContain(form);
    const logs = server.logText();
    expect(logs).toContain('/device/consent'); // the request log is on, so this assertion can fail
    for (const form of forms) expect(logs).not.toContain(form);
  });

  it('rotates the session id at sign-in: the old cookie is no longer signed in', async () => {
    const client = newClient();
    await client.get('/signin');
    const before = [...client.cookies.values()][0]!;
    await signIn(client);
    const after = [...client.cookies.values()][0]!;
    expect(after).not.toBe(before);
    expect((await client.get('/devices')).status).toBe(200);
    const stale = newClient({ cookie: `kalm_session=${before}` });
    const res = await stale.get('/devices');
    expect(res.status).toBe(303);
    expect(res.location).toBe('/signin?return_to=%2Fdevices');
  });

  it('ends the session at sign-out: the old cookie opens nothing', async () => {
    const client = newClient();
    await signIn(client);
    const cookie = [...client.cookies.values()][0]!;
    const out = await client.post('/signout', { csrf_token: await client.csrf('/devices') });
    expect(out.location).toBe('/signin');
    const replay = newClient({ cookie: `kalm_session=${cookie}` });
    expect((await replay.get('/devices')).location).toBe('/signin?return_to=%2Fdevices');
  });

  it('ends a signed-in session after 2 h idle, and any session 12 h after sign-in', async () => {
    const idle = newClient();
    await signIn(idle);
    server.clock.advance(2 * 3600_000 + 1);
    expect((await idle.get('/devices')).location).toBe('/signin?return_to=%2Fdevices');

    const busy = newClient();
    await signIn(busy);
    for (let hour = 0; hour < 11; hour++) {
      server.clock.advance(3600_000);
      expect((await busy.get('/devices')).status).toBe(200);
    }
    server.clock.advance(3600_000);
    expect((await busy.get('/devices')).location).toBe('/signin?return_to=%2Fdevices');
  });

  it('keeps session ids out of the store: it finds a session by the SHA-256 of its id only', async () => {
    const client = newClient();
    await client.get('/device');
    const id = [...client.cookies.values()][0]!;
    expect(await server.core.store.sessions.get(hashSecret(id), server.clock.now())).toBeDefined();
    expect(await server.core.store.sessions.get(Buffer.from(id), server.clock.now())).toBeUndefined();
  });

  it('returns only to local paths after sign-in', async () => {
    const client = newClient();
    for (const evil of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)', '/ok\nSet-Cookie:x']) {
      const page = await client.get(`/signin?return_to=${encodeURIComponent(evil)}`);
      expect(page.body).toContain('name="return_to" value="/devices"');
    }
    const page = await client.get('/signin?return_to=%2Fdevice%2Fconsent');
    expect(page.body).toContain('name="return_to" value="/device/consent"');
    // The posted value is checked again: a hand-made form cannot send the person elsewhere.
    const res = await client.post('/signin', { csrf_token: csrfOf(page.body), username: user.username, password: user.password, return_to: '//evil.example/x' });
    expect(res.location).toBe('/devices');
  });

  it('answers a wrong password with 401 and the same page, and limits repeated failures', async () => {
    const client = newClient();
    const csrf = await client.csrf('/signin');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await client.post('/signin', { csrf_token: csrf, username: user.username, password: 'wrong password' })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    server.clock.advance(30_000);
  });
});

describe('code entry', () => {
  it('gives unknown, expired and already-used codes one and the same answer', async () => {
    const client = newClient();
    const expired = await authorize();
    server.clock.advance(601_000);
    const used = await authorize();
    await server.core.deviceFlow.deny(used.user_code);
    const answers = [];
    for (const code of ['BCDF-GHJKC', expired.user_code, used.user_code]) {
      const res = await enter(client, code);
      answers.push({ status: res.status, alert: alertText(res.body) });
    }
    expect(answers[0]!.status).toBe(400);
    expect(answers[0]!.alert).toContain('That code didn&#39;t work');
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  it('tells a typo the check character caught in the person\'s language, apart from a wrong code', async () => {
    const auth = await authorize();
    const swapped = `${auth.user_code.slice(0, 2)}${auth.user_code[3]}${auth.user_code[2]}${auth.user_code.slice(4)}`;
    const changed = `${auth.user_code.slice(0, -1)}${auth.user_code.endsWith('B') ? 'C' : 'B'}`;
    for (const [headers, message] of [[{}, en.messages['entry.typo']], [{ 'accept-language': 'de' }, de.messages['entry.typo']]] as const) {
      const client = newClient(headers);
      for (const typo of [swapped, changed].filter((t) => t !== auth.user_code)) {
        const res = await enter(client, typo);
        expect(res.status, typo).toBe(400);
        expect(alertText(res.body), typo).toBe(message);
        expect(res.body).toContain(`value="${typo}"`);
      }
    }
    expect(en.messages['entry.typo']).toBe('That code has a typo — check the letters on your TV.');
    expect(de.messages['entry.typo']).toBe('Dieser Code hat einen Tippfehler – prüfe die Buchstaben auf deinem Fernseher.');
  });

  it('escapes what was typed when it shows it back', async () => {
    const client = newClient();
    const res = await enter(client, '"><script>alert(1)</script>');
    expect(res.status).toBe(400);
    expect(res.body).not.toContain('<script>');
    expect(res.body).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script');
  });

  it('turns a mangled link into code entry with the escaped value and asks for a well-formed code', async () => {
    const client = newClient();
    const linked = await client.get(`/device?user_code=${encodeURIComponent('<b>x</b>')}`);
    expect(linked.location).toBe('/device');
    const res = await client.get('/device');
    expect(res.body).not.toContain('<b>x</b>');
    expect(res.body).toContain('value="&lt;B&gt;X&lt;/B&gt;"');
    expect(alertText(res.body)).toBe('A code has 9 letters, like BCDF-GHJKC. Check what you typed.');
  });

  it('lets only one of two people decide a code: the second is told it was already used', async () => {
    const auth = await authorize('valuate:read billing:read');
    const [first, second] = [newClient(), newClient()];
    for (const c of [first, second]) {
      await signIn(c);
      expect((await enter(c, auth.user_code)).location).toBe('/device/consent');
    }
    const consents = await Promise.all([first.get('/device/consent'), second.get('/device/consent')]);
    const a = await first.post('/device/consent', { csrf_token: csrfOf(consents[0].body), decision: 'approve', scope: 'valuate:read' });
    const b = await second.post('/device/consent', { csrf_token: csrfOf(consents[1].body), decision: 'approve', scope: ['valuate:read', 'billing:read'] });
    expect([a.location, b.location]).toEqual(['/device/done', '/device/done']);
    expect((await first.get('/device/done')).body).toContain('Device connected');
    expect((await second.get('/device/done')).body).toContain('This code was already used');
    const tokens = await server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: auth.device_code, client_id: clientId });
    expect(await tokens.json()).toMatchObject({ scope: 'valuate:read' });
  });

  it('says a code that expired while the consent page was open has expired, and it stays undecided', async () => {
    const auth = await authorize('valuate:read');
    const client = newClient();
    await signIn(client);
    await enter(client, auth.user_code);
    const consent = await client.get('/device/consent');
    server.clock.advance(601_000);
    const res = await client.post('/device/consent', { csrf_token: csrfOf(consent.body), decision: 'approve', scope: 'valuate:read' });
    expect(res.location).toBe('/device/done');
    expect((await client.get('/device/done')).body).toContain('This code has expired');
    const poll = await server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: auth.device_code, client_id: clientId });
    expect(await poll.json()).toMatchObject({ error: 'expired_token' });
  });

  it('refuses a scope that was not requested, even from a hand-made form', async () => {
    const auth = await authorize('valuate:read');
    const client = newClient();
    await signIn(client);
    await enter(client, auth.user_code);
    const consent = await client.get('/device/consent');
    const res = await client.post('/device/consent', { csrf_token: csrfOf(consent.body), decision: 'approve', scope: ['valuate:read', 'organization:admin'] });
    expect(res.status).toBe(400);
    expect(await server.core.deviceFlow.findPending(auth.user_code)).toBeDefined();
  });
});

describe('brute-force limiter arithmetic (fake clock)', () => {
  it('allows 5 free failures, then waits 30 s, 60 s, 120 s, …, and a success never resets the count', async () => {
    const client = newClient();
    const wrong = () => enter(client, 'BCDF-GHJKC');
    for (let i = 0; i < 5; i++) expect((await wrong()).status).toBe(400);
    let limited = await wrong();
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('30');
    expect(limited.body).toContain('wait 30 seconds');

    server.clock.advance(29_000);
    expect((await wrong()).headers['retry-after']).toBe('1');
    server.clock.advance(1_000);
    // A live code is accepted when the wait is over, but that does not reset anything.
    const live = await authorize();
    expect((await enter(client, live.user_code)).status).toBe(303);
    expect((await wrong()).status).toBe(400); // failure 6
    limited = await wrong();
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('60');
    server.clock.advance(60_000);
    expect((await wrong()).status).toBe(400); // failure 7
    expect((await wrong()).headers['retry-after']).toBe('120');
  });

  it('limits per client IP across fresh sessions, and per session across IPs', async () => {
    const ip = `127.0.0.${nextIp++}`;
    for (let i = 0; i < 5; i++) {
      const fresh = new PageClient(server.url, { localAddress: ip });
      expect((await enter(fresh, 'BCDF-GHJKC')).status).toBe(400);
    }
    expect((await enter(new PageClient(server.url, { localAddress: ip }), 'BCDF-GHJKC')).status).toBe(429);

    const roaming = newClient();
    for (let i = 0; i < 5; i++) expect((await enter(roaming, 'BCDF-GHJKC')).status).toBe(400);
    const sameSessionOtherIp = new PageClient(server.url, { localAddress: `127.0.0.${nextIp++}` });
    for (const [k, v] of roaming.cookies) sameSessionOtherIp.cookies.set(k, v);
    expect((await enter(sameSessionOtherIp, 'BCDF-GHJKC')).status).toBe(429);
  });

  it('counts a burst of parallel wrong codes one by one: only the free ones get through', async () => {
    const client = newClient();
    const csrf = await client.csrf();
    const burst = await Promise.all(Array.from({ length: 20 }, () => client.post('/device', { csrf_token: csrf, user_code: 'BCDF-GHJKC' })));
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((s) => s === 400)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
  });

  it('lets one client IP make at most 9 guesses during a 600 s code lifetime', async () => {
    const keys = ['device:ip:192.0.2.1'];
    const start = server.clock.now();
    let guesses = 0;
    // An attacker who guesses at the earliest moment the limiter allows, for 600 s.
    while (server.clock.now() - start < 600_000) {
      const verdict = await server.core.attempts.check(keys);
      if (verdict.limited) {
        server.clock.advance(verdict.retryAfterMs);
        continue;
      }
      guesses++;
      await server.core.attempts.fail(keys);
    }
    expect(guesses).toBe(9);
    expect([5, 6, 7, 8, 9, 10].map((n) => server.core.attempts.delayAfter(n) / 1000)).toEqual([30, 60, 120, 240, 480, 960]);
  });
});

describe('languages', () => {
  it('speaks German to a browser that prefers it, and English otherwise', async () => {
    const german = await newClient({ 'accept-language': 'de-AT,de;q=0.9,en;q=0.5' }).get('/device');
    expect(german.body).toContain('<html lang="de">');
    expect(german.body).toContain('Gib den Code ein');
    expect(german.headers['content-language']).toBe('de');
    expect((await newClient({ 'accept-language': 'fr-FR, de;q=0.7, en;q=0.3' }).get('/device')).body).toContain('<html lang="de">');
    expect((await newClient({ 'accept-language': 'fr-FR, en;q=0.9, de;q=0.8' }).get('/device')).body).toContain('<html lang="en">');
    expect((await newClient({ 'accept-language': 'ja' }).get('/device')).body).toContain('Enter the code shown on your TV');
  });

  it('has every English message translated into German', () => {
    expect(Object.keys(de.messages).sort()).toEqual(Object.keys(en.messages).sort());
  });
});

describe('My devices', () => {
  it('asks for sign-in, and never lets a person rename or revoke another person\'s device', async () => {
    expect((await newClient().get('/devices')).location).toBe('/signin?return_to=%2Fdevices');
    const auth = await authorize('valuate:read');
    await server.core.deviceFlow.approve(auth.user_code, user.id, ['valuate:read']);
    const tokens = (await (await server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: auth.device_code, client_id: clientId })).json()) as { refresh_token: string };
    const grant = (await server.core.pairedDevices.list(user.id))[0]!;

    const mallory = await server.createUser('mallory');
    const intruder = newClient();
    const page = await intruder.get('/signin');
    await intruder.post('/signin', { csrf_token: csrfOf(page.body), username: mallory.username, password: mallory.password });
    const csrf = await intruder.csrf('/devices');
    await intruder.post('/devices/revoke', { csrf_token: csrf, grant_id: grant.grantId, confirm: 'yes' });
    expect((await intruder.get('/devices')).body).toContain('That device is not connected to your account any more.');
    const refreshed = await server.post('/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: clientId });
    expect(refreshed.status).toBe(200);
  });

  it('asks for confirmation before revoking, and revokes nothing until confirmed', async () => {
    const auth = await authorize('billing:read');
    await server.core.deviceFlow.approve(auth.user_code, user.id, ['billing:read']);
    await server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: auth.device_code, client_id: clientId });
    const owner = newClient();
    await signIn(owner);
    const grantId = (await server.core.pairedDevices.list(user.id))[0]!.grantId;
    const ask = await owner.post('/devices/revoke', { csrf_token: await owner.csrf('/devices'), grant_id: grantId });
    expect(ask.status).toBe(200);
    expect(ask.body).toContain('Revoke access for Kitchen display?');
    expect((await server.core.pairedDevices.list(user.id)).map((d) => d.grantId)).toContain(grantId);
    const done = await owner.post('/devices/revoke', { csrf_token: csrfOf(ask.body), grant_id: grantId, confirm: 'yes' });
    expect(done.location).toBe('/devices');
    expect((await server.core.pairedDevices.list(user.id)).map((d) => d.grantId)).not.toContain(grantId);
  });
});
