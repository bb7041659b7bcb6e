import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USER_CODE_ALPHABET, USER_CODE_LENGTH, formatUserCode, normalizeUserCode, readUserCode } from '../../server/src/core/user-codes.js';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { PageClient, csrfOf } from '../http/verify-client.js';
import { seededRandom } from './support/random.js';

// RFC 8628 §5.1: how many user-code guesses the code-entry limits let through, measured
// over HTTP with the fake clock, from one client IP and from many (127.0.0.N), for an
// attacker who throws the cookie away after every guess and retries the moment
// Retry-After allows. The figures printed here are the ones in the README.

let server: TestServer;
let clientId: string;
const rng = seededRandom(8628);
let nextHost = 2;
/** A block of fresh loopback addresses, one per simulated attacker machine. */
const addresses = (n: number) => Array.from({ length: n }, () => `127.0.${Math.floor(nextHost / 250)}.${(nextHost++ % 250) + 2}`);

beforeAll(async () => {
  server = await startTestServer({ logLevel: 'warn' });
  ({ clientId } = await server.createClient({ name: 'Victim TV' }));
});
afterAll(() => server.stop());

function randomCode(): string {
  return Array.from({ length: USER_CODE_LENGTH }, () => USER_CODE_ALPHABET[rng.int(0, USER_CODE_ALPHABET.length)]).join('');
}

/** One guess from `ip` in a brand-new session: 400 (wrong, counted), 429 (limited) or 303 (a live code). Well-formed: its check character holds. */
async function guess(ip: string, code = formatUserCode(randomCode())) {
  const browser = new PageClient(server.url, { localAddress: ip });
  const csrf = await browser.csrf('/device');
  return browser.post('/device', { csrf_token: csrf, user_code: code });
}

/** One password guess for `username` from `ip` in a brand-new session: 401 (wrong, counted), 429 (limited) or 303 (signed in). */
async function passwordGuess(ip: string, username: string, password = `guess-${rng.int(0, 1e9)}`) {
  const browser = new PageClient(server.url, { localAddress: ip });
  const csrf = await browser.csrf('/signin');
  return browser.post('/signin', { csrf_token: csrf, username, password });
}

/** Guesses that reach the code lookup within `windowMs`, from each of `ips`, each as early as allowed. */
async function measure(
  ips: string[],
  windowMs: number,
  attempt: (ip: string) => Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> = (ip) => guess(ip),
  wrongStatus = 400,
): Promise<{ guesses: number; limitedAnswers: number }> {
  const start = server.clock.now();
  const nextAt = new Map(ips.map((ip) => [ip, start]));
  let guesses = 0;
  let limitedAnswers = 0;
  for (;;) {
    // The attacker machine whose wait ends first goes next.
    const [ip, at] = [...nextAt].reduce((a, b) => (b[1] < a[1] ? b : a));
    if (at - start >= windowMs) break;
    server.clock.set(at);
    const res = await attempt(ip);
    if (res.status === 429) {
      limitedAnswers++;
      nextAt.set(ip, at + Number(res.headers['retry-after']) * 1000);
    } else {
      expect(res.status).toBe(wrongStatus);
      guesses++;
    }
  }
  server.clock.set(start + windowMs);
  return { guesses, limitedAnswers };
}

/** What the policy allows one key in `windowMs`: guess i comes delayAfter(i) after guess i-1. */
function allowedByPolicy(windowMs: number): number {
  let t = 0;
  let n = 0;
  while (t < windowMs) {
    n++;
    t += server.core.attempts.delayAfter(n);
  }
  return n;
}

const MINUTE = 60_000;
const LIFETIME = 600_000; // DEVICE_CODE_TTL default
const CODE_SPACE = USER_CODE_ALPHABET.length ** USER_CODE_LENGTH;

describe('brute force on code entry (RFC 8628 §5.1)', () => {
  it('lets one client IP make 9 guesses in a code lifetime, 11 in an hour and 34 in a day, however many sessions it opens', async () => {
    const [ip] = addresses(1);
    const lifetime = await measure([ip!], LIFETIME);
    const [ip2] = addresses(1);
    const hour = await measure([ip2!], 60 * MINUTE);
    const [ip3] = addresses(1);
    const day = await measure([ip3!], 24 * 60 * MINUTE);
    console.log(
      `guesses from one IP: ${lifetime.guesses} per 600 s code lifetime, ${hour.guesses} per first hour, ${day.guesses} per day ` +
        `(limited answers on the way: ${lifetime.limitedAnswers}, ${hour.limitedAnswers}, ${day.limitedAnswers})`,
    );
    expect(lifetime.guesses).toBe(allowedByPolicy(LIFETIME));
    expect(lifetime.guesses).toBe(9);
    expect(hour.guesses).toBe(11);
    expect(day.guesses).toBe(34);
  });

  it('scales with the number of client IPs and nothing else: 4 IPs get 4 times one IP', async () => {
    const ips = addresses(4);
    const { guesses } = await measure(ips, LIFETIME);
    const perCode = (m: number, live: number) => (allowedByPolicy(LIFETIME) * m * live) / CODE_SPACE;
    console.log(
      `guesses from 4 IPs in 600 s: ${guesses}; chance of hitting a live code in its lifetime ≤ 9·M·L / 20^8 = ` +
        `${perCode(1, 1).toExponential(2)} (M=1 IP, L=1 live code), ${perCode(1000, 1).toExponential(2)} (M=1000), ` +
        `${perCode(10_000, 1000).toExponential(2)} (M=10 000 IPs, L=1000 live codes)`,
    );
    expect(guesses).toBe(4 * 9);
  });

  it('refuses even the right code to a limited IP, while its owner elsewhere can still enter it', async () => {
    const live = (await (await server.post('/device_authorization', { client_id: clientId })).json()) as { user_code: string };
    const [attacker, owner] = addresses(2);
    for (let i = 0; i < 5; i++) expect((await guess(attacker!)).status).toBe(400);
    const limited = await guess(attacker!, live.user_code);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBe(30);
    // The limited answer says nothing about whether the code was right.
    expect(limited.body).not.toContain(live.user_code);
    expect((await guess(attacker!, live.user_code.toLowerCase())).status).toBe(429);
    expect(await server.core.deviceFlow.findPending(live.user_code)).toBeDefined();
    const ok = await guess(owner!, live.user_code);
    expect(ok.status).toBe(303);
    expect(normalizeUserCode(live.user_code)).toBeDefined();
  });

  it('limits password guessing on the sign-in page the same way: 9 guesses per address in 600 s, and then not even the right password', async () => {
    const victim = await server.createUser('victim', 'the right passphrase');
    const [ip] = addresses(1);
    const { guesses } = await measure([ip!], LIFETIME, (a) => passwordGuess(a, victim.username), 401);
    console.log(`password guesses from one IP: ${guesses} per 600 s`);
    expect(guesses).toBe(9);
    const limited = await passwordGuess(ip!, victim.username, victim.password);
    expect(limited.status).toBe(429);
  });

  it('counts a burst of parallel guesses from one IP one by one: no more than the free five get through', async () => {
    const [ip] = addresses(1);
    const answers = await Promise.all(Array.from({ length: 20 }, () => guess(ip!)));
    expect(answers.filter((a) => a.status === 400)).toHaveLength(5);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(15);
  });
});

const TYPO = 'That code has a typo — check the letters on your TV.';
const WRONG = 'That code didn&#39;t work';

/** A slip a person makes copying `shown` off a TV: one letter changed, or two neighbours swapped; shown back with its dash. */
function typoOf(shown: string): string {
  const letters = [...shown.replace('-', '')];
  const at = rng.int(0, letters.length);
  if (rng.next() < 0.5 && at + 1 < letters.length && letters[at] !== letters[at + 1]) {
    [letters[at], letters[at + 1]] = [letters[at + 1]!, letters[at]!];
  } else {
    letters[at] = USER_CODE_ALPHABET[(USER_CODE_ALPHABET.indexOf(letters[at]!) + rng.int(1, USER_CODE_ALPHABET.length)) % USER_CODE_ALPHABET.length]!;
  }
  return `${letters.slice(0, 4).join('')}-${letters.slice(4).join('')}`;
}

describe('typos on code entry (the check character)', () => {
  /** One person at one address, in one browser session: both limiter keys are the same for every entry. */
  function person(browser = new PageClient(server.url, { localAddress: addresses(1)[0]! })) {
    return async (code: string) => browser.post('/device', { csrf_token: await browser.csrf('/device'), user_code: code });
  }

  it('answers 20 typos of a live code at once and counts none of them: the right code then still goes through', async () => {
    const live = (await (await server.post('/device_authorization', { client_id: clientId })).json()) as { user_code: string; device_code: string };
    const owner = await server.createUser();
    const browser = new PageClient(server.url, { localAddress: addresses(1)[0]! });
    const signedIn = await browser.post('/signin', { csrf_token: await browser.csrf('/signin'), username: owner.username, password: owner.password });
    expect(signedIn.status).toBe(303);
    const enter = person(browser);
    const typos = new Set<string>();
    while (typos.size < 20) typos.add(typoOf(live.user_code));
    for (const typo of typos) {
      expect(readUserCode(typo), typo).toEqual({ kind: 'typo' });
      const res = await enter(typo);
      expect(res.status, typo).toBe(400);
      expect(res.body, typo).toContain(TYPO);
      expect(res.body, typo).not.toContain(WRONG);
    }
    const right = await enter(live.user_code);
    expect(right.status).toBe(303);
    expect(right.location).toBe('/device/consent');
    const consent = await browser.get('/device/consent');
    await browser.post('/device/consent', { csrf_token: csrfOf(consent.body), decision: 'approve', scope: 'valuate:read' });
    const tokens = await server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: live.device_code, client_id: clientId });
    expect(tokens.status).toBe(200);
  });

  it('still counts well-formed wrong codes, typos or not in between: of 10, the 6th and later hit the 429', async () => {
    const enter = person();
    for (let i = 0; i < 20; i++) expect((await enter(typoOf(formatUserCode(randomCode())))).status).toBe(400);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await enter(formatUserCode(randomCode()));
      statuses.push(res.status);
      if (res.status === 400) expect(res.body).toContain(WRONG);
    }
    expect(statuses).toEqual([400, 400, 400, 400, 400, 429, 429, 429, 429, 429]);
    // A typo is answered before the limiter: a limited person still learns it was a typo, and nothing is looked up.
    const typo = await enter(typoOf(formatUserCode(randomCode())));
    expect(typo.status).toBe(400);
    expect(typo.body).toContain(TYPO);
  });

  it('answers a linked code whose check character fails with the typo message, and counts nothing', async () => {
    const live = (await (await server.post('/device_authorization', { client_id: clientId })).json()) as { user_code: string };
    const ip = addresses(1)[0]!;
    const browser = new PageClient(server.url, { localAddress: ip });
    for (let i = 0; i < 20; i++) {
      expect((await browser.get(`/device?user_code=${encodeURIComponent(typoOf(live.user_code))}`)).location).toBe('/device');
      const page = await browser.get('/device');
      expect(page.body).toContain(TYPO);
      expect(page.body).not.toContain('It matches, continue');
    }
    await browser.get(`/device?user_code=${encodeURIComponent(live.user_code)}`);
    const confirm = await browser.get('/device');
    expect(confirm.body).toContain(live.user_code);
    const confirmed = await browser.post('/device', { csrf_token: csrfOf(confirm.body), action: 'confirm' });
    // Accepted: on to sign-in, then consent.
    expect(confirmed.location).toBe(`/signin?return_to=${encodeURIComponent('/device/consent')}`);
    // The 20 typos left the address its whole free budget.
    for (let i = 0; i < 5; i++) expect((await guess(ip)).status).toBe(400);
    expect((await guess(ip)).status).toBe(429);
  });

  it('still looks up, and counts, a code typed without its check character (accepted for this release)', async () => {
    const live = (await (await server.post('/device_authorization', { client_id: clientId })).json()) as { user_code: string };
    const enter = person();
    const unchecked = live.user_code.slice(0, -1);
    expect(unchecked).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    for (let i = 0; i < 5; i++) expect((await enter(randomCode())).status).toBe(400);
    expect((await enter(randomCode())).status).toBe(429);
    expect((await enter(unchecked)).status).toBe(429);
    const ok = await person()(unchecked);
    expect(ok.location).toBe(`/signin?return_to=${encodeURIComponent('/device/consent')}`);
  });
});
