/**
 * Charts as inline SVG, drawn on the server: no script, no inline style (colours come from the
 * stylesheet's classes), so the pages' CSP stays as it is. Each chart is one `<svg role="img">`
 * whose `aria-label` says what it shows; each bar has a `<title>` with its value, which browsers
 * show on hover. Widths are percentages of the chart, so a chart fills a phone or a desktop column
 * and its text keeps its real size; only the bars' own drawing area is scaled.
 */
import { html, type SafeHtml } from './html.js';

/** One bar: its value and the text of its `<title>` (e.g. "14:05 UTC: 3 requested"). */
export interface ChartBar {
  value: number;
  title: string;
}

/** A vertical bar per bucket of a time line (one per minute, …). */
export interface ColumnChartInput {
  /** The chart's accessible name: what it shows and a summary of the values. */
  label: string;
  bars: readonly ChartBar[];
  /** Labels under the bars: `index` is the bar they stand under; `minor` ones are left out on a phone. */
  ticks: ReadonlyArray<{ index: number; text: string; minor?: boolean }>;
  xAxisLabel: string;
  yAxisLabel: string;
}

/** Horizontal bars, one group per item (a client), one bar per series (approved, denied) in each. */
export interface GroupedBarChartInput {
  label: string;
  series: ReadonlyArray<{ name: string; className: string }>;
  /** `bars[i]` belongs to `series[i]`. */
  groups: ReadonlyArray<{ name: string; bars: readonly ChartBar[] }>;
  valueAxisLabel: string;
}

/** The smallest of 1, 2, 5 × 10^k that is at least `max` (and at least 1): the top of the scale. */
export function niceCeiling(max: number): number {
  if (!(max > 1)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  const step = [1, 2, 5, 10].find((s) => s * power >= max)!;
  return step * power;
}

const percent = (part: number, whole: number) => `${+((part / whole) * 100).toFixed(3)}%`;

// Vertical layout of a column chart, px: axis label, plot, tick labels, axis label.
const COLUMN = { top: 36, plot: 150, height: 232 };

/** A column chart: one `rect.chart-bar` per bar, gridlines at the top of the scale and at its half. */
export function columnChart(input: ColumnChartInput): SafeHtml {
  const n = Math.max(1, input.bars.length);
  const top = niceCeiling(Math.max(0, ...input.bars.map((b) => b.value)));
  const bottom = COLUMN.top + COLUMN.plot;
  // The half line only where it falls on a whole number.
  const grid = (top >= 2 ? [top, top / 2] : [top]).map((value) => {
    const y = bottom - (value / top) * COLUMN.plot;
    return html`<line class="chart-grid" x1="0" x2="100%" y1="${y}" y2="${y}"/><text class="chart-tick" x="0" y="${y - 4}">${formatValue(value)}</text>`;
  });
  const ticks = input.ticks.map(({ index, text, minor }, i) => {
    const anchor = i === 0 && index === 0 ? 'start' : index >= n - 1 ? 'end' : 'middle';
    return html`<text class="chart-tick${minor ? ' chart-tick-minor' : ''}" x="${percent(index, n)}" y="${bottom + 16}" text-anchor="${anchor}">${text}</text>`;
  });
  // The bars' own coordinates: one unit per bar across, the scale's top up; stretched to the plot.
  const bars = input.bars.map(
    (bar, i) => html`<rect class="chart-bar" x="${i}" y="${top - bar.value}" width="1" height="${bar.value}"><title>${bar.title}</title></rect>`,
  );
  return html`<svg class="chart chart-columns" role="img" aria-label="${input.label}" width="100%" height="${COLUMN.height}">
<text class="chart-axis" x="0" y="14">${input.yAxisLabel}</text>
${grid}
<svg x="0" y="${COLUMN.top}" width="100%" height="${COLUMN.plot}" viewBox="0 0 ${n} ${top}" preserveAspectRatio="none">${bars}</svg>
<line class="chart-baseline" x1="0" x2="100%" y1="${bottom}" y2="${bottom}"/>
${ticks}
<text class="chart-axis" x="100%" y="${COLUMN.height - 6}" text-anchor="end">${input.xAxisLabel}</text>
</svg>`;
}

// Vertical layout of a grouped bar chart, px: the group's name, then one bar per series.
const GROUP = { name: 16, bar: 14, gap: 4, after: 14, axis: 22 };
// Bars end at most this far across, leaving room for the value written after the longest one.
const BAR_SPAN = 85;

/** A grouped bar chart: per group its name, then one `rect.chart-bar` per series with the value beside it. */
export function groupedBarChart(input: GroupedBarChartInput): SafeHtml {
  const top = niceCeiling(Math.max(0, ...input.groups.flatMap((g) => g.bars.map((b) => b.value))));
  const groupHeight = GROUP.name + input.series.length * (GROUP.bar + GROUP.gap) + GROUP.after;
  const height = GROUP.axis + input.groups.length * groupHeight;
  const groups = input.groups.map((group, g) => {
    const y0 = GROUP.axis + g * groupHeight;
    const bars = group.bars.map((bar, s) => {
      const y = y0 + GROUP.name + GROUP.gap + s * (GROUP.bar + GROUP.gap);
      const width = (bar.value / top) * BAR_SPAN;
      return html`<rect class="chart-bar ${input.series[s]?.className ?? ''}" x="0" y="${y}" width="${width}%" height="${GROUP.bar}"><title>${bar.title}</title></rect>
<text class="chart-value" x="${width}%" dx="6" y="${y + GROUP.bar - 3}">${formatValue(bar.value)}</text>`;
    });
    return html`<text class="chart-name" x="0" y="${y0 + GROUP.name}">${group.name}</text>
${bars}`;
  });
  return html`<svg class="chart chart-groups" role="img" aria-label="${input.label}" width="100%" height="${height}">
<text class="chart-axis" x="100%" y="14" text-anchor="end">${input.valueAxisLabel}</text>
${groups}
</svg>
<ul class="chart-legend">${input.series.map((s) => html`<li><span class="chart-swatch ${s.className}" aria-hidden="true"></span>${s.name}</li>`)}</ul>`;
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
