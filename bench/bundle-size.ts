// Gzipped size of the device client's browser bundle: the core, and the core with QR.
// esbuild, platform browser, minified, gzip -9, default (esnext) target; the TV page's own
// ES2019 bundle for comparison. Targets (issue 4): core ≤ 2 KB, core + QR ≤ 8 KB.
// Run: node --import tsx bench/bundle-size.ts
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const src = path.resolve('device-client/src');

async function gzipped(contents: string, target = 'esnext'): Promise<{ raw: number; gz: number }> {
  const result = await build({
    stdin: { contents, resolveDir: src, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target,
    write: false,
    legalComments: 'none',
  });
  const code = result.outputFiles[0]!.contents;
  return { raw: code.length, gz: gzipSync(code, { level: 9 }).length };
}

const cases: Array<[string, string, number | undefined, string?]> = [
  ['core: every export of "."', `export * from './index.js';`, 2048],
  ['core as a pairing app uses it (start, wait, getAccessToken, MemoryTokenStore)', `export { startDeviceAuthorization, getAccessToken, MemoryTokenStore } from './index.js';`, 2048],
  ['./qr alone (lean-qr/nano + SVG, terminal, data URL)', `export * from './qr.js';`, undefined],
  ['core + QR: every export of "." and "./qr"', `export * from './index.js'; export * from './qr.js';`, 8192],
  ['TV demo page script (core + QR + page, ES2019 for older TV runtimes)', `import '../../verify-ui/tv/app.js';`, undefined, 'es2019'],
];

console.log('bundle'.padEnd(82), 'min'.padStart(7), 'gzip'.padStart(7), ' target');
for (const [name, entry, target, esTarget] of cases) {
  const { raw, gz } = await gzipped(entry, esTarget);
  const verdict = target === undefined ? '' : gz <= target ? ` ≤ ${target} ok` : ` > ${target} OVER`;
  console.log(name.padEnd(82), String(raw).padStart(7), String(gz).padStart(7), verdict);
}
