// Once before every test file: bring device-client/dist/ (code and type declarations) up to
// date, because the README example, the kalm-device CLI and the packed-package test run the
// built package as a consumer would, with plain Node. Rebuilt only when a source is newer, so
// a fresh checkout (built by `npm ci`'s prepare) is left alone; here, once, so no two test
// files ever rebuild it while another reads it.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export default function setup(): void {
  const src = 'device-client/src';
  const builtAt = (file: string) => statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const stale = readdirSync(src, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .some((f) => {
      const out = path.join('device-client/dist', f.replace(/\.ts$/, ''));
      const sourceAt = statSync(path.join(src, f)).mtimeMs;
      return sourceAt > builtAt(`${out}.js`) || sourceAt > builtAt(`${out}.d.ts`);
    });
  if (stale) execFileSync(process.execPath, ['device-client/scripts/build.mjs', '--strict'], { stdio: 'inherit' });
}
