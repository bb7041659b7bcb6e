/**
 * The `keys` repository on PostgreSQL: signing and encryption keys, shared by every instance on
 * the database, rotated in one transaction. Two instances rotating at once leave one active key
 * per algorithm: the rotation takes a lock on the table first, so the second one waits, then
 * retires what the first one inserted.
 */
import type { KeyRecord, KeyRepository } from '../port/index.js';
import { insertAuditEvent } from './audit.js';
import { type Db, query, rows, transaction } from './database.js';

interface KeyRow {
  kid: string;
  alg: KeyRecord['alg'];
  use: KeyRecord['use'];
  private_jwk: KeyRecord['privateJwk'];
  public_jwk: KeyRecord['publicJwk'];
  created_at: number;
  retired_at: number | null;
}

function toKey(row: KeyRow): KeyRecord {
  return {
    kid: row.kid,
    alg: row.alg,
    use: row.use,
    privateJwk: row.private_jwk,
    publicJwk: row.public_jwk,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
  };
}

const ALL = {
  name: 'keys.all',
  text: 'SELECT kid, alg, use, private_jwk, public_jwk, created_at, retired_at FROM keys ORDER BY created_at DESC, kid',
};
// SHARE ROW EXCLUSIVE conflicts with itself (and with every write), not with reads: rotations
// run one after another while `list` keeps answering. Held until the transaction ends.
const LOCK = 'LOCK TABLE keys IN SHARE ROW EXCLUSIVE MODE';
const RETIRE = { name: 'keys.retire', text: 'UPDATE keys SET retired_at = $1 WHERE alg = ANY($2::text[]) AND retired_at IS NULL' };
const INSERT = {
  name: 'keys.insert',
  text: `INSERT INTO keys (kid, alg, use, private_jwk, public_jwk, created_at, retired_at)
    VALUES ($1, $2, $3, $4, $5, $6, NULL)`,
};

const ACTIVE_ALGS = { name: 'keys.active_algs', text: 'SELECT alg FROM keys WHERE retired_at IS NULL' };

export function createKeyRepository(db: Db): KeyRepository {
  return {
    async list() {
      return (await rows<KeyRow>(db, ALL)).map(toKey);
    },
    async addMissing(keys) {
      return transaction(db, async (tx) => {
        // The rotation's lock: instances starting at once add their missing keys one after another.
        await query(tx, LOCK);
        const active = new Set((await rows<{ alg: KeyRecord['alg'] }>(tx, ACTIVE_ALGS)).map((r) => r.alg));
        const missing = keys.filter((k) => !active.has(k.alg));
        for (const k of missing) {
          await query(tx, INSERT, [k.kid, k.alg, k.use, JSON.stringify(k.privateJwk), JSON.stringify(k.publicJwk), k.createdAt]);
        }
        return missing;
      });
    },
    async rotate(keys, now, audit) {
      if (keys.length === 0) return;
      await transaction(db, async (tx) => {
        await query(tx, LOCK);
        await query(tx, RETIRE, [now, [...new Set(keys.map((k) => k.alg))]]);
        for (const k of keys) {
          await query(tx, INSERT, [k.kid, k.alg, k.use, JSON.stringify(k.privateJwk), JSON.stringify(k.publicJwk), k.createdAt]);
        }
        await insertAuditEvent(tx, audit);
      });
    },
  };
}
