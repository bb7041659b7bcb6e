/** The verification pages: templates, layout, consent renderer, messages and the stylesheet. */
export { html, escapeHtml, unsafeRaw, SafeHtml } from './html.js';
export { chooseLocale, translator, LOCALES, type Locale, type MessageKey, type Translator } from './i18n.js';
export { renderLayout, csrfField, notice, type LayoutInput, type NavPage, type PageContent } from './layout.js';
export { renderConsent, type ConsentInput, type ConsentScope } from './consent.js';
export { renderCodeEntry, renderConfirmCode } from './code-entry.js';
export { renderOutcome, type DeviceOutcome } from './device-done.js';
export { renderRateLimited, renderError } from './error-pages.js';
export { renderSignIn } from './sign-in.js';
export { renderDevices, renderRevokeConfirm, type DeviceRow } from './my-devices.js';
export { stylesheet } from './assets.js';
export { renderAuthorizeError } from './authorize-error.js';
export { renderApps, renderAppSecret, renderAppDeleteConfirm, renderAppsForbidden, type AppRow, type AppFormInput } from './apps.js';
export { renderAdminDashboard, renderAdminDevices, renderAdminRevokeConfirm, renderAdminUsers, renderAdminForbidden, type AdminDashboardInput, type AdminDeviceRow, type AdminEventRow, type AdminUserRow } from './admin.js';
