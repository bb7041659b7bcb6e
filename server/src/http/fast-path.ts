import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Express, Request, Response } from 'express';
import { GRANT_TYPES } from '../core/clients.js';
import { OAuthError } from '../core/errors.js';
import type { Core } from '../core/index.js';
import type { Logger } from '../logger.js';
import { formParser, readClientCredentials, readForm, required } from './form.js';
import { fromParserError, oauthErrorBody, oauthErrorHeaders } from './oauth-errors.js';

/**
 * A cheaper route for the one request an authorization server with many waiting devices
 * gets most: `POST /token` with the RFC 8628 §3.4 device_code grant, nearly always answered
 * authorization_pending. Express's per-request work (request/response set-up, walking every
 * middleware and router, and an error walking the rest of the stack) cost about three times
 * what the poll itself does; see the README's Performance section for the figures.
 *
 * Every other request, and `/token` with any other grant, goes to the Express app unchanged
 * (with the body already parsed by the same parser, which Express then skips). What a poll
 * gets here is what the app would answer: the same parser and limits, the same form and
 * client-authentication checks (`readForm`, `readClientCredentials`), the same core call as
 * `grantHandlers[device_code]`, the same RFC 6749 §5.2 error bodies and headers (`oauthErrorBody`,
 * `oauthErrorHeaders`), and the headers the
 * app's middleware sets on `/token` (nosniff, CORS `*`, no-store).
 *
 * Keep in step with app.ts: a header or check added there for `/token` belongs here too.
 */
export function withTokenFastPath(core: Core, logger: Logger, app: Express): RequestListener {
  const parseForm = formParser(core.config.maxBodyBytes);

  return (req, res) => {
    if (req.method !== 'POST' || req.url !== '/token') {
      app(req, res);
      return;
    }
    const start = process.hrtime.bigint();
    const done = (status: number, body: Record<string, unknown>, headers?: Record<string, string>) => {
      send(res, status, body, headers);
      if (logger.isLevelEnabled('debug')) {
        // The same line app.ts's request log writes.
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        logger.debug({ method: 'POST', path: '/token', status, ms: Math.round(ms * 10) / 10 }, 'request');
      }
    };
    const fail = (err: unknown) => {
      const oauth = err instanceof OAuthError ? err : fromParserError(err as { type?: string; status?: number });
      if (oauth) {
        done(oauth.status, oauthErrorBody(oauth), oauthErrorHeaders(oauth));
        return;
      }
      logger.error({ err, method: 'POST', path: '/token' }, 'unhandled error');
      done(500, { error: 'server_error', error_description: 'internal error' });
    };

    parseForm(req as Request, res as Response, (parseError?: unknown) => {
      if (parseError) {
        fail(parseError);
        return;
      }
      let params;
      try {
        params = readForm(req as IncomingMessage & { body?: unknown });
        if (required(params, 'grant_type') !== GRANT_TYPES.deviceCode) {
          // Any other grant: the app's token router, which finds the body already parsed.
          app(req, res);
          return;
        }
      } catch (err) {
        fail(err);
        return;
      }
      const form = params;
      (async () => {
        // The order of tokenRouter: authenticate the client, check the grant, then poll.
        const client = await core.clients.authenticate(readClientCredentials(req, form));
        core.clients.assertGrant(client, GRANT_TYPES.deviceCode);
        return core.deviceFlow.poll(client, required(form, 'device_code'));
      })().then((tokens) => done(200, { ...tokens }), fail);
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
