import { Router, type Response } from 'express';
import type { Core } from '../../core/index.js';
import { tvAssets, type TvAsset, type TvAssets } from '@kalm/verify-ui/tv';
import { pushEndpointUrl } from '../../urls.js';

/** The client the TV demo pairs as; `npm start` creates it on a fresh database. */
export const TV_DEMO_CLIENT_ID = 'tv-demo';
/** What the demo asks for: enough to show per-scope consent on the phone. */
const TV_DEMO_SCOPE = 'valuate:read organization:read billing:read';

const escapeAttr = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * `GET /tv`: the demo pairing screen a TV app would show (1920×1080), run by the
 * browser build of the device client against the `tv-demo` client. The bundle is
 * built with esbuild in memory on first use; the CSP allows only our own
 * script file, no inline script or style.
 */
export function tvRouter(core: Core): Router {
  const router = Router();
  const issuer = core.config.publicUrl;
  // Built on the first request; a failure (esbuild missing in a trimmed install) answers 503, not a crash.
  const assets = (): Promise<TvAssets | undefined> => tvAssets().catch(() => undefined);
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${issuer} ${pushEndpointUrl(issuer)}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');

  const sendAsset = (res: Response, asset: TvAsset, type: string) => {
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    res.setHeader('ETag', asset.etag);
    res.type(type).send(asset.body);
  };

  router.get('/tv', async (_req, res) => {
    const built = await assets();
    if (!built) {
      res.status(503).type('text/plain').send('The TV demo is unavailable: its script could not be built (is esbuild installed?).');
      return;
    }
    const scopes = Object.fromEntries(core.catalog.scopes.map((s) => [s.name, s.description]));
    const html = built.template
      .replace('{{stylePath}}', built.style.path)
      .replace('{{scriptPath}}', built.script.path)
      .replace('{{issuer}}', escapeAttr(issuer))
      .replace('{{clientId}}', TV_DEMO_CLIENT_ID)
      .replace('{{scope}}', TV_DEMO_SCOPE)
      .replace('{{scopes}}', escapeAttr(JSON.stringify(scopes)));
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(html);
  });

  router.get(/^\/tv\/(app|tv)\.[0-9a-f]{12}\.(js|css)$/, async (req, res, next) => {
    const built = await assets();
    const asset = built && [built.script, built.style].find((a) => a.path === req.path);
    if (!asset) return next();
    sendAsset(res, asset, asset === built.script ? 'text/javascript' : 'text/css');
  });
  return router;
}
