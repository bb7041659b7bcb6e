/** `/device/done`: the end of the device flow, whatever the answer was. */
import { html } from './html.js';
import type { Translator } from './i18n.js';
import type { PageContent } from './layout.js';

export type DeviceOutcome = 'approved' | 'denied' | 'expired' | 'used';

/** The end of the flow. */
export function renderOutcome(input: { t: Translator; outcome: DeviceOutcome }): PageContent {
  const { t, outcome } = input;
  const icon = outcome === 'approved' ? '✓' : outcome === 'denied' ? '✕' : '!';
  return {
    title: t.t(`done.${outcome}.title`),
    heading: false,
    body: html`<div class="result result-${outcome}">
  <p class="result-icon" aria-hidden="true">${icon}</p>
  <h1>${t.t(`done.${outcome}.title`)}</h1>
  <p class="lead">${t.t(`done.${outcome}.body`)}</p>
</div>
<p class="center"><a class="button button-secondary" href="/device">${t.t(outcome === 'approved' || outcome === 'denied' ? 'done.another' : 'done.retry')}</a></p>`,
  };
}
