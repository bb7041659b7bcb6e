/** The `registration` repository on SQLite: client profiles and RFC 7591 initial access tokens. */
import type Database from 'better-sqlite3';
import type { ClientProfileRecord, InitialAccessTokenRecord, RegistrationRepository } from '../port/index.js';

interface ProfileRow {
  client_id: string;
  kind: ClientProfileRecord['kind'];
  registered_via: ClientProfileRecord['registeredVia'];
  token_endpoint_auth_method: string;
  metadata: string;
}

interface InitialAccessTokenRow {
  token_hash: Buffer;
  owner_user_id: string | null;
  created_at: number;
  expires_at: number;
  uses_left: number;
}

/** Application profiles and RFC 7591 initial access tokens. */
export function createRegistrationRepository(db: Database.Database): RegistrationRepository {
  const upsertProfile = db.prepare(`INSERT INTO client_profiles (client_id, kind, registered_via, token_endpoint_auth_method, metadata)
    VALUES (@clientId, @kind, @registeredVia, @tokenEndpointAuthMethod, @metadata)
    ON CONFLICT (client_id) DO UPDATE SET kind = excluded.kind, registered_via = excluded.registered_via,
      token_endpoint_auth_method = excluded.token_endpoint_auth_method, metadata = excluded.metadata`);
  const profileById = db.prepare<[string], ProfileRow>('SELECT * FROM client_profiles WHERE client_id = ?');
  const insertIat = db.prepare(`INSERT INTO initial_access_tokens (token_hash, owner_user_id, created_at, expires_at, uses_left)
    VALUES (@tokenHash, @ownerUserId, @createdAt, @expiresAt, @usesLeft)`);
  const liveIat = db.prepare<[{ hash: Buffer; now: number }], InitialAccessTokenRow>(
    'SELECT * FROM initial_access_tokens WHERE token_hash = @hash AND uses_left > 0 AND expires_at > @now',
  );
  const takeUse = db.prepare<[{ hash: Buffer; now: number }], InitialAccessTokenRow>(`UPDATE initial_access_tokens
    SET uses_left = uses_left - 1
    WHERE token_hash = @hash AND uses_left > 0 AND expires_at > @now
    RETURNING *`);
  return {
    async saveProfile(p) {
      upsertProfile.run({ ...p, metadata: JSON.stringify(p.metadata) });
    },
    async getProfile(clientId) {
      const row = profileById.get(clientId);
      return (
        row && {
          clientId: row.client_id,
          kind: row.kind,
          registeredVia: row.registered_via,
          tokenEndpointAuthMethod: row.token_endpoint_auth_method,
          metadata: JSON.parse(row.metadata) as Record<string, unknown>,
        }
      );
    },
    async insertInitialAccessToken(t: InitialAccessTokenRecord) {
      insertIat.run(t);
    },
    async findInitialAccessToken(hash, now) {
      const row = liveIat.get({ hash, now });
      return row && toIat(row);
    },
    async useInitialAccessToken(hash, now) {
      const row = takeUse.get({ hash, now });
      return row && toIat(row);
    },
  };
}

function toIat(row: InitialAccessTokenRow): InitialAccessTokenRecord {
  return {
    tokenHash: row.token_hash,
    ownerUserId: row.owner_user_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usesLeft: row.uses_left,
  };
}
