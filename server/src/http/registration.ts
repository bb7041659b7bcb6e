import express, { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import { OAuthError } from '../core/errors.js';
import type { Core } from '../core/index.js';
import { HttpOAuthError, noStore, sendOAuthError } from './oauth-errors.js';

/** RFC 6750 §2.1: `Authorization: Bearer <token>`; undefined when absent. */
function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
  if (!match) throw new OAuthError('invalid_token', 'the Authorization header must be "Bearer <initial access token>"');
  return match[1];
}

/** A body that is not JSON is bad client metadata (RFC 7591 §3.2.2), not a server fault. */
const jsonErrors: ErrorRequestHandler = (err, _req, res, next) => {
  if (err instanceof OAuthError) return next(err);
  const type = (err as { type?: string }).type;
  if (type === 'entity.too.large') return sendOAuthError(res, new HttpOAuthError('invalid_client_metadata', 'the metadata document is too large', 413));
  if (typeof (err as { status?: number }).status === 'number' && (err as { status: number }).status < 500) {
    return sendOAuthError(res, new OAuthError('invalid_client_metadata', 'the body must be a JSON object (application/json)'));
  }
  next(err);
};

/** RFC 7591 §3: `POST /register`, protected by an initial access token from `kalm iat create`. */
export function registrationRouter(core: Core): Router {
  const router = Router();
  const json = express.json({ limit: core.config.maxBodyBytes, strict: true });
  // The token is checked before the body is read, so a caller without one learns nothing.
  const requireToken: RequestHandler = (req, _res, next) => {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) throw new OAuthError('invalid_token', 'an initial access token is required (Authorization: Bearer …)');
    next();
  };
  const register: RequestHandler = async (req, res) => {
    if (!req.is('application/json')) throw new OAuthError('invalid_client_metadata', 'the body must be a JSON object (application/json)');
    const response = await core.registration.register(bearerToken(req.headers.authorization), req.body);
    res.status(201).json(response);
  };
  router.post('/register', noStore, requireToken, json, register, jsonErrors);
  return router;
}
