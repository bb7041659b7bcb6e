import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import type { JWK } from 'jose';
import { generateDpopKey, importDpopKey, type DpopKeyPair, type DpopKeyStore } from '../dpop-key.js';
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
 * It keeps the DPoP key too ({@link DpopKeyStore}, for `@kalm/device-client/dpop`): a
 * private JWK in `dpopKeyFile` (mode 0600, beside the pairing: `pairing.json` →
 * `pairing.dpop-key.json`), written once and imported back as a non-extractable
 * `CryptoKey` for signing. `clear` leaves it: a new pairing binds to the same key.
 *
 * @example
 * ```ts
 * const store = new FileTokenStore(defaultPairingFile())
 * ```
 */
export class FileTokenStore implements TokenStore, DpopKeyStore {
  #key: Promise<DpopKeyPair> | undefined;

  /**
   * @param file path of the JSON file
   * @param dpopKeyFile path of the DPoP key's JWK file
   */
  constructor(
    readonly file: string,
    readonly dpopKeyFile = file.replace(/(\.json)?$/, '.dpop-key.json'),
  ) {}

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
    await rename(await writeTemp(this.file, pairing), this.file);
  }

  /** The DPoP key from `dpopKeyFile`, generated and written (0600) on first use. */
  dpopKey(): Promise<DpopKeyPair> {
    this.#key ??= loadDpopKeyFile(this.dpopKeyFile);
    this.#key.catch(() => (this.#key = undefined));
    return this.#key;
  }

  /** Delete the file. */
  async clear(): Promise<void> {
    await unlink(this.file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

// `value` as JSON in a new temporary file beside `file` (mode 0600, its folder 0700), flushed
// to disk; returns its path, for an atomic rename or link into place.
async function writeTemp(file: string, value: unknown): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temp;
}

const readJwk = async (file: string) => importDpopKey(JSON.parse(await readFile(file, 'utf8')) as JWK);

// The key is generated extractable only to be written out once; what signs is the copy
// imported back from the file, non-extractable. link() publishes the file atomically and only
// if none is there, so two processes starting at once end up with the same key.
async function loadDpopKeyFile(file: string): Promise<DpopKeyPair> {
  try {
    return await readJwk(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const { kty, crv, x, y, d } = await crypto.subtle.exportKey('jwk', (await generateDpopKey(true)).privateKey);
  const temp = await writeTemp(file, { kty, crv, x, y, d });
  try {
    await link(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(temp);
  }
  return readJwk(file);
}
