/**
 * The protocol router: every protocol endpoint (routes.ts) on bare `node:http`, everything else
 * to the pages app. A request is matched on its path alone (the query string never decides),
 * answered through `send()` with the endpoint's header set, and logged in one line.
 *
 * The hot path is here: every waiting device polls `POST /token` every few seconds (RFC 8628
 * §3.4, nearly always answered authorization_pending), then refreshes, and every device that
 * starts pairing calls `POST /device_authorization`. Express's per-request work (request and
 * response set-up, walking the middleware and routers, an ETag hash of every answer) cost about
 * as much as the work itself (README, Performance), so these endpoints never enter it: the table
 * is built once, and a request costs a string scan and a map lookup before its endpoint runs.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Core } from '../../core/index.js';
import type { Logger } from '../../logger.js';
import type { HttpMetrics } from '../../metrics/hooks.js';
import { asOAuthError, challengeHeaders, httpStatus, oauthErrorBody, SERVER_ERROR_BODY } from '../oauth-errors.js';
import { logRequest, requestStart } from '../request-log.js';
import { protocolEndpoints, type Endpoint } from './routes.js';
import { endpointHeaders, send, WithHeaders, type EndpointHeaders, type HeaderSet } from './send.js';

interface Route {
  endpoint: Endpoint;
  headers: EndpointHeaders;
}

/** The path of a request target: everything before the query string. */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * The path of an absolute-form target (`POST http://host/token`), which RFC 9112 §3.2.2 says a
 * server must accept; anything that is not a URL (`OPTIONS *`) stays as it is.
 */
function absoluteFormPath(target: string): string {
  try {
    return new URL(target).pathname;
  } catch {
    return target;
  }
}

/**
 * The key a path missed by the exact lookup is tried under: Express's default matching, which
 * served these paths before, ignores case and one trailing slash (`/Token/` is `/token`).
 */
function looseKey(path: string): string {
  return (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).toLowerCase();
}

/**
 * The request listener of the HTTP server: protocol endpoints are answered here, every other
 * request goes to `pages` (the Express app of the pages). `metrics`, when given, hears of every
 * answer at the log point.
 */
export function createProtocolRouter(core: Core, logger: Logger, pages: RequestListener, metrics?: HttpMetrics): RequestListener {
  const routes = new Map<string, Route>();
  for (const endpoint of protocolEndpoints(core)) routes.set(endpoint.path, { endpoint, headers: endpointHeaders(endpoint) });
  const lost = (err: unknown) => logger.error({ err }, 'protocol answer failed');

  return function routeRequest(req, res) {
    let path = pathOf(req.url ?? '/');
    let route = routes.get(path);
    if (route === undefined) {
      // Not the hot path: the pages, and protocol paths written unusually.
      if (!path.startsWith('/')) path = absoluteFormPath(path);
      route = routes.get(looseKey(path));
      if (route === undefined) {
        pages(req, res);
        return;
      }
    }
    serve(route, req, res, path, logger, metrics).catch(lost);
  };
}

/** Answer one request to a protocol endpoint, log it and count it. */
async function serve({ endpoint, headers }: Route, req: IncomingMessage, res: ServerResponse, path: string, logger: Logger, metrics: HttpMetrics | undefined): Promise<void> {
  const start = requestStart(logger);
  const started = metrics === undefined ? 0 : performance.now();
  const method = req.method;
  let status: number;
  let error: string | undefined;
  // RFC 9110 §9.3.2: HEAD is a GET without the body (Node drops it).
  if (method === endpoint.method || (method === 'HEAD' && endpoint.method === 'GET')) {
    try {
      const answer = await endpoint.answer(req, res);
      const conditional = headers.revalidated ? req : undefined;
      status =
        answer instanceof WithHeaders
          ? send(res, endpoint.status, answer.value as object | undefined, headers.success, answer.headers, conditional)
          : send(res, endpoint.status, answer, headers.success, undefined, conditional);
    } catch (err) {
      status = sendError(res, err, headers, logger, method, path);
      if (metrics !== undefined) error = errorCode(err);
    }
  } else if (method === 'OPTIONS') {
    status = send(res, 204, undefined, headers.options);
  } else {
    // Any other method: the 404 the Express routes answered (test/http/bad-input.test.ts pins it).
    status = send(res, 404, { error: 'not_found', error_description: `no route for ${method} ${path}` }, headers.failure);
  }
  if (start !== undefined) logRequest(logger, method, path, status, start);
  if (metrics !== undefined) metrics.protocolAnswered(endpoint.path, method, status, (performance.now() - started) / 1000, req, error);
}

/** The OAuth error code a thrown error was answered with (`sendError`): `server_error` for a fault. */
function errorCode(thrown: unknown): string {
  return asOAuthError(thrown instanceof WithHeaders ? thrown.value : thrown)?.error ?? 'server_error';
}

/** RFC 6749 §5.2: an OAuth error as its JSON answer; anything else is a bug, logged and answered 500. Returns the status. */
function sendError(res: ServerResponse, thrown: unknown, headers: EndpointHeaders, logger: Logger, method: string | undefined, path: string): number {
  const own: HeaderSet | undefined = thrown instanceof WithHeaders ? thrown.headers : undefined;
  const err = thrown instanceof WithHeaders ? thrown.value : thrown;
  const oauth = asOAuthError(err);
  if (!oauth) {
    logger.error({ err, method, path }, 'unhandled error');
    return send(res, 500, SERVER_ERROR_BODY, headers.failure, own);
  }
  const status = httpStatus(oauth);
  const challenge = challengeHeaders(oauth, status);
  return send(res, status, oauthErrorBody(oauth), headers.failure, own && challenge ? { ...challenge, ...own } : (own ?? challenge));
}
