import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Core } from '../core/index.js';
import type { Logger } from '../logger.js';
import type { PushMetrics } from '../metrics/hooks.js';
import { addressKey, clientAddress, trustFunction } from '../net/client-address.js';
import { ENDPOINT_PATHS } from '../urls.js';
import { createPushHub, type PushHub } from './hub.js';
import { CREDENTIAL_PARAMS, PUSH_CLOSE, pushLimits, type PushLimits } from './limits.js';
import { PushSession } from './session.js';

/** The push endpoint attached to an HTTP server. */
export interface PushEndpoint {
  hub: PushHub;
  /** Open sockets (subscribed or not). */
  readonly size: number;
  /** Refuse new sockets, close open ones with 1001, stop listening to core. */
  stop(): Promise<void>;
}

const HEARTBEAT_SLICE = 256;

/** Answer an upgrade request with a plain HTTP error and drop the connection. */
function refuse(req: IncomingMessage, socket: Duplex, status: number, message: string): void {
  const body = `${message}\n`;
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      // RFC 9110 §9.3.2: a HEAD answer has the headers of the GET answer and no body.
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${req.method === 'HEAD' ? '' : body}`,
  );
}

// The headers that make a request an upgrade offer.
const UPGRADE_OFFER = new Set(['upgrade', 'connection', 'http2-settings']);

/**
 * Node hands every request with an Upgrade header to the `upgrade` listener once there is
 * one, so without this an `Upgrade: h2c` offer (curl --http2 on http://) to /token would
 * never reach the app. RFC 9110 §7.8 lets a server ignore the offer: the request is written
 * back onto the socket without it and the socket handed to the HTTP server as a fresh
 * connection, body and keep-alive included.
 */
function serveWithoutUpgrade(http: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (!UPGRADE_OFFER.has(req.rawHeaders[i]!.toLowerCase())) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  }
  socket.unshift(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head]));
  http.emit('connection', socket);
}

/**
 * Serve WebSocket push at `/push` on `http`'s `upgrade` event. Other upgrade paths get
 * a 404; a credential in the query string a 400, before any handshake. `metrics` hears of
 * approvals told and sockets refused.
 */
export function attachPush(http: Server, core: Core, logger: Logger, limits: PushLimits = pushLimits(core.config), metrics?: PushMetrics): PushEndpoint {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxPayloadBytes,
    // Compression costs about 300 KB per socket in zlib state and invites compression bombs; messages are tiny.
    perMessageDeflate: false,
    clientTracking: false,
  });
  const hub = createPushHub(core, metrics);
  const sessions = new Set<PushSession>();
  const perIp = new Map<string, number>();
  // Every upgraded socket, refused ones too, so that stop() leaves none holding the HTTP server open.
  const sockets = new Set<WebSocket>();
  // TRUST_PROXY: behind a reverse proxy the cap counts the forwarded client, as the HTTP routes do.
  const trust = trustFunction(core.config.trustProxy);
  let stopping = false;

  // Kept apart from the upgrade handler so that no closure of a live session holds the request or its head buffer.
  function admit(ws: WebSocket, ip: string) {
    sockets.add(ws);
    ws.once('close', () => sockets.delete(ws));
    const count = perIp.get(ip) ?? 0;
    if (stopping || count >= limits.maxSocketsPerIp) {
      ws.on('error', () => {});
      if (stopping) ws.close(PUSH_CLOSE.goingAway, 'server shutting down');
      else {
        metrics?.refusedTooMany();
        ws.close(PUSH_CLOSE.tooMany, 'too many sockets from this address');
      }
      return;
    }
    perIp.set(ip, count + 1);
    const session = new PushSession(ws, ip, hub, limits, logger, () => {
      sessions.delete(session);
      const left = (perIp.get(ip) ?? 1) - 1;
      if (left > 0) perIp.set(ip, left);
      else perIp.delete(ip);
    });
    sessions.add(session);
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
      serveWithoutUpgrade(http, req, socket, head);
      return;
    }
    // An error on a socket we refuse must not crash the server.
    socket.on('error', () => socket.destroy());
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://push.invalid');
    } catch {
      refuse(req, socket, 400, 'bad request target');
      return;
    }
    if (url.pathname !== ENDPOINT_PATHS.push) {
      refuse(req, socket, 404, 'no WebSocket endpoint here');
      return;
    }
    // RFC 6455 §4.1: the opening handshake is a GET.
    if (req.method !== 'GET') {
      refuse(req, socket, 405, 'the WebSocket handshake is a GET');
      return;
    }
    // A URL ends up in proxy logs and histories: credentials go in the first message only.
    if (CREDENTIAL_PARAMS.some((name) => url.searchParams.has(name))) {
      refuse(req, socket, 400, 'send credentials in the subscribe message, never in the URL');
      return;
    }
    const ip = addressKey(clientAddress(req, trust));
    wss.handleUpgrade(req, socket, head, (ws) => admit(ws, ip));
  };
  http.on('upgrade', onUpgrade);

  // Each ping is a write system call: 10,000 in one go would stall the event loop (and every
  // approval behind it) for tens of ms, so the round goes in slices, yielding between them.
  let round: PushSession[] = [];
  const pingSlice = () => {
    for (const session of round.splice(0, HEARTBEAT_SLICE)) session.heartbeat();
    if (round.length > 0) setImmediate(pingSlice);
  };
  const heartbeat = setInterval(() => {
    const idle = round.length === 0;
    round = [...sessions];
    if (idle) pingSlice();
  }, limits.heartbeatMs);
  heartbeat.unref();

  return {
    hub,
    get size() {
      return sessions.size;
    },
    async stop() {
      stopping = true;
      http.off('upgrade', onUpgrade);
      clearInterval(heartbeat);
      round = [];
      hub.stop();
      const open = [...sessions];
      const closed = Promise.all(open.map((s) => new Promise<void>((resolve) => (s.ws.readyState === s.ws.CLOSED ? resolve() : s.ws.once('close', () => resolve())))));
      for (const session of open) session.end(PUSH_CLOSE.goingAway, 'server shutting down');
      // Peers get a moment to answer the close (so they see 1001 and fall back to polling); then they are cut.
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => (grace = setTimeout(resolve, limits.shutdownGraceMs)))]);
      clearTimeout(grace);
      for (const ws of sockets) ws.terminate();
    },
  };
}
