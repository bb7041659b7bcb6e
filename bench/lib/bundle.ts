// How big the device client is in a browser: esbuild (platform browser, minified, esnext by
// default), then gzip -9 and brotli 11. Shared by bench/bundle-size.ts, which prints every
// combination, and the budget test in test/device-client/bundle-size.test.ts.
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const src = path.resolve('device-client/src');

/** Minified, gzip -9 and brotli 11 sizes in bytes of `contents` bundled as an entry inside device-client/src. */
export async function bundleSize(contents: string, target = 'esnext'): Promise<{ raw: number; gz: number; br: number }> {
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

// The core reaches a browser minified only inside an app's bundle: the package ships plain,
// unminified ESM files, and a bundler renames every import like any local, so the library's
// export names ("startDeviceAuthorization", "AccessDeniedError", …, about 80 B gzipped) are
// not in what the app ships. So the 2 KB budget is measured on an app that imports the
// core's exports and keeps them reachable from one global (about 25 B of the app's own
// code, counted in).

/** An app entry importing `names` from the core and keeping them reachable. */
export const appUsing = (names: readonly string[]) =>
  `import { ${names.join(', ')} } from './index.js'; (globalThis as any).app = [${names.join(', ')}];`;

/** Every export of the core (`.`) that exists at run time. */
export const everyCoreExport = ['AbortedError', 'AccessDeniedError', 'ExpiredTokenError', 'MemoryTokenStore', 'OAuthResponseError', 'PairingLostError', 'discover', 'getAccessToken', 'startDeviceAuthorization', 'systemTimers'] as const;

/** What a pairing app imports. */
export const pairingExports = ['startDeviceAuthorization', 'getAccessToken', 'MemoryTokenStore'] as const;

/** Issue 4's budget for the core, gzipped. */
export const CORE_BUDGET = 2048;
