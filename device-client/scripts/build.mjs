// Build dist/: src/**/*.ts compiled to ESM (esbuild, one file per module, no bundling), so
// the package runs in plain Node and in any bundler, and the type declarations beside them
// (tsc, tsconfig.build.json), so a consumer's TypeScript never compiles our sources with its
// own settings. Runs from the repository root's "prepare" (`npm install` / `npm ci` there) and
// from this package's "prepack" (`npm pack`); a maker's install runs no script of ours.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outdir = path.join(root, 'dist');
const entryPoints = readdirSync(path.join(root, 'src'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .map((f) => path.join(root, 'src', f));
const strict = process.argv.includes('--strict');

let esbuild;
let tsc;
try {
  esbuild = await import('esbuild');
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  // Both are development dependencies of the repository: an install without them
  // (`npm ci --omit=dev`) keeps whatever dist/ there is.
  console.warn('@kalm/device-client: esbuild or typescript not installed, dist/ not rebuilt');
  process.exit(0);
}
try {
  await esbuild.build({ entryPoints, outdir, outbase: path.join(root, 'src'), format: 'esm', platform: 'neutral', target: 'es2022', logLevel: 'error' });
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
} catch {
  // Never fail the repository's `npm install` over this package's dist/ (the server's /tv page
  // bundles from src/); the error is printed above, and `npm pack` and the tests use --strict.
  console.warn('@kalm/device-client: dist/ build failed');
  process.exitCode = strict ? 1 : 0;
}
