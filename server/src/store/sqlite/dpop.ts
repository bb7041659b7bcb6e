/** The `dpop` repository on SQLite: DPoP proofs seen (replay, RFC 9449 §11.1) and the nonce secret (§8). */
import type Database from 'better-sqlite3';
import type { DpopRepository } from '../port/index.js';

export function createDpopRepository(db: Database.Database): DpopRepository {
  // One statement decides: a new key is inserted; a remembered one is taken over only when it
  // has expired. `changes` is 1 exactly when the proof was not live already.
  const remember = db.prepare(`INSERT INTO dpop_proofs (proof_key, expires_at) VALUES (@key, @expiresAt)
    ON CONFLICT (proof_key) DO UPDATE SET expires_at = excluded.expires_at WHERE dpop_proofs.expires_at <= @now`);
  const purge = db.prepare('DELETE FROM dpop_proofs WHERE expires_at < ?');
  const insertSecret = db.prepare('INSERT OR IGNORE INTO server_secrets (name, secret, created_at) VALUES (?, ?, ?)');
  const secretByName = db.prepare<[string], { secret: Buffer }>('SELECT secret FROM server_secrets WHERE name = ?');
  return {
    async rememberProof(key, expiresAt, now) {
      return remember.run({ key, expiresAt, now }).changes === 1;
    },
    async purgeExpiredProofs(before) {
      return purge.run(before).changes;
    },
    async serverSecret(name, candidate, now) {
      insertSecret.run(name, candidate, now);
      return secretByName.get(name)!.secret;
    },
  };
}
