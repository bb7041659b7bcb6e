/** The security and caching headers every page answers with. */
import type { RequestHandler } from 'express';
import helmet from 'helmet';
import type { Core } from '../../../core/index.js';
import { isHttps } from './https.js';

/** What a page may widen in its headers. */
export interface PageHeaderOptions {
  /** Extra `form-action` sources. */
  formAction?: string[];
}

/**
 * Security headers of every page (helmet): a CSP with no inline script or style,
 * `frame-ancestors 'none'`, `Referrer-Policy: no-referrer` (so a user code never
 * leaks through Referer), `Cache-Control: no-store`, HSTS and
 * `upgrade-insecure-requests` only when PUBLIC_URL is https.
 * `formAction` widens `form-action` (Chromium applies it to the redirect after a
 * POST, so a consent form that redirects to a client's redirect_uri needs it).
 */
export function pageHeaders(core: Core, options: PageHeaderOptions = {}): RequestHandler[] {
  const https = isHttps(core);
  return [
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          formAction: ["'self'", ...(options.formAction ?? [])],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          ...(https ? { upgradeInsecureRequests: [] } : {}),
        },
      },
      referrerPolicy: { policy: 'no-referrer' },
      strictTransportSecurity: https ? { maxAge: 31536000, includeSubDomains: true } : false,
      crossOriginOpenerPolicy: { policy: 'same-origin' },
      crossOriginResourcePolicy: { policy: 'same-origin' },
      xFrameOptions: { action: 'deny' },
    }),
    noStore,
  ];
}

const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  next();
};
