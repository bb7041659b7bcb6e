/**
 * The ceiling: a bare `node:http` server that reads a form POST and answers a small JSON,
 * with no framework, storage or crypto. No Node server can answer faster on this machine;
 * ours is measured against it. `/token` gets the RFC 8628 §3.5 authorization_pending
 * error a waiting device sees, every other path a 200.
 */
import { createServer } from 'node:http';
import { memoryMiB, serveParent } from '../lib/child.js';
import { freePort } from '../lib/net.js';

const PENDING = JSON.stringify({ error: 'authorization_pending', error_description: 'the user has not yet decided' });
const OK = JSON.stringify({ ok: true });

const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
  });
  req.on('end', () => {
    const form = new URLSearchParams(body);
    const pending = req.url === '/token' && form.has('grant_type');
    const payload = pending ? PENDING : OK;
    res.writeHead(pending ? 400 : 200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(payload),
      'cache-control': 'no-store',
    });
    res.end(payload);
  });
});
const port = await freePort();
await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

serveParent(
  { url: `http://127.0.0.1:${port}`, deviceAuthorizationPath: '/device_authorization', tokenPath: '/token', version: process.version },
  { memory: async () => memoryMiB() },
  async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  },
);
