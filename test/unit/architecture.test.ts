import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layering of docs/ARCHITECTURE.md, read off the source: every import and export-from
 * (type-only ones too, and dynamic `import('…')` of a literal) of every TypeScript file of
 * the three packages, resolved to files. A rule broken here is named with the importing file.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCES = ['server/src', 'server/bin', 'device-client/src', 'verify-ui/src', 'verify-ui/tv'];
// The workspace packages one part imports another by (their package.json "exports").
const WORKSPACE: Record<string, string> = {
  '@kalm/verify-ui': 'verify-ui/src/index.ts',
  '@kalm/verify-ui/tv': 'verify-ui/tv/assets.ts',
};

interface Module {
  file: string;
  /** Other source files it imports, relative to the root. */
  files: string[];
  /** Package names it imports (`express`, `node:http`, …). */
  packages: string[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'dist' ? [] : sourceFiles(path);
    return /\.(ts|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function resolveImport(from: string, specifier: string): string | undefined {
  if (WORKSPACE[specifier]) return WORKSPACE[specifier];
  if (!specifier.startsWith('.')) return undefined;
  const target = relative(root, resolve(root, dirname(from), specifier));
  // NodeNext: a TypeScript file is imported by its emitted `.js` name.
  return target.endsWith('.js') && !target.startsWith('server/bin') ? target.replace(/\.js$/, '.ts') : target;
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function readModules(): Map<string, Module> {
  const modules = new Map<string, Module>();
  for (const file of SOURCES.flatMap(sourceFiles)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
    const module: Module = { file, files: [], packages: [] };
    for (const { fileName: specifier } of importedFiles) {
      const target = resolveImport(file, specifier);
      if (target !== undefined) module.files.push(target);
      else if (!specifier.startsWith('.')) module.packages.push(packageName(specifier));
    }
    modules.set(file, module);
  }
  return modules;
}

/** Every strongly connected group of more than one file (Tarjan), or a file importing itself. */
function cycles(modules: Map<string, Module>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next);
    next++;
    stack.push(file);
    onStack.add(file);
    for (const target of modules.get(file)?.files ?? []) {
      if (!modules.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(member);
    } while (member !== file);
    if (group.length > 1 || modules.get(file)!.files.includes(file)) found.push(group.sort());
  };
  for (const file of modules.keys()) if (!index.has(file)) visit(file);
  return found;
}

const modules = readModules();
const under = (folder: string) => [...modules.values()].filter((m) => m.file.startsWith(`${folder}/`));

/** `file → what it must not import` for every import of `from` that lands in one of `folders`. */
function importsInto(from: string, folders: string[]): string[] {
  return under(from).flatMap((m) => m.files.filter((f) => folders.some((folder) => f.startsWith(`${folder}/`))).map((f) => `${m.file} → ${f}`));
}

function packagesUsed(from: string, names: string[]): string[] {
  return under(from).flatMap((m) => m.packages.filter((p) => names.includes(p)).map((p) => `${m.file} → ${p}`));
}

describe('architecture', () => {
  it('reads the import graph of every part', () => {
    // A guard on the reader itself: an empty graph would pass every rule below.
    expect(modules.size).toBeGreaterThan(100);
    expect(modules.get('server/src/server.ts')?.files).toContain('server/src/core/index.ts');
  });

  it('has no import cycle anywhere, type-only imports included', () => {
    expect(cycles(modules)).toEqual([]);
  });

  it('keeps core free of transports and of the storage engines', () => {
    expect(packagesUsed('server/src/core', ['express', 'body-parser', 'ws', 'mqtt', 'better-sqlite3', 'pg', 'node:http'])).toEqual([]);
    expect(importsInto('server/src/core', ['server/src/http', 'server/src/push', 'server/src/mqtt', 'server/src/store/sqlite', 'server/src/store/postgres'])).toEqual([]);
  });

  it('lets no transport reach into another or into a storage engine', () => {
    const engines = ['server/src/store/sqlite', 'server/src/store/postgres'];
    expect(importsInto('server/src/http', ['server/src/push', 'server/src/mqtt', ...engines])).toEqual([]);
    expect(importsInto('server/src/push', ['server/src/http', 'server/src/mqtt', ...engines])).toEqual([]);
    expect(importsInto('server/src/mqtt', ['server/src/http', 'server/src/push', ...engines])).toEqual([]);
  });

  it('keeps SQL engines inside store/, each behind the port', () => {
    expect(under('server/src/store/port').length).toBeGreaterThan(0);
    const outside = [...modules.values()].filter((m) => m.file.startsWith('server/src/') && !m.file.startsWith('server/src/store/'));
    expect(outside.flatMap((m) => m.packages.filter((p) => p === 'better-sqlite3' || p === 'pg').map((p) => `${m.file} → ${p}`))).toEqual([]);
    expect(importsInto('server/src/store/port', ['server/src/store/sqlite', 'server/src/store/postgres'])).toEqual([]);
    expect(packagesUsed('server/src/store/port', ['better-sqlite3', 'pg'])).toEqual([]);
  });

  it('serves the protocol endpoints without Express', () => {
    expect(under('server/src/http/protocol').length).toBeGreaterThan(0);
    expect(packagesUsed('server/src/http/protocol', ['express'])).toEqual([]);
    expect(importsInto('server/src/http/protocol', ['server/src/http/pages'])).toEqual([]);
  });

  it('keeps the device client and the pages independent of the server', () => {
    expect(importsInto('device-client/src', ['server', 'verify-ui'])).toEqual([]);
    expect(importsInto('verify-ui/src', ['server', 'device-client/src'])).toEqual([]);
    // The core entry point a TV app bundles touches Web APIs only.
    const core = under('device-client/src').filter((m) => !m.file.startsWith('device-client/src/node/'));
    expect(core.flatMap((m) => m.packages.filter((p) => p.startsWith('node:')).map((p) => `${m.file} → ${p}`))).toEqual([]);
  });
});
