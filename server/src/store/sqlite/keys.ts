/** The `keys` repository on SQLite: signing and encryption keys, rotated in one transaction. */
import type Database from 'better-sqlite3';
import type { AuditOnWrite, KeyRecord, KeyRepository } from '../port/index.js';
import { insertAuditEvent } from './audit.js';

interface KeyRow {
  kid: string;
  alg: KeyRecord['alg'];
  use: KeyRecord['use'];
  private_jwk: string;
  public_jwk: string;
  created_at: number;
  retired_at: number | null;
}

export function createKeyRepository(db: Database.Database): KeyRepository {
  const all = db.prepare<[], KeyRow>('SELECT * FROM keys ORDER BY created_at DESC, kid');
  const insert = db.prepare(`INSERT INTO keys (kid, alg, use, private_jwk, public_jwk, created_at, retired_at)
    VALUES (@kid, @alg, @use, @privateJwk, @publicJwk, @createdAt, NULL)`);
  const retire = db.prepare('UPDATE keys SET retired_at = ? WHERE alg = ? AND retired_at IS NULL');
  const activeAlgs = db.prepare<[], KeyRecord['alg']>('SELECT alg FROM keys WHERE retired_at IS NULL').pluck();
  const addMissingTx = db.transaction((keys: KeyRecord[]) => {
    const active = new Set(activeAlgs.all());
    const missing = keys.filter((k) => !active.has(k.alg));
    for (const k of missing) insert.run({ ...k, privateJwk: JSON.stringify(k.privateJwk), publicJwk: JSON.stringify(k.publicJwk) });
    return missing;
  });
  const rotateTx = db.transaction((keys: KeyRecord[], now: number, audit: AuditOnWrite) => {
    for (const k of keys) retire.run(now, k.alg);
    for (const k of keys) {
      insert.run({ ...k, privateJwk: JSON.stringify(k.privateJwk), publicJwk: JSON.stringify(k.publicJwk) });
    }
    insertAuditEvent(db, audit);
  });
  return {
    async list() {
      return all.all().map((row) => ({
        kid: row.kid,
        alg: row.alg,
        use: row.use,
        privateJwk: JSON.parse(row.private_jwk),
        publicJwk: JSON.parse(row.public_jwk),
        createdAt: row.created_at,
        retiredAt: row.retired_at,
      }));
    },
    async addMissing(keys) {
      // IMMEDIATE: the write lock before the read, so another process cannot add its set in between.
      return addMissingTx.immediate(keys);
    },
    async rotate(keys, now, audit) {
      rotateTx(keys, now, audit);
    },
  };
}
