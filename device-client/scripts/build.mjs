// Compile src/**/*.ts to dist/**/*.js (ESM, one file per module, no bundling), so the
// package runs in plain Node and in any bundler. Types are served from src/ (see
// package.json "exports"). Runs from "prepare", so `npm install` / `npm ci` build it.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outdir = path.join(root, 'dist');
const entryPoints = readdirSync(path.join(root, 'src'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .map((f) => path.join(root, 'src', f));

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  // A consumer installing the published package gets dist/ prebuilt and has no esbuild.
  console.warn('@kalm/device-client: esbuild not installed, dist/ not rebuilt');
  process.exit(0);
}
try {
  await esbuild.build({ entryPoints, outdir, outbase: path.join(root, 'src'), format: 'esm', platform: 'neutral', target: 'es2022', logLevel: 'error' });
} catch {
  // Never fail the workspace's `npm install` over this package's dist/ (the CLI and the
  // TV page run from src/); the error is printed above, and the README test rebuilds.
  console.warn('@kalm/device-client: dist/ build failed');
  process.exitCode = process.argv.includes('--strict') ? 1 : 0;
}
