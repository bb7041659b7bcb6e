/** The `clients` repository on SQLite: registered OAuth clients. */
import type Database from 'better-sqlite3';
import { insertAuditEvent } from './audit.js';
import { words } from './codec.js';
import { DEVICE_CODE_CACHE } from './device-codes.js';
import { forgetCached, readCache } from './read-cache.js';
import type { AuditOnWrite, ClientRecord, ClientRepository } from '../port/index.js';

interface ClientRow {
  id: string;
  name: string;
  type: ClientRecord['type'];
  secret_hash: string | null;
  grant_types: string;
  scopes: string;
  redirect_uris: string;
  device_code_ttl: number | null;
  device_poll_interval: number | null;
  access_token_alg: ClientRecord['accessTokenAlg'];
  owner_user_id: string | null;
  created_at: number;
  require_dpop: number;
}

function toClient(row: ClientRow): ClientRecord {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    secretHash: row.secret_hash,
    grantTypes: words.parse(row.grant_types),
    scopes: words.parse(row.scopes),
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    deviceCodeTtl: row.device_code_ttl,
    devicePollInterval: row.device_poll_interval,
    accessTokenAlg: row.access_token_alg,
    ownerUserId: row.owner_user_id,
    createdAt: row.created_at,
    requireDpop: row.require_dpop === 1,
  };
}

/**
 * Clients as last read (read-cache.ts): every token request authenticates its client, and
 * reading the row was a tenth of a device authorization's CPU. The writes below drop the
 * client they change; users.ts's `disown` empties the cache. Unknown ids are not kept.
 */
export const CLIENT_CACHE = 'clients';
export const CLIENT_CACHE_ENTRIES = 10_000;

function frozen(client: ClientRecord): ClientRecord {
  Object.freeze(client.grantTypes);
  Object.freeze(client.scopes);
  Object.freeze(client.redirectUris);
  return Object.freeze(client);
}

export function createClientRepository(db: Database.Database): ClientRepository {
  const cache = readCache<ClientRecord>(db, CLIENT_CACHE, CLIENT_CACHE_ENTRIES);
  const insert = db.prepare(`INSERT INTO clients (id, name, type, secret_hash, grant_types, scopes, redirect_uris,
      device_code_ttl, device_poll_interval, access_token_alg, owner_user_id, created_at, require_dpop)
    VALUES (@id, @name, @type, @secretHash, @grantTypes, @scopes, @redirectUris,
      @deviceCodeTtl, @devicePollInterval, @accessTokenAlg, @ownerUserId, @createdAt, @requireDpop)`);
  const byId = db.prepare<[string], ClientRow>('SELECT * FROM clients WHERE id = ?');
  const all = db.prepare<[], ClientRow>('SELECT * FROM clients ORDER BY created_at, id');
  const byOwner = db.prepare<[string], ClientRow>('SELECT * FROM clients WHERE owner_user_id = ? ORDER BY created_at, id');
  const update = db.prepare(`UPDATE clients SET name = @name, grant_types = @grantTypes, scopes = @scopes, redirect_uris = @redirectUris,
      device_code_ttl = @deviceCodeTtl, device_poll_interval = @devicePollInterval, access_token_alg = @accessTokenAlg, require_dpop = @requireDpop
    WHERE id = @id`);
  const setSecretHash = db.prepare("UPDATE clients SET secret_hash = ? WHERE id = ? AND type = 'confidential'");
  const remove = db.prepare('DELETE FROM clients WHERE id = ?');
  const toRow = (c: ClientRecord) => ({
    ...c,
    grantTypes: words.format(c.grantTypes),
    scopes: words.format(c.scopes),
    redirectUris: JSON.stringify(c.redirectUris),
    requireDpop: c.requireDpop ? 1 : 0,
  });
  // Each write and its event (AuditOnWrite) in one transaction; the event only when a row changed.
  const audited = <A extends unknown[]>(write: (...args: A) => number) =>
    db.transaction((audit: AuditOnWrite, ...args: A): boolean => {
      const changed = write(...args) === 1;
      if (changed) insertAuditEvent(db, audit);
      return changed;
    });
  const createTx = audited((c: ClientRecord) => insert.run(toRow(c)).changes);
  const updateTx = audited((c: ClientRecord) => {
    const { id, name, grantTypes, scopes, redirectUris, deviceCodeTtl, devicePollInterval, accessTokenAlg, requireDpop } = toRow(c);
    return update.run({ id, name, grantTypes, scopes, redirectUris, deviceCodeTtl, devicePollInterval, accessTokenAlg, requireDpop }).changes;
  });
  const setSecretHashTx = audited((id: string, secretHash: string) => setSecretHash.run(secretHash, id).changes);
  // Grants, refresh tokens, device and authorization codes, consents and profiles cascade.
  const deleteTx = audited((id: string) => remove.run(id).changes);
  return {
    async create(c, audit) {
      cache.delete(c.id);
      createTx(audit, c);
    },
    async update(c, audit) {
      cache.delete(c.id);
      return updateTx(audit, c);
    },
    async get(id) {
      const checking = cache.fresh();
      if (checking) await checking;
      const cached = cache.get(id);
      if (cached) return cached;
      const row = byId.get(id);
      if (!row) return undefined;
      const client = frozen(toClient(row));
      cache.set(id, client);
      return client;
    },
    async list() {
      return all.all().map(toClient);
    },
    async listByOwner(ownerUserId) {
      return byOwner.all(ownerUserId).map(toClient);
    },
    async updateSecretHash(id, secretHash, audit) {
      cache.delete(id);
      return setSecretHashTx(audit, id, secretHash);
    },
    async delete(id, audit) {
      cache.delete(id);
      forgetCached(db, DEVICE_CODE_CACHE); // its device codes cascade
      return deleteTx(audit, id);
    },
  };
}
