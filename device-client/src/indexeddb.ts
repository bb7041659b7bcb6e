/**
 * `@kalm/device-client/indexeddb`: a browser {@link TokenStore} in IndexedDB that keeps the
 * pairing across reloads and the DPoP key as the `CryptoKey` itself (IndexedDB stores it by
 * structured clone, non-extractable as it was made): the page can sign with it after a
 * reload, and no script can ever read the private key out.
 *
 * @packageDocumentation
 */
import { generateDpopKey, type DpopKeyPair, type DpopKeyStore } from './dpop-key.js';
import type { Pairing, TokenStore } from './tokens.js';

const OBJECTS = 'kalm';

/**
 * A {@link TokenStore} and {@link DpopKeyStore} in the browser's IndexedDB (database `name`,
 * default `kalm-device`). `save` resolves once the write is committed with strict
 * durability (a rotated refresh token must not be lost); `clear` forgets the pairing and
 * keeps the key.
 *
 * @example
 * ```ts
 * import { IndexedDbTokenStore } from '@kalm/device-client/indexeddb'
 * const store = new IndexedDbTokenStore()
 * const dpop = await createDpop(store)
 * ```
 */
export class IndexedDbTokenStore implements TokenStore, DpopKeyStore {
  #db: Promise<IDBDatabase> | undefined;
  #key: Promise<DpopKeyPair> | undefined;

  /** @param name the IndexedDB database to use */
  constructor(readonly name = 'kalm-device') {}

  // One request in its own transaction, settled when the transaction completes.
  #run<T>(mode: IDBTransactionMode, request: (objects: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    this.#db ??= new Promise((resolve, reject) => {
      const open = indexedDB.open(this.name, 1);
      open.onupgradeneeded = () => open.result.createObjectStore(OBJECTS);
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    return this.#db.then(
      (db) =>
        new Promise((resolve, reject) => {
          const tx = db.transaction(OBJECTS, mode, { durability: 'strict' });
          const req = request(tx.objectStore(OBJECTS));
          tx.oncomplete = () => resolve(req.result);
          tx.onabort = () => reject(tx.error ?? req.error);
        }),
    );
  }

  /** The stored pairing, or undefined. */
  load(): Promise<Pairing | undefined> {
    return this.#run('readonly', (objects) => objects.get('pairing') as IDBRequest<Pairing | undefined>);
  }

  /** Replace the pairing, committed durably. */
  async save(pairing: Pairing): Promise<void> {
    await this.#run('readwrite', (objects) => objects.put(pairing, 'pairing'));
  }

  /** Forget the pairing (the DPoP key stays). */
  async clear(): Promise<void> {
    await this.#run('readwrite', (objects) => objects.delete('pairing'));
  }

  /** The DPoP key pair, made non-extractable and stored on first use. */
  dpopKey(): Promise<DpopKeyPair> {
    const stored = () => this.#run('readonly', (objects) => objects.get('dpop-key') as IDBRequest<DpopKeyPair | undefined>);
    this.#key ??= stored().then(async (found) => {
      if (found) return found;
      const key = await generateDpopKey();
      // `add`, not `put`: when another tab stored a key first, this one fails and takes that.
      return this.#run('readwrite', (objects) => objects.add(key, 'dpop-key')).then(
        () => key,
        async () => (await stored())!,
      );
    });
    this.#key.catch(() => (this.#key = undefined));
    return this.#key;
  }
}
