import { describe, expect, it } from 'vitest';
import { columnChart, groupedBarChart, niceCeiling } from '../../verify-ui/src/charts.js';

// The SVG renderer is a pure function: its scale, and that every text it is given is escaped
// (client names come from whoever registers a client, RFC 7591 included).

describe('inline SVG charts', () => {
  it('puts the top of the scale on 1, 2 or 5 times a power of ten', () => {
    expect([0, 1, 1.5, 3, 7, 10, 11, 46, 180, 999].map(niceCeiling)).toEqual([1, 1, 2, 5, 10, 10, 20, 50, 200, 1000]);
  });

  it('draws one bar per bucket with its title, and escapes every text', () => {
    const svg = columnChart({
      label: 'flows <b>"24 h"</b>',
      bars: [0, 3, 1].map((value, i) => ({ value, title: `minute ${i} & <x>` })),
      ticks: [{ index: 0, text: '<00:00>' }],
      xAxisLabel: 'time',
      yAxisLabel: 'per minute',
    }).value;
    expect(svg.match(/<rect class="chart-bar"/g)).toHaveLength(3);
    expect(svg).toContain('<title>minute 1 &amp; &lt;x&gt;</title>');
    expect(svg).toContain('aria-label="flows &lt;b&gt;&quot;24 h&quot;&lt;/b&gt;"');
    expect(svg).toContain('&lt;00:00&gt;');
    expect(svg).not.toMatch(/<b>|<x>|<00:00>/);
    // The scale's top is 5 for a peak of 3: the tallest bar is 3 of the plot's 5 units.
    expect(svg).toContain('viewBox="0 0 3 5"');
    expect(svg).toContain('y="2" width="1" height="3"');
  });

  it('draws one bar per group and series, widths as a share of the largest value', () => {
    const svg = groupedBarChart({
      label: 'decisions',
      series: [
        { name: 'approved', className: 'chart-approved' },
        { name: 'denied', className: 'chart-denied' },
      ],
      groups: [
        { name: '<script>alert(1)</script>', bars: [{ value: 10, title: 'a' }, { value: 0, title: 'b' }] },
        { name: 'Doorbell', bars: [{ value: 5, title: 'c' }, { value: 2, title: 'd' }] },
      ],
      valueAxisLabel: 'last 24 h',
    }).value;
    expect(svg.match(/<rect class="chart-bar /g)).toHaveLength(4);
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    // 10 is the top of the scale: its bar spans 85 % (room is left for the value beside it).
    expect(svg).toContain('width="85%"');
    expect(svg).toContain('width="42.5%"');
    expect(svg).toContain('width="0%"');
  });
});
