/** Whether the pages are served over https, which decides HSTS, upgrade-insecure-requests and the cookie's name and Secure flag. */
import type { Core } from '../../../core/index.js';

/** True when PUBLIC_URL is https. */
export function isHttps(core: Core): boolean {
  return core.config.publicUrl.startsWith('https:');
}
