// The package as a maker gets it: `npm pack` of device-client, installed with `ws` into a
// fresh project outside this repository (so nothing resolves through the workspace), then
// the README's embedding example run as written in plain Node against our server, the
// installed `kalm-device` bin, and a strict TypeScript consumer compiled against the
// shipped declarations. dist/ is brought up to date by test/global-setup.ts.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const repo = path.resolve('.');
const project = mkdtempSync(path.join(tmpdir(), 'kalm-maker-'));
let server: TestServer;
let installOutput = '';

beforeAll(async () => {
  // --ignore-scripts: dist/ is already built; packing must not rebuild it under other test files.
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', project, '-w', 'device-client']);
  const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'maker-app', private: true, type: 'module' }));
  // Dependencies come from npm's cache when `npm ci` already fetched them (no network needed then).
  const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `./${filename}`, 'ws@8'], { cwd: project });
  installOutput = install.stdout + install.stderr;
  server = await startTestServer();
  await server.createClient({ id: 'tv-demo', name: 'Kalm TV demo' });
}, 120_000);
afterAll(async () => {
  await server?.stop();
  rmSync(project, { recursive: true, force: true });
});

describe('device-client as a maker installs it', () => {
  it('installs from its tarball with only its declared dependencies and no script: no TypeScript runner, no sources', () => {
    const installed = path.join(project, 'node_modules/@kalm/device-client');
    expect(existsSync(path.join(installed, 'dist/index.js'))).toBe(true);
    expect(existsSync(path.join(installed, 'dist/index.d.ts'))).toBe(true);
    expect(existsSync(path.join(installed, 'src'))).toBe(false);
    expect(existsSync(path.join(project, 'node_modules/tsx'))).toBe(false);
    // No lifecycle script of ours runs (or asks to be approved) in the maker's install.
    expect(installOutput).not.toContain('@kalm/device-client');
  });

  it('pairs a device with the README embedding example as written', async () => {
    const readme = readFileSync('device-client/README.md', 'utf8');
    const example = /## Embedding example[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)![1]!;
    expect(example.trim().split('\n').length).toBeLessThanOrEqual(16);
    const file = path.join(project, 'pair.mjs');
    writeFileSync(file, example.replaceAll('http://localhost:8080', server.url));

    const child = spawn(process.execPath, [file], { cwd: project });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    const userCode = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const m = /enter ([A-Z]{4}-[A-Z]{5})/.exec(stdout);
        if (m) resolve(m[1]!);
      });
      void exit.then((code) => reject(new Error(`exited ${code}: ${stdout}${stderr}`)));
    });
    await server.core.deviceFlow.approve(userCode, (await server.createUser()).id, ['valuate:read']);
    expect(await exit).toBe(0);
    expect(stdout).toMatch(/[▀▄█]{20,}/);
    expect(stdout).toContain('Signed in, granted: valuate:read');
    expect(stdout).toMatch(/Bearer eyJ/);
    expect(JSON.parse(readFileSync(path.join(project, 'pairing.json'), 'utf8'))).toMatchObject({ clientId: 'tv-demo', scope: 'valuate:read' });
  });

  it('runs the installed kalm-device bin with plain Node', async () => {
    const bin = path.join(project, 'node_modules/.bin/kalm-device');
    const store = path.join(project, 'never-paired.json');
    const failure = await run(bin, ['token', '--store', store]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    // Exit code 5 is "not paired, run login": every module of the CLI loaded and ran.
    expect(failure?.code).toBe(5);
    expect(failure?.stderr).toMatch(/login/);
  });

  it('type-checks a strict TypeScript consumer against the shipped declarations', async () => {
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023'], // a Node project: no DOM types
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false, // check our .d.ts files under the consumer's settings too
          noEmit: true,
          typeRoots: [path.join(repo, 'node_modules/@types')],
          types: ['node'],
        },
        files: ['app.ts'],
      }),
    );
    writeFileSync(
      path.join(project, 'app.ts'),
      [
        "import { startDeviceAuthorization, getAccessToken, AccessDeniedError, type Pairing } from '@kalm/device-client';",
        "import { qrSvg } from '@kalm/device-client/qr';",
        "import { FileTokenStore, nodePush } from '@kalm/device-client/node';",
        "import { createDpop, type Dpop } from '@kalm/device-client/dpop';",
        "import { IndexedDbTokenStore } from '@kalm/device-client/indexeddb';",
        "const store = new FileTokenStore('./pairing.json');",
        "const auth = await startDeviceAuthorization({ issuer: 'http://localhost:8080', clientId: 'tv-demo', scope: ['a', 'b'], store, push: await nodePush() });",
        'const svg: string = qrSvg(auth);',
        'const pairing: Pairing = await auth.wait({ onStatus: (s) => console.log(s.type) }).catch((e: unknown) => {',
        "  if (e instanceof AccessDeniedError) console.log(e.error, e.description);",
        '  throw e;',
        '});',
        'const token: string = await getAccessToken(store);',
        '// @ts-expect-error clientId is a string: the declarations are real types, not any',
        "await startDeviceAuthorization({ issuer: 'x', clientId: 42 });",
        'const dpop: Dpop = await createDpop(store);',
        "const res: Response = await dpop.fetchWithToken('https://api.example/v1/me', { method: 'POST' });",
        'const browserStore: IndexedDbTokenStore = new IndexedDbTokenStore();',
        'console.log(svg, pairing.scope, token, res.status, dpop.jkt, browserStore.name);',
      ].join('\n'),
    );
    const result = await run(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', project]).then(
      () => ({ code: 0, stdout: '' }),
      (error: { code: number; stdout: string }) => error,
    );
    expect(result.stdout).toBe('');
    expect(result.code).toBe(0);
  });
});
