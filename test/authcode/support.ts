import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { TestServer } from '../helpers/server.js';

/** RFC 7636 §4.1–4.2 pair. */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The page's CSRF token. */
export function csrfOf(html: string): string {
  const match = /name="csrf_token" value="([^"]+)"/.exec(html);
  if (!match) throw new Error('no csrf_token on the page');
  return match[1]!;
}

/**
 * A cookie-keeping HTTP client that never follows redirects, for black-box tests of the
 * pages without a browser (the browser tests use Chromium).
 */
export class PageClient {
  private cookies = new Map<string, string>();

  constructor(private readonly server: TestServer) {}

  private remember(res: Response): Response {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    return res;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return { ...(cookie && { cookie }), ...extra };
  }

  async get(path: string): Promise<Response> {
    return this.remember(await fetch(`${this.server.url}${path}`, { headers: this.headers(), redirect: 'manual' }));
  }

  async post(path: string, form: URLSearchParams | Record<string, string>): Promise<Response> {
    return this.remember(
      await fetch(`${this.server.url}${path}`, {
        method: 'POST',
        headers: this.headers({ 'content-type': 'application/x-www-form-urlencoded' }),
        body: form instanceof URLSearchParams ? form : new URLSearchParams(form),
        redirect: 'manual',
      }),
    );
  }

  /** Sign in through `/signin` like a person would. */
  async signIn(username: string, password: string): Promise<void> {
    const form = await this.get('/signin');
    const csrf = csrfOf(await form.text());
    const res = await this.post('/signin', { username, password, csrf_token: csrf, return_to: '/devices' });
    if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`);
  }
}

/** A tiny loopback listener standing in for a native app's redirect URI; it records every hit. */
export async function loopbackReceiver(): Promise<{ port: number; hits: URL[]; next(): Promise<URL>; close(): Promise<void> }> {
  const hits: URL[] = [];
  const waiters: Array<(url: URL) => void> = [];
  let consumed = 0;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    // Only the redirect itself counts: Chromium also asks for /favicon.ico.
    if (url.pathname !== '/favicon.ico') {
      hits.push(url);
      waiters.shift()?.(url);
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Done</title><p>You can close this window.</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    hits,
    next: () =>
      consumed < hits.length
        ? Promise.resolve(hits[consumed++]!)
        : new Promise<URL>((resolve) => waiters.push((url) => { consumed++; resolve(url); })),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
