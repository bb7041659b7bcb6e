/** Remembered consent on SQLite: the consent part of `store.authorization`. */
import type Database from 'better-sqlite3';
import type { ConsentRecord, ConsentRepository } from '../port/index.js';
import { words } from './codec.js';

interface ConsentRow {
  user_id: string;
  client_id: string;
  requested_scopes: string;
  granted_scopes: string;
  updated_at: number;
}

/** What a person allowed a client, so the same request can skip the consent screen. */
export function createConsentRepository(db: Database.Database): ConsentRepository {
  const consentByKey = db.prepare<[string, string], ConsentRow>('SELECT * FROM consents WHERE user_id = ? AND client_id = ?');
  const upsertConsent = db.prepare(`INSERT INTO consents (user_id, client_id, requested_scopes, granted_scopes, updated_at)
    VALUES (@userId, @clientId, @requestedScopes, @grantedScopes, @updatedAt)
    ON CONFLICT (user_id, client_id) DO UPDATE SET requested_scopes = excluded.requested_scopes,
      granted_scopes = excluded.granted_scopes, updated_at = excluded.updated_at`);
  return {
    async getConsent(userId, clientId) {
      const row = consentByKey.get(userId, clientId);
      return (
        row && {
          userId: row.user_id,
          clientId: row.client_id,
          requestedScopes: words.parse(row.requested_scopes),
          grantedScopes: words.parse(row.granted_scopes),
          updatedAt: row.updated_at,
        }
      );
    },
    async saveConsent(c: ConsentRecord) {
      upsertConsent.run({
        ...c,
        requestedScopes: words.format(c.requestedScopes),
        grantedScopes: words.format(c.grantedScopes),
      });
    },
  };
}
