/**
 * The `dpop` repository on PostgreSQL: DPoP proofs seen (replay refused by every instance,
 * RFC 9449 §11.1, decided by the primary key) and the nonce secret (§8), created once for all
 * instances.
 */
import type { DpopRepository } from '../port/index.js';
import { type Db, changes, query, row } from './database.js';

// One statement decides: a new key is inserted; a remembered one is taken over only when it
// has expired. A row counts exactly when the proof was not live already; two instances
// remembering the same proof at once: the second waits for the first's row and then finds it
// live.
const REMEMBER = {
  name: 'dpop.remember',
  text: `INSERT INTO dpop_proofs (proof_key, expires_at) VALUES ($1, $2)
    ON CONFLICT (proof_key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE dpop_proofs.expires_at <= $3`,
};
const PURGE = { name: 'dpop.purge', text: 'DELETE FROM dpop_proofs WHERE expires_at < $1' };
const INSERT_SECRET = {
  name: 'dpop.insertSecret',
  text: 'INSERT INTO server_secrets (name, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
};
// A statement of its own, after the insert: its snapshot sees the row whoever committed it
// (one statement with the insert would read the snapshot from before a concurrent insert).
const SECRET_BY_NAME = { name: 'dpop.secretByName', text: 'SELECT secret FROM server_secrets WHERE name = $1' };

export function createDpopRepository(db: Db): DpopRepository {
  return {
    async rememberProof(key, expiresAt, now) {
      return (await changes(db, REMEMBER, [key, expiresAt, now])) === 1;
    },
    async purgeExpiredProofs(before) {
      return changes(db, PURGE, [before]);
    },
    async serverSecret(name, candidate, now) {
      await query(db, INSERT_SECRET, [name, candidate, now]);
      return (await row<{ secret: Buffer }>(db, SECRET_BY_NAME, [name]))!.secret;
    },
  };
}
