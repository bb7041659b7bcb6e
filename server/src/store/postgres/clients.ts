/** The `clients` repository on PostgreSQL: registered OAuth clients. */
import type { ClientRecord, ClientRepository } from '../port/index.js';
import { auditedStatement, auditedValues } from './audit.js';
import { changes, row, rows, query, type Db } from './database.js';

interface ClientRow {
  id: string;
  name: string;
  type: ClientRecord['type'];
  secret_hash: string | null;
  grant_types: string[];
  scopes: string[];
  redirect_uris: string[];
  device_code_ttl: number | null;
  device_poll_interval: number | null;
  access_token_alg: ClientRecord['accessTokenAlg'];
  owner_user_id: string | null;
  created_at: number;
  require_dpop: boolean;
}

function toClient(row: ClientRow): ClientRecord {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    secretHash: row.secret_hash,
    grantTypes: row.grant_types,
    scopes: row.scopes,
    redirectUris: row.redirect_uris,
    deviceCodeTtl: row.device_code_ttl,
    devicePollInterval: row.device_poll_interval,
    accessTokenAlg: row.access_token_alg,
    ownerUserId: row.owner_user_id,
    createdAt: row.created_at,
    requireDpop: row.require_dpop,
  };
}

// Named, not `*`: a prepared statement's result must not change when a newer server adds a column.
const COLUMNS = 'id, name, type, secret_hash, grant_types, scopes, redirect_uris, device_code_ttl, device_poll_interval, access_token_alg, owner_user_id, created_at, require_dpop';

const INSERT = auditedStatement(
  {
    name: 'clients.insert',
    text: `INSERT INTO clients (id, name, type, secret_hash, grant_types, scopes, redirect_uris,
      device_code_ttl, device_poll_interval, access_token_alg, owner_user_id, created_at, require_dpop)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
      RETURNING id`,
  },
  13,
);
const BY_ID = { name: 'clients.by_id', text: `SELECT ${COLUMNS} FROM clients WHERE id = $1` };
const ALL = { name: 'clients.all', text: `SELECT ${COLUMNS} FROM clients ORDER BY created_at, id` };
const BY_OWNER = { name: 'clients.by_owner', text: `SELECT ${COLUMNS} FROM clients WHERE owner_user_id = $1 ORDER BY created_at, id` };
// Each write with its `client.*` event in one statement, the event only when a row changed.
const SET_SECRET_HASH = auditedStatement({ name: 'clients.set_secret', text: "UPDATE clients SET secret_hash = $2 WHERE id = $1 AND type = 'confidential' RETURNING id" }, 2);
const UPDATE = auditedStatement(
  {
    name: 'clients.update',
    text: `UPDATE clients SET name = $2, grant_types = $3, scopes = $4, redirect_uris = $5,
        device_code_ttl = $6, device_poll_interval = $7, access_token_alg = $8, require_dpop = $9
      WHERE id = $1
      RETURNING id`,
  },
  9,
);
// Grants, refresh tokens, device and authorization codes, consents and profiles cascade.
const DELETE = auditedStatement({ name: 'clients.delete', text: 'DELETE FROM clients WHERE id = $1 RETURNING id' }, 1);

export function createClientRepository(db: Db): ClientRepository {
  return {
    async create(c, audit) {
      const values = [
        c.id, c.name, c.type, c.secretHash, c.grantTypes, c.scopes, c.redirectUris,
        c.deviceCodeTtl, c.devicePollInterval, c.accessTokenAlg, c.ownerUserId, c.createdAt, c.requireDpop ?? false,
      ];
      await query(db, INSERT, auditedValues(values, audit));
    },
    async get(id) {
      const r = await row<ClientRow>(db, BY_ID, [id]);
      return r && toClient(r);
    },
    async list() {
      return (await rows<ClientRow>(db, ALL)).map(toClient);
    },
    async listByOwner(ownerUserId) {
      return (await rows<ClientRow>(db, BY_OWNER, [ownerUserId])).map(toClient);
    },
    async update(c, audit) {
      const values = [c.id, c.name, c.grantTypes, c.scopes, c.redirectUris, c.deviceCodeTtl, c.devicePollInterval, c.accessTokenAlg, c.requireDpop ?? false];
      return (await changes(db, UPDATE, auditedValues(values, audit))) === 1;
    },
    async updateSecretHash(id, secretHash, audit) {
      return (await changes(db, SET_SECRET_HASH, auditedValues([id, secretHash], audit))) === 1;
    },
    async delete(id, audit) {
      return (await changes(db, DELETE, auditedValues([id], audit))) === 1;
    },
  };
}
