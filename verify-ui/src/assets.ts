import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The one stylesheet of the pages, read once. Its URL carries a hash of its
 * content, so it can be cached for a year and still change with every release.
 */
export const stylesheet = (() => {
  const body = readFileSync(new URL('../styles.css', import.meta.url));
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 12);
  return { body, path: `/assets/verify-${hash}.css`, etag: `"${hash}"` };
})();
