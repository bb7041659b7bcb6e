import { request } from 'node:http';

export interface PageResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  location: string | undefined;
  body: string;
}

/**
 * A minimal cookie-keeping browser stand-in for HTTP-level page tests: no
 * redirects followed (so every Location can be checked), an optional local
 * address (any 127.x.y.z) to act as another client IP.
 */
export class PageClient {
  readonly cookies = new Map<string, string>();
  /** Every Location header seen. */
  readonly locations: string[] = [];

  constructor(
    readonly baseUrl: string,
    readonly options: { localAddress?: string; headers?: Record<string, string> } = {},
  ) {}

  get(path: string, headers: Record<string, string> = {}): Promise<PageResponse> {
    return this.send('GET', path, undefined, headers);
  }

  post(path: string, form: Record<string, string | string[]>, headers: Record<string, string> = {}): Promise<PageResponse> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) for (const value of Array.isArray(v) ? v : [v]) body.append(k, value);
    return this.send('POST', path, body.toString(), { 'content-type': 'application/x-www-form-urlencoded', ...headers });
  }

  /** The CSRF token of the last page this client loaded (GET `path` first). */
  async csrf(path = '/device'): Promise<string> {
    const page = await this.get(path);
    return csrfOf(page.body);
  }

  private send(method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<PageResponse> {
    const url = new URL(path, this.baseUrl);
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          localAddress: this.options.localAddress,
          headers: { ...this.options.headers, ...(cookie ? { cookie } : {}), ...headers },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            for (const line of res.headers['set-cookie'] ?? []) {
              const [pair = ''] = line.split(';');
              const eq = pair.indexOf('=');
              const value = pair.slice(eq + 1);
              if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(pair.slice(0, eq));
              else this.cookies.set(pair.slice(0, eq), value);
            }
            if (res.headers.location) this.locations.push(res.headers.location);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, location: res.headers.location, body: text });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
}

export function csrfOf(html: string): string {
  const match = /name="csrf_token" value="([^"]+)"/.exec(html);
  if (!match) throw new Error('no CSRF token on the page');
  return match[1]!;
}
