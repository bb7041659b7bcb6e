import { stylesheet } from './assets.js';
import { html, type SafeHtml } from './html.js';
import type { Translator } from './i18n.js';

/** A page's title and body; the server frames it with `renderLayout`. */
export interface PageContent {
  title: string;
  body: SafeHtml;
  /** False to leave the `<h1>` to the body. */
  heading?: boolean;
}

/** The pages the header links to. */
export type NavPage = 'device' | 'devices' | 'apps' | 'admin';

/** Everything the frame of a page needs. */
export interface LayoutInput {
  t: Translator;
  /** The `<title>` and, unless `heading` is false, the page's `<h1>`. */
  title: string;
  body: SafeHtml;
  /** Shown in the header with a sign-out button (which needs `csrfToken`). */
  user?: { username: string } | undefined;
  csrfToken?: string | undefined;
  /** Which header link is the current page. */
  current?: NavPage | undefined;
  /** Link to /apps too (the signed-in person may register applications). */
  apps?: boolean;
  /** Link to /admin too (the signed-in person is an administrator). */
  admin?: boolean;
  /** Put the title in an `<h1>` above the body (default true). */
  heading?: boolean;
}

/**
 * The frame of every page: language, viewport, the hashed stylesheet (no inline
 * style or script, so the CSP can forbid both), a header with the account and a
 * skip link. Mobile-first; the layout reflows at 200% zoom because every size is
 * in rem and the column is fluid.
 */
export function renderLayout({ t, title, body, user, csrfToken, current, apps = false, admin = false, heading = true }: LayoutInput): SafeHtml {
  const nav = (href: string, label: string, here: boolean) =>
    html`<a class="nav-link" href="${href}"${here ? html` aria-current="page"` : ''}>${label}</a>`;
  return html`<!doctype html>
<html lang="${t.locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light">
<title>${title} · ${t.t('brand')}</title>
<link rel="stylesheet" href="${stylesheet.path}">
</head>
<body>
<a class="skip" href="#main">${t.t('skip')}</a>
<header class="top">
  <div class="top-inner">
    <a class="brand" href="/device"><span class="brand-mark" aria-hidden="true">K</span>${t.t('brand')}</a>
    ${user
      ? html`<nav class="nav" aria-label="${t.t('brand')}">
      ${nav('/device', t.t('connectDevice'), current === 'device')}
      ${nav('/devices', t.t('myDevices'), current === 'devices')}
      ${apps ? nav('/apps', t.t('apps.title'), current === 'apps') : ''}
      ${admin ? nav('/admin', t.t('nav.admin'), current === 'admin') : ''}
    </nav>`
      : ''}
  </div>
</header>
<main id="main" class="main">
${heading ? html`<h1>${title}</h1>` : ''}
${body}
</main>
<footer class="foot">
  ${user && csrfToken
    ? html`<form class="signout" method="post" action="/signout">
    <input type="hidden" name="csrf_token" value="${csrfToken}">
    <span>${t.t('signedInAs', { username: user.username })}</span>
    <button class="link-button" type="submit">${t.t('signOut')}</button>
  </form>`
    : ''}
  <p>${t.t('footer')}</p>
</footer>
</body>
</html>
`;
}

/** The hidden CSRF field every form carries. */
export function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="csrf_token" value="${token}">`;
}

/** A notice box: `role="alert"` for errors so screen readers announce them. */
export function notice(kind: 'error' | 'info' | 'success', text: string | SafeHtml, id?: string): SafeHtml {
  return html`<div class="notice notice-${kind}"${id ? html` id="${id}"` : ''}${kind === 'error' ? html` role="alert"` : html` role="status"`}>${text}</div>`;
}
