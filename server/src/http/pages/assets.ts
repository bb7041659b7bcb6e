import { Router } from 'express';
import { stylesheet } from '@kalm/verify-ui';

/**
 * The pages' stylesheet at a content-hashed path: cacheable for a year
 * (`immutable`), because a new version gets a new path.
 */
export function assetsRouter(): Router {
  const router = Router();
  router.get(stylesheet.path, (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    res.setHeader('ETag', stylesheet.etag);
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.type('text/css').send(stylesheet.body);
  });
  return router;
}
