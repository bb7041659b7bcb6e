/** The way to `/signin` and back: the check of the local path to return to, and the redirect. */
import type { Request, Response } from 'express';

/**
 * A local path to come back to after sign-in, or undefined: it must start with a
 * single `/` (not `//` or `/\`, which browsers read as another host) and hold no
 * control characters. Keep secrets out of it: it travels in the sign-in URL.
 */
export function safeReturnPath(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 1024) return undefined;
  if (!/^\/(?![/\\])/.test(value) || /[\u0000-\u001f\u007f\\]/.test(value)) return undefined;
  return value;
}

/** Send the person to `GET /signin`, to come back to the local path `returnTo` afterwards. */
export function redirectToSignIn(_req: Request, res: Response, returnTo: string): void {
  const path = safeReturnPath(returnTo) ?? '/devices';
  res.redirect(303, `/signin?return_to=${encodeURIComponent(path)}`);
}
