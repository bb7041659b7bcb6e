/** CSRF protection of every page form: a token bound to the session, and its check on POST. */
import { createHmac } from 'node:crypto';
import type { Request } from 'express';
import { safeEqual } from '../../../core/secrets.js';
import { currentSessionId } from './session.js';

/**
 * The CSRF token of this session: an HMAC of the session id, so it needs no
 * storage, changes when the id rotates at sign-in, and reveals nothing about the id.
 */
export function csrfToken(req: Request): string {
  return createHmac('sha256', currentSessionId(req)).update('kalm csrf v1').digest('base64url');
}

/**
 * True when the form's `csrf_token` matches this session's and the browser does
 * not report a cross-site request (`Sec-Fetch-Site`). Call on every POST.
 */
export function checkCsrf(req: Request): boolean {
  if (req.headers['sec-fetch-site'] === 'cross-site') return false;
  const sent = (req.body as Record<string, unknown> | undefined)?.csrf_token;
  return typeof sent === 'string' && sent.length < 200 && safeEqual(sent, csrfToken(req));
}
