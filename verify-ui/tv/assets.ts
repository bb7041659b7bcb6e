import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A static asset of the TV page, served at a content-hashed path. */
export interface TvAsset {
  path: string;
  body: string;
  etag: string;
}

/** The TV page's template, stylesheet and script (the browser build of the device client). */
export interface TvAssets {
  template: string;
  style: TvAsset;
  script: TvAsset;
}

function asset(name: string, ext: string, body: string): TvAsset {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return { path: `/tv/${name}.${hash}.${ext}`, body, etag: `"${hash}"` };
}

let built: Promise<TvAssets> | undefined;

/**
 * The TV page's assets: `app.ts` bundled with esbuild for browsers (minified, ES2019
 * so older TV runtimes parse it), in memory. Built on first use and kept for the
 * life of the process, so servers that never show /tv (most tests) pay nothing.
 */
export function tvAssets(): Promise<TvAssets> {
  built ??= buildTvAssets();
  built.catch(() => (built = undefined));
  return built;
}

async function buildTvAssets(): Promise<TvAssets> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [path.join(here, 'app.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2019',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return {
    template: readFileSync(path.join(here, 'index.html'), 'utf8'),
    style: asset('tv', 'css', readFileSync(path.join(here, 'tv.css'), 'utf8')),
    script: asset('app', 'js', result.outputFiles[0]!.text),
  };
}
