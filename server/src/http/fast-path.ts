import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Express, Request, Response } from 'express';
import { OAuthError } from '../core/errors.js';
import type { Core } from '../core/index.js';
import type { Logger } from '../logger.js';
import { clientAddress, trustFunction } from '../net/client-address.js';
import { deviceAuthorizationAnswer } from './device-authorization.js';
import { formParser, readForm, type FormParams } from './form.js';
import { fromParserError, httpStatus, oauthErrorBody, oauthErrorHeaders } from './oauth-errors.js';
import { tokenAnswer } from './token.js';

/** The answer of a fast route: the JSON body of a 200, or a rejection with an OAuthError. */
type FastRoute = (req: IncomingMessage, params: FormParams) => Promise<Record<string, unknown>>;

/**
 * A cheaper route for the requests an authorization server with many devices gets most:
 * `POST /token` (above all the RFC 8628 §3.4 device_code grant: every waiting device, every
 * few seconds, nearly always answered authorization_pending; then refreshes) and
 * `POST /device_authorization` (§3.1, every device that starts pairing). Express's per-request
 * work (request/response set-up, walking the middleware and routers, an ETag hash of every
 * answer) cost about as much as the work itself; see the README's Performance section.
 *
 * Every other request goes to the Express app unchanged. What a request gets here is what the
 * app would answer: the same parser and limits, the same form checks (`readForm`), the same
 * answer functions (`tokenAnswer`, `deviceAuthorizationAnswer`), the same client address
 * (TRUST_PROXY), the same RFC 6749 §5.2 error bodies and headers, and the headers the app's
 * middleware sets on these paths (nosniff, CORS `*`, no-store).
 * test/perf/fast-path.test.ts sends the same requests both ways and compares the answers.
 *
 * Keep in step with app.ts: a header or check added there for these paths belongs here too.
 */
export function withFastPaths(core: Core, logger: Logger, app: Express): RequestListener {
  const parseForm = formParser(core.config.maxBodyBytes);
  const trust = trustFunction(core.config.trustProxy);
  const routes = new Map<string, FastRoute>([
    ['/token', (req, params) => tokenAnswer(core, req, params).then((tokens) => ({ ...tokens }))],
    ['/device_authorization', (req, params) => deviceAuthorizationAnswer(core, req, params, clientAddress(req, trust))],
  ]);

  return (req, res) => {
    const route = req.method === 'POST' ? routes.get(req.url!) : undefined;
    if (!route) {
      app(req, res);
      return;
    }
    const path = req.url!;
    const start = process.hrtime.bigint();
    const done = (status: number, body: Record<string, unknown>, headers?: Record<string, string>) => {
      send(res, status, body, headers);
      if (logger.isLevelEnabled('debug')) {
        // The same line app.ts's request log writes.
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        logger.debug({ method: 'POST', path, status, ms: Math.round(ms * 10) / 10 }, 'request');
      }
    };
    const fail = (err: unknown) => {
      const oauth = err instanceof OAuthError ? err : fromParserError(err as { type?: string; status?: number });
      if (oauth) {
        done(httpStatus(oauth), oauthErrorBody(oauth), oauthErrorHeaders(oauth));
        return;
      }
      logger.error({ err, method: 'POST', path }, 'unhandled error');
      done(500, { error: 'server_error', error_description: 'internal error' });
    };

    parseForm(req as Request, res as Response, (parseError?: unknown) => {
      if (parseError) {
        fail(parseError);
        return;
      }
      let answer;
      try {
        answer = route(req, readForm(req as IncomingMessage & { body?: unknown }));
      } catch (err) {
        fail(err);
        return;
      }
      answer.then((body) => done(200, body), fail);
    });
  };
}

function send(res: ServerResponse, status: number, body: Record<string, unknown>, extraHeaders?: Record<string, string>): void {
  const payload = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'X-Content-Type-Options': 'nosniff',
    'Access-Control-Allow-Origin': '*',
    // RFC 6749 §5.1 / RFC 8628 §3.2: token-bearing responses must never be cached.
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(payload),
  };
  Object.assign(headers, extraHeaders);
  res.writeHead(status, headers);
  res.end(payload);
}
