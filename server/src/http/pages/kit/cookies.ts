/** The session cookie: its name, its attributes, and reading, setting and clearing it. */
import type { CookieOptions, Request, Response } from 'express';
import type { Core } from '../../../core/index.js';
import { isHttps } from './https.js';

/** `__Host-` pins the cookie to this origin, path `/`, Secure: only possible over https. */
export function sessionCookieName(core: Core): string {
  return isHttps(core) ? '__Host-kalm_session' : 'kalm_session';
}

function sessionCookieAttributes(core: Core): CookieOptions {
  return { httpOnly: true, sameSite: 'lax', secure: isHttps(core), path: '/' };
}

/** The session cookie's value, or undefined. */
export function readSessionCookie(core: Core, req: Request): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  const name = sessionCookieName(core);
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function setSessionCookie(core: Core, res: Response, id: string): void {
  // No maxAge: a browser-session cookie; the server side decides when a session ends.
  res.cookie(sessionCookieName(core), id, sessionCookieAttributes(core));
}

export function clearSessionCookie(core: Core, res: Response): void {
  res.clearCookie(sessionCookieName(core), sessionCookieAttributes(core));
}
