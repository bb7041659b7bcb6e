import express, { type Express, type RequestHandler } from 'express';
import type { Core } from '../core/index.js';
import type { Logger } from '../logger.js';
import { trustFunction } from '../net/client-address.js';
import { deviceAuthorizationRouter } from './device-authorization.js';
import { discoveryRouter } from './discovery.js';
import { formParser } from './form.js';
import { oauthErrorHandler } from './oauth-errors.js';
import { appsRouter } from './pages/apps.js';
import { assetsRouter } from './pages/assets.js';
import { authorizeRouter } from './pages/authorize.js';
import { devicesRouter } from './pages/devices.js';
import { signInRouter } from './pages/signin.js';
import { tvRouter } from './pages/tv.js';
import { verifyRouter } from './pages/verify.js';
import { registrationRouter } from './registration.js';
import { tokenManagementRouter } from './token-management.js';
import { tokenRouter } from './token.js';

/** Endpoints a browser-based TV app or SPA on another origin calls: no cookies, so `*` is safe. */
const CORS_PATHS = new Set([
  '/device_authorization',
  '/token',
  '/revoke',
  '/introspect',
  '/jwks.json',
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
]);

const cors: RequestHandler = (req, res, next) => {
  if (!CORS_PATHS.has(req.path)) return next();
  res.setHeader('Access-Control-Allow-Origin', '*');
  if (req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
    res.setHeader('Access-Control-Max-Age', '600');
    res.status(204).end();
    return;
  }
  next();
};

/** One line per request: method, path (never the query string, which may carry a user code), status, time. */
function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (!logger.isLevelEnabled('debug')) return next();
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      logger.debug({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  };
}

/**
 * The Express application. Middleware order: logging, CORS, body parsing, routers, 404, errors.
 * `POST /token` device-code polls and `POST /device_authorization` are answered before this app
 * by fast-path.ts: a header or check added here for those paths belongs there too.
 */
export function createApp(core: Core, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  // TRUST_PROXY, compiled once: req.ip (and req.protocol) then follow X-Forwarded-* from trusted proxies only.
  app.set('trust proxy', trustFunction(core.config.trustProxy));
  app.use(requestLog(logger));
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.use(cors);
  app.use(formParser(core.config.maxBodyBytes));
  app.use(discoveryRouter(core));
  app.use(deviceAuthorizationRouter(core));
  app.use(tokenRouter(core));
  app.use(tokenManagementRouter(core));
  app.use(registrationRouter(core));
  app.use(assetsRouter());
  app.use(verifyRouter(core));
  app.use(signInRouter(core));
  app.use(devicesRouter(core));
  app.use(authorizeRouter(core));
  app.use(appsRouter(core));
  app.use(tvRouter(core));
  app.use((req, res) => {
    res.status(404).json({ error: 'not_found', error_description: `no route for ${req.method} ${req.path}` });
  });
  app.use(oauthErrorHandler(logger));
  return app;
}
