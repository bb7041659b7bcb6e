/** The verification pages: templates, layout, consent renderer, messages and the stylesheet. */
export { html, escapeHtml, unsafeRaw, SafeHtml } from './html.js';
export { chooseLocale, translator, LOCALES, type Locale, type MessageKey, type Translator } from './i18n.js';
export { renderLayout, csrfField, notice, type LayoutInput, type NavPage } from './layout.js';
export { renderConsent, type ConsentInput, type ConsentScope } from './consent.js';
export {
  renderCodeEntry,
  renderConfirmCode,
  renderOutcome,
  renderRateLimited,
  renderError,
  renderSignIn,
  type DeviceOutcome,
  type PageContent,
} from './device-pages.js';
export { renderDevices, renderRevokeConfirm, type DeviceRow } from './devices-page.js';
export { stylesheet } from './assets.js';
export { renderAuthorizeError } from './authorize-pages.js';
export { renderApps, renderAppSecret, renderAppDeleteConfirm, renderAppsForbidden, type AppRow, type AppFormInput } from './apps-page.js';
