/**
 * The metrics listener: `GET /metrics` in the Prometheus text format on `METRICS_HOST:METRICS_PORT`,
 * a listener of its own, so the port of the OAuth endpoints never serves it (it answers 404 there)
 * and a firewall or a bind address keeps it private. Every other path is 404.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import type { Metrics } from './index.js';

export const METRICS_PATH = '/metrics';

export interface MetricsListener {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Listen on `host:port` (0 picks a free port) for scrapes of `metrics`. */
export async function listenForScrapes(metrics: Metrics, host: string, port: number, logger: Logger): Promise<MetricsListener> {
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
    answer(metrics, req, res).catch((err) => {
      logger.error({ err }, 'metrics scrape failed');
      if (!res.headersSent) plain(res, 500, 'metrics could not be collected\n');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}${METRICS_PATH}`;
  logger.info({ url }, 'metrics listening');
  return {
    url,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function answer(metrics: Metrics, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  if ((query === -1 ? url : url.slice(0, query)) !== METRICS_PATH) return plain(res, 404, 'not found: metrics are at /metrics\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'GET or HEAD\n', { Allow: 'GET, HEAD' });
  const { contentType, body } = await metrics.scrape();
  res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
