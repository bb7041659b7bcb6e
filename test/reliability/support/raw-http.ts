import { request } from 'node:http';
import { connect } from 'node:net';

/** What came back for one raw request. `status` 0 means the server closed the connection without answering. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * One HTTP request with nothing checked on our side, unlike `fetch` (which refuses
 * some methods and headers): any method token, any path, any body bytes. An upgrade
 * the server accepts is answered 101 and the socket is closed at once.
 */
export function rawRequest(
  base: string,
  input: { method: string; path: string; headers: Record<string, string>; body?: Uint8Array },
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (value: RawResponse) => {
      if (!settled) {
        settled = true;
        resolve(value);
      }
    };
    const req = request({
      host: url.hostname,
      port: url.port,
      method: input.method,
      path: input.path,
      headers: input.headers,
      agent: false,
      timeout: 10_000,
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      done({ status: res.statusCode ?? 101, headers: res.headers, body: Buffer.alloc(0) });
    });
    req.on('timeout', () => {
      req.destroy();
      if (!settled) {
        settled = true;
        reject(new Error(`no answer within 10 s to ${input.method} ${input.path}`));
      }
    });
    // The server may answer (413) and close before a huge body is written: that is an answer too.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') done({ status: 0, headers: {}, body: Buffer.alloc(0) });
      else if (!settled) {
        settled = true;
        reject(err);
      }
    });
    if (input.body) req.end(Buffer.from(input.body));
    else req.end();
  });
}

/** Write arbitrary bytes to the server's port and return the status of whatever it answers (0: none). */
export function rawBytes(base: string, bytes: Uint8Array): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = '';
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error('no answer within 10 s to raw bytes'));
    });
    socket.on('data', (c: Buffer) => {
      received += c.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      resolve(m ? Number(m[1]) : 0);
    });
    socket.on('connect', () => {
      socket.write(Buffer.from(bytes));
      // Half-close: a complete request is answered; an incomplete one times out on the server's side.
      socket.end();
    });
  });
}
