// The core's size budget (issue 4: ≤ 2 KB gzipped), held in npm test so a change that
// breaks it fails here rather than in the next benchmark run. Sizes, not timings: the same
// sources and esbuild version give the same bytes on every machine. How and why the core
// is measured inside an app bundle: bench/lib/bundle.ts; every figure: bench/bundle-size.ts.
import { describe, expect, it } from 'vitest';
import { appUsing, bundleSize, CORE_BUDGET, everyCoreExport } from '../../bench/lib/bundle.js';

describe('device-client bundle size', () => {
  it('keeps the core within 2 KB gzipped in an app that uses every export of "."', async () => {
    const { gz } = await bundleSize(appUsing(everyCoreExport));
    expect(gz).toBeLessThanOrEqual(CORE_BUDGET);
  });
});
