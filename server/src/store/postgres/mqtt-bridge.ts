/**
 * The MQTT bridge's repository on PostgreSQL: rid bindings, the encrypted answers kept with a
 * redemption or rotation, proof ids, bridge heartbeats. Exactly once across instances: the
 * redemption and rotation are the conditional UPDATEs of device-codes.ts and tokens.ts, run as
 * a savepoint inside the transaction that keeps the answer; a proof id is remembered by its
 * primary key.
 */
import type { JWK } from 'jose';
import type {
  DeviceCodeStatus,
  MqttNotifiedStatus,
  MqttRedemption,
  MqttRepository,
  MqttRequestView,
  MqttRotation,
} from '../port/index.js';
import { type Db, changes, query, row, rows, transaction } from './database.js';
import { redeemDeviceCode } from './device-codes.js';
import { rotateRefreshToken } from './tokens.js';

interface Row {
  rid: string;
  device_code_id: number;
  client_id: string;
  jwk: JWK;
  jwk_thumbprint: string;
  created_at: number;
  notified_status: MqttNotifiedStatus | null;
  token_answer: string | null;
  code_status: DeviceCodeStatus;
  expires_at: number;
  user_code: string;
  interval: number;
}

function toView(row: Row): MqttRequestView {
  return {
    rid: row.rid,
    deviceCodeId: row.device_code_id,
    clientId: row.client_id,
    jwk: row.jwk,
    jwkThumbprint: row.jwk_thumbprint,
    createdAt: row.created_at,
    notifiedStatus: row.notified_status,
    tokenAnswer: row.token_answer,
    codeStatus: row.code_status,
    expiresAt: row.expires_at,
    userCode: row.user_code,
    interval: row.interval,
  };
}

const SELECT_VIEW = `SELECT r.rid, r.device_code_id, r.client_id, r.jwk, r.jwk_thumbprint, r.created_at, r.notified_status, r.token_answer,
    d.status AS code_status, d.expires_at, d.user_code, d.interval
  FROM mqtt_requests r JOIN device_codes d ON d.id = r.device_code_id`;

const INSERT = {
  name: 'mqtt.insert',
  text: `INSERT INTO mqtt_requests (rid, device_code_id, client_id, jwk, jwk_thumbprint, created_at)
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (rid) DO NOTHING`,
};
const BY_RID = { name: 'mqtt.byRid', text: `${SELECT_VIEW} WHERE r.rid = $1` };
const BY_CODE = { name: 'mqtt.byCode', text: `${SELECT_VIEW} WHERE r.device_code_id = $1` };
const UNNOTIFIED = {
  name: 'mqtt.unnotified',
  text: `${SELECT_VIEW} WHERE r.notified_status IS NULL AND (d.status <> 'pending' OR d.expires_at <= $1) LIMIT $2`,
};
// Every acknowledged status in one statement (one commit): rid i gets status i.
const NOTIFIED_MANY = {
  name: 'mqtt.notifiedMany',
  text: `UPDATE mqtt_requests r SET notified_status = e.status
    FROM unnest($1::text[], $2::text[]) AS e(rid, status) WHERE r.rid = e.rid`,
};
const KEEP_ANSWER = {
  name: 'mqtt.keepAnswer',
  text: 'UPDATE mqtt_requests SET token_answer = $1 WHERE rid = $2 AND device_code_id = $3 AND token_answer IS NULL',
};
const PROOF = {
  name: 'mqtt.proof',
  text: 'INSERT INTO mqtt_proof_ids (rid, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
};
// Several ids in one statement; ids already known, or twice in the batch, are skipped.
const PROOFS_MANY = {
  name: 'mqtt.proofsMany',
  text: `INSERT INTO mqtt_proof_ids (rid, jti, expires_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING`,
};
const PURGE_PROOFS = { name: 'mqtt.purgeProofs', text: 'DELETE FROM mqtt_proof_ids WHERE expires_at < $1' };
const HAS_PROOF = { name: 'mqtt.hasProof', text: 'SELECT 1 AS one FROM mqtt_proof_ids WHERE rid = $1 AND jti = $2' };
const DROP_ANSWER_OF = { name: 'mqtt.dropAnswerOf', text: 'DELETE FROM mqtt_refresh_answers WHERE successor_hash = $1' };
const KEEP_REFRESH_ANSWER = {
  name: 'mqtt.keepRefreshAnswer',
  text: `INSERT INTO mqtt_refresh_answers (token_hash, successor_hash, jwk_thumbprint, answer, expires_at)
    VALUES ($1, $2, $3, $4, $5)`,
};
const REFRESH_ANSWER = {
  name: 'mqtt.refreshAnswer',
  text: `SELECT a.answer FROM mqtt_refresh_answers a
    JOIN refresh_tokens r ON r.token_hash = a.successor_hash
    JOIN grants g ON g.id = r.grant_id
    WHERE a.token_hash = $1 AND r.client_id = $2 AND a.jwk_thumbprint = $3
      AND r.used_at IS NULL AND g.revoked_at IS NULL AND r.expires_at > $4`,
};
const PURGE_REFRESH_ANSWERS = {
  name: 'mqtt.purgeRefreshAnswers',
  text: `DELETE FROM mqtt_refresh_answers a WHERE a.expires_at <= $1
    OR NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.token_hash = a.successor_hash AND r.used_at IS NULL)`,
};
const BRIDGE_SEEN = {
  name: 'mqtt.bridgeSeen',
  text: 'INSERT INTO mqtt_bridges (client_id, seen_at) VALUES ($1, $2) ON CONFLICT (client_id) DO UPDATE SET seen_at = EXCLUDED.seen_at',
};
const OTHER_BRIDGES = { name: 'mqtt.otherBridges', text: 'SELECT count(*) AS n FROM mqtt_bridges WHERE client_id <> $1 AND seen_at >= $2' };
const FORGET_BRIDGE = { name: 'mqtt.forgetBridge', text: 'DELETE FROM mqtt_bridges WHERE client_id = $1' };

export function createMqttRepository(db: Db): MqttRepository {
  return {
    async insert(request) {
      const r = request;
      return (await changes(db, INSERT, [r.rid, r.deviceCodeId, r.clientId, JSON.stringify(r.jwk), r.jwkThumbprint, r.createdAt])) === 1;
    },
    async get(rid) {
      const r = await row<Row>(db, BY_RID, [rid]);
      return r && toView(r);
    },
    async getByDeviceCodeId(id) {
      const r = await row<Row>(db, BY_CODE, [id]);
      return r && toView(r);
    },
    async listUnnotified(now, limit) {
      return (await rows<Row>(db, UNNOTIFIED, [now, limit])).map(toView);
    },
    async markNotifiedMany(entries) {
      if (entries.length === 0) return;
      // The last status given for a rid wins, as when they are applied in order.
      const latest = new Map(entries.map((e) => [e.rid, e.status]));
      await query(db, NOTIFIED_MANY, [[...latest.keys()], [...latest.values()]]);
    },
    async redeemWithAnswer(r: MqttRedemption) {
      return transaction(db, async (tx) => {
        // The redemption nests as a savepoint (nothing of it stays when it answers false); the
        // throw below rolls it back with everything else.
        if (!(await redeemDeviceCode(tx, r.deviceCodeId, r.grant, r.refresh, r.audit))) return false;
        if ((await changes(tx, KEEP_ANSWER, [r.tokenAnswer, r.rid, r.deviceCodeId])) !== 1) {
          throw new Error(`mqtt request ${r.rid} does not hold device code ${r.deviceCodeId} or already has an answer`);
        }
        return true;
      });
    },
    async rotateWithAnswer(r: MqttRotation) {
      return transaction(db, async (tx) => {
        if (!(await rotateRefreshToken(tx, r.oldHash, r.next, r.now, r.audit))) return false;
        // The answer that handed out the token now spent has done its job.
        await query(tx, DROP_ANSWER_OF, [r.oldHash]);
        await query(tx, KEEP_REFRESH_ANSWER, [r.oldHash, r.next.tokenHash, r.jwkThumbprint, r.answer, r.next.expiresAt]);
        return true;
      });
    },
    async refreshAnswer(oldHash, clientId, jwkThumbprint, now) {
      return (await row<{ answer: string }>(db, REFRESH_ANSWER, [oldHash, clientId, jwkThumbprint, now]))?.answer;
    },
    async purgeRefreshAnswers(now) {
      return changes(db, PURGE_REFRESH_ANSWERS, [now]);
    },
    async rememberProof(rid, jti, expiresAt) {
      return (await changes(db, PROOF, [rid, jti, expiresAt])) === 1;
    },
    async rememberProofs(entries) {
      if (entries.length === 0) return;
      await query(db, PROOFS_MANY, [entries.map((e) => e.rid), entries.map((e) => e.jti), entries.map((e) => e.expiresAt)]);
    },
    async hasProof(rid, jti) {
      return (await row(db, HAS_PROOF, [rid, jti])) !== undefined;
    },
    async purgeProofs(before) {
      return changes(db, PURGE_PROOFS, [before]);
    },
    async markBridgeSeen(clientId, now) {
      await query(db, BRIDGE_SEEN, [clientId, now]);
    },
    async countOtherBridges(clientId, since) {
      return (await row<{ n: number }>(db, OTHER_BRIDGES, [clientId, since]))?.n ?? 0;
    },
    async forgetBridge(clientId) {
      await query(db, FORGET_BRIDGE, [clientId]);
    },
  };
}
