// Gzipped size of the device client's browser bundles: the core, each optional entry point, and combinations.
// esbuild, platform browser, minified, gzip -9, default (esnext) target; the TV page's own
// ES2019 bundle for comparison. Targets (issue 4): core ≤ 2 KB, core + QR ≤ 8 KB (and
// every browser entry together, too).
// Run: node --import tsx bench/bundle-size.ts
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const src = path.resolve('device-client/src');

async function gzipped(contents: string, target = 'esnext'): Promise<{ raw: number; gz: number; br: number }> {
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
  // Brotli too, for information: what most CDNs serve; the targets are for gzip.
  const br = brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  return { raw: code.length, gz: gzipSync(code, { level: 9 }).length, br };
}

// "core" is the "." entry with its full export set; the optional entry points (push and
// revocation watching, claims, QR) are reported alone and in the combinations apps use.
const cases: Array<[string, string, number | undefined, string?]> = [
  ['core: every export of "."', `export * from './index.js';`, 2048],
  ['core as a pairing app uses it (start, wait, getAccessToken, MemoryTokenStore)', `export { startDeviceAuthorization, getAccessToken, MemoryTokenStore } from './index.js';`, 2048],
  ['./push alone (webSocketPush, runtimePush, watchPairing)', `export * from './push.js';`, undefined],
  ['./claims alone (accessTokenClaims)', `export * from './claims.js';`, undefined],
  ['./client-secret alone (clientSecretBasic)', `export * from './client-secret.js';`, undefined],
  ['./qr alone (lean-qr/nano + SVG, terminal, data URL)', `export * from './qr.js';`, undefined],
  ['pairing app with push (+ runtimePush)', `export { startDeviceAuthorization, getAccessToken, MemoryTokenStore } from './index.js'; export { runtimePush } from './push.js';`, undefined],
  ['core + push: every export of "." and "./push"', `export * from './index.js'; export * from './push.js';`, undefined],
  ['core + QR: every export of "." and "./qr"', `export * from './index.js'; export * from './qr.js';`, 8192],
  ['every browser entry: ".", "./push", "./claims", "./qr"', `export * from './index.js'; export * from './push.js'; export * from './claims.js'; export * from './qr.js';`, 8192],
  ['TV demo page script (core + push + QR + page, ES2019 for older TV runtimes)', `import '../../verify-ui/tv/app.js';`, undefined, 'es2019'],
];

console.log('bundle'.padEnd(82), 'min'.padStart(7), 'gzip'.padStart(7), 'brotli'.padStart(7), ' target (gzip)');
for (const [name, entry, target, esTarget] of cases) {
  const { raw, gz, br } = await gzipped(entry, esTarget);
  const verdict = target === undefined ? '' : gz <= target ? ` ≤ ${target} ok` : ` > ${target} OVER`;
  console.log(name.padEnd(82), String(raw).padStart(7), String(gz).padStart(7), String(br).padStart(7), verdict);
}
