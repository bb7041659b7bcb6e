import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Pairing, TokenStore } from '../tokens.js';

/**
 * Where `kalm-device` keeps its pairing when no path is given: `$KALM_DEVICE_STORE`,
 * else `pairing.json` under the user's config dir (`$XDG_CONFIG_HOME` or
 * `~/.config` on Linux, `~/Library/Application Support` on macOS, `%APPDATA%` on Windows).
 */
export function defaultPairingFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KALM_DEVICE_STORE) return path.resolve(env.KALM_DEVICE_STORE);
  const home = homedir();
  const base =
    process.platform === 'win32'
      ? (env.APPDATA ?? path.join(home, 'AppData', 'Roaming'))
      : process.platform === 'darwin'
        ? path.join(home, 'Library', 'Application Support')
        : (env.XDG_CONFIG_HOME ?? path.join(home, '.config'));
  return path.join(base, 'kalm-device', 'pairing.json');
}

/**
 * A {@link TokenStore} in a JSON file readable by its owner only (mode 0600, in a
 * 0700 folder). `save` writes a temporary file, flushes it to disk and renames it
 * over the old one, so a crash leaves either the old or the new pairing, never half.
 *
 * @example
 * ```ts
 * const store = new FileTokenStore(defaultPairingFile())
 * ```
 */
export class FileTokenStore implements TokenStore {
  /** @param file path of the JSON file */
  constructor(readonly file: string) {}

  /** The stored pairing, or undefined when the file does not exist. */
  async load(): Promise<Pairing | undefined> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as Pairing;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Replace the pairing, durably. */
  async save(pairing: Pairing): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const temp = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(pairing, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.file);
  }

  /** Delete the file. */
  async clear(): Promise<void> {
    await unlink(this.file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}
