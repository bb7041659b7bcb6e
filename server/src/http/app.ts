import express, { type Express, type RequestHandler } from 'express';
import type { Core } from '../core/index.js';
import type { Logger } from '../logger.js';
import type { HttpMetrics } from '../metrics/hooks.js';
import { trustFunction } from '../net/client-address.js';
import { formBodyParser } from './body-parsers.js';
import { notFound, pageErrorHandler } from './page-errors.js';
import { adminRouter } from './pages/admin.js';
import { appsRouter } from './pages/apps.js';
import { assetsRouter } from './pages/assets.js';
import { authorizeRouter } from './pages/authorize.js';
import { devicesRouter } from './pages/devices.js';
import { signInRouter } from './pages/signin.js';
import { tvRouter } from './pages/tv.js';
import { verifyRouter } from './pages/verify.js';
import { logRequest, requestStart } from './request-log.js';

/**
 * The request log line (request-log.ts), written when the answer is finished, and the request's
 * count in `metrics` under the template of the route that answered (`req.route`), never its path.
 */
function requestLog(logger: Logger, metrics: HttpMetrics | undefined): RequestHandler {
  return (req, res, next) => {
    const start = requestStart(logger);
    const started = metrics === undefined ? 0 : performance.now();
    if (start !== undefined || metrics !== undefined) {
      res.on('finish', () => {
        if (start !== undefined) logRequest(logger, req.method, req.path, res.statusCode, start);
        if (metrics === undefined) return;
        const template = (req.route as { path?: unknown } | undefined)?.path;
        metrics.pageAnswered(typeof template === 'string' ? req.baseUrl + template : undefined, req.method, res.statusCode, (performance.now() - started) / 1000);
      });
    }
    next();
  };
}

const noSniff: RequestHandler = (_req, res, next) => {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  next();
};

/**
 * The Express application of the pages: code entry and consent, sign-in, devices, /authorize,
 * apps, the TV demo, the admin dashboard and their assets. Middleware order: logging, nosniff,
 * form parsing, pages, 404, errors. The protocol endpoints never reach it: the protocol router
 * (protocol/router.ts) answers them and hands everything else here.
 */
export function createApp(core: Core, logger: Logger, metrics?: HttpMetrics): Express {
  const app = express();
  app.disable('x-powered-by');
  // TRUST_PROXY, compiled once: req.ip (and req.protocol) then follow X-Forwarded-* from trusted proxies only.
  app.set('trust proxy', trustFunction(core.config.trustProxy));
  app.use(requestLog(logger, metrics));
  app.use(noSniff);
  app.use(formBodyParser(core.config.maxBodyBytes));
  app.use(assetsRouter());
  app.use(verifyRouter(core));
  app.use(signInRouter(core));
  app.use(devicesRouter(core));
  app.use(authorizeRouter(core));
  app.use(appsRouter(core));
  app.use(tvRouter(core));
  app.use(adminRouter(core));
  app.use(notFound);
  app.use(pageErrorHandler(logger));
  return app;
}
