/** Signing and encryption keys: the records of the `keys` repository and the algorithms they are for. */
import type { JWK } from 'jose';
import type { AuditOnWrite } from './audit.js';

export type SigningAlg = 'ES256' | 'RS256';

export interface KeyRecord {
  kid: string;
  alg: SigningAlg | 'ECDH-ES+A256KW';
  use: 'sig' | 'enc';
  privateJwk: JWK;
  publicJwk: JWK;
  createdAt: number;
  /** When it stopped being used for new tokens; it stays published until its tokens expire. */
  retiredAt: number | null;
}

export interface KeyRepository {
  list(): Promise<KeyRecord[]>;
  /**
   * Insert each of `keys` whose algorithm has no active key yet, and return those inserted, in one
   * transaction that serialises with every other writer of the keys: instances starting together on
   * an empty database create one key set between them (the first start of a server).
   */
  addMissing(keys: KeyRecord[]): Promise<KeyRecord[]>;
  /** Insert `keys` and retire every other active key of the same algorithms, in one transaction. */
  rotate(keys: KeyRecord[], now: number, audit?: AuditOnWrite): Promise<void>;
}
