// The package README's embedding example, run as written in plain Node (built package,
// no tsx) against our server, with only the issuer swapped for the test server's.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
// Inside the repository, so `@kalm/device-client` resolves through the workspace link.
mkdirSync(path.resolve('test-results'), { recursive: true });
const dir = mkdtempSync(path.resolve('test-results/readme-example-'));

beforeAll(async () => {
  // The example imports the built package (dist/, built by `npm install`'s prepare). Rebuild
  // only when a source is newer, so a fresh CI checkout never rewrites files others may be reading.
  const built = (file: string) => statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const sources = readdirSync('device-client/src', { recursive: true }).map(String).filter((f) => f.endsWith('.ts'));
  if (sources.some((f) => statSync(path.join('device-client/src', f)).mtimeMs > built(path.join('device-client/dist', f.replace(/\.ts$/, '.js'))))) {
    execFileSync(process.execPath, ['device-client/scripts/build.mjs', '--strict']);
  }
  server = await startTestServer();
  await server.createClient({ id: 'tv-demo', name: 'Kalm TV demo' });
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('device-client README', () => {
  it('pairs a device with the embedding example as written', async () => {
    const readme = readFileSync('device-client/README.md', 'utf8');
    const example = /## Embedding example[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)![1]!;
    expect(example.trim().split('\n').length).toBeLessThanOrEqual(16);
    const file = path.join(dir, 'pair.mjs');
    writeFileSync(file, example.replaceAll('http://localhost:8080', server.url));

    const child = spawn(process.execPath, [file], { cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    const userCode = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const m = /enter ([A-Z]{4}-[A-Z]{4})/.exec(stdout);
        if (m) resolve(m[1]!);
      });
      void exit.then((code) => reject(new Error(`exited ${code}: ${stdout}${stderr}`)));
    });
    await server.core.deviceFlow.approve(userCode, (await server.createUser()).id, ['valuate:read']);
    expect(await exit).toBe(0);
    expect(stdout).toMatch(/[▀▄█]{20,}/);
    expect(stdout).toContain('Signed in, granted: valuate:read');
    expect(stdout).toMatch(/Bearer eyJ/);
    expect(JSON.parse(readFileSync(path.join(dir, 'pairing.json'), 'utf8'))).toMatchObject({ clientId: 'tv-demo', scope: 'valuate:read' });
  });
});
