/** Remembered consent on PostgreSQL: the consent part of `store.authorization`. */
import type { ConsentRecord, ConsentRepository } from '../port/index.js';
import { query, row, type Db } from './database.js';

interface ConsentRow {
  user_id: string;
  client_id: string;
  requested_scopes: string[];
  granted_scopes: string[];
  updated_at: number;
}

// Named, not `*`: a prepared statement's result must not change when a newer server adds a column.
const COLUMNS = 'user_id, client_id, requested_scopes, granted_scopes, updated_at';

const BY_KEY = { name: 'consents.by_key', text: `SELECT ${COLUMNS} FROM consents WHERE user_id = $1 AND client_id = $2` };
const UPSERT = {
  name: 'consents.upsert',
  text: `INSERT INTO consents (user_id, client_id, requested_scopes, granted_scopes, updated_at)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (user_id, client_id) DO UPDATE SET requested_scopes = excluded.requested_scopes,
      granted_scopes = excluded.granted_scopes, updated_at = excluded.updated_at`,
};

/** What a person allowed a client, so the same request can skip the consent screen. */
export function createConsentRepository(db: Db): ConsentRepository {
  return {
    async getConsent(userId, clientId) {
      const r = await row<ConsentRow>(db, BY_KEY, [userId, clientId]);
      return (
        r && {
          userId: r.user_id,
          clientId: r.client_id,
          requestedScopes: r.requested_scopes,
          grantedScopes: r.granted_scopes,
          updatedAt: r.updated_at,
        }
      );
    },
    async saveConsent(c: ConsentRecord) {
      await query(db, UPSERT, [c.userId, c.clientId, c.requestedScopes, c.grantedScopes, c.updatedAt]);
    },
  };
}
