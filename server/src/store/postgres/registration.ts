/** The `registration` repository on PostgreSQL: client profiles and RFC 7591 initial access tokens (stored hashed). */
import type { ClientProfileRecord, InitialAccessTokenRecord, RegistrationRepository } from '../port/index.js';
import { type Db, query, row } from './database.js';

interface ProfileRow {
  client_id: string;
  kind: ClientProfileRecord['kind'];
  registered_via: ClientProfileRecord['registeredVia'];
  token_endpoint_auth_method: string;
  metadata: Record<string, unknown>;
}

interface InitialAccessTokenRow {
  token_hash: Buffer;
  owner_user_id: string | null;
  created_at: number;
  expires_at: number;
  uses_left: number;
}

function toProfile(row: ProfileRow): ClientProfileRecord {
  return {
    clientId: row.client_id,
    kind: row.kind,
    registeredVia: row.registered_via,
    tokenEndpointAuthMethod: row.token_endpoint_auth_method,
    metadata: row.metadata,
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

const UPSERT_PROFILE = {
  name: 'registration.upsertProfile',
  text: `INSERT INTO client_profiles (client_id, kind, registered_via, token_endpoint_auth_method, metadata)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (client_id) DO UPDATE SET kind = EXCLUDED.kind, registered_via = EXCLUDED.registered_via,
      token_endpoint_auth_method = EXCLUDED.token_endpoint_auth_method, metadata = EXCLUDED.metadata`,
};
const PROFILE_BY_ID = {
  name: 'registration.profileById',
  text: 'SELECT client_id, kind, registered_via, token_endpoint_auth_method, metadata FROM client_profiles WHERE client_id = $1',
};
const IAT_COLUMNS = 'token_hash, owner_user_id, created_at, expires_at, uses_left';
const INSERT_IAT = {
  name: 'registration.insertIat',
  text: `INSERT INTO initial_access_tokens (${IAT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)`,
};
const LIVE_IAT = {
  name: 'registration.liveIat',
  text: `SELECT ${IAT_COLUMNS} FROM initial_access_tokens WHERE token_hash = $1 AND uses_left > 0 AND expires_at > $2`,
};
// Conditional: two instances taking the last use at once, one gets it (the other re-reads the
// row after the first commits and finds no use left).
const TAKE_USE = {
  name: 'registration.takeUse',
  text: `UPDATE initial_access_tokens SET uses_left = uses_left - 1
    WHERE token_hash = $1 AND uses_left > 0 AND expires_at > $2
    RETURNING ${IAT_COLUMNS}`,
};

/** Application profiles and RFC 7591 initial access tokens. */
export function createRegistrationRepository(db: Db): RegistrationRepository {
  return {
    async saveProfile(p) {
      await query(db, UPSERT_PROFILE, [p.clientId, p.kind, p.registeredVia, p.tokenEndpointAuthMethod, JSON.stringify(p.metadata)]);
    },
    async getProfile(clientId) {
      const r = await row<ProfileRow>(db, PROFILE_BY_ID, [clientId]);
      return r && toProfile(r);
    },
    async insertInitialAccessToken(t) {
      await query(db, INSERT_IAT, [t.tokenHash, t.ownerUserId, t.createdAt, t.expiresAt, t.usesLeft]);
    },
    async findInitialAccessToken(hash, now) {
      const r = await row<InitialAccessTokenRow>(db, LIVE_IAT, [hash, now]);
      return r && toIat(r);
    },
    async useInitialAccessToken(hash, now) {
      const r = await row<InitialAccessTokenRow>(db, TAKE_USE, [hash, now]);
      return r && toIat(r);
    },
  };
}
