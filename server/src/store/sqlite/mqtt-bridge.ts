/** The MQTT bridge's repository on SQLite: rid bindings, the encrypted answers kept with a redemption or rotation, proof ids, bridge heartbeats. */
import type Database from 'better-sqlite3';
import type { JWK } from 'jose';
import { redeemDeviceCodeTransaction } from './device-codes.js';
import { rotateRefreshTokenTransaction } from './tokens.js';
import type { TurnBatch } from './turn-batch.js';
import type {
  DeviceCodeStatus,
  MqttNotifiedStatus,
  MqttRedemption,
  MqttRepository,
  MqttRequestView,
  MqttRotation,
} from '../port/index.js';

interface Row {
  rid: string;
  device_code_id: number;
  client_id: string;
  jwk: string;
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
    jwk: JSON.parse(row.jwk) as JWK,
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

const SELECT_VIEW = `SELECT r.*, d.status AS code_status, d.expires_at, d.user_code, d.interval
  FROM mqtt_requests r JOIN device_codes d ON d.id = r.device_code_id`;

export function createMqttRepository(db: Database.Database, turn: TurnBatch): MqttRepository {
  const insert = db.prepare(`INSERT INTO mqtt_requests (rid, device_code_id, client_id, jwk, jwk_thumbprint, created_at)
    VALUES (@rid, @deviceCodeId, @clientId, @jwk, @jwkThumbprint, @createdAt) ON CONFLICT (rid) DO NOTHING`);
  const byRid = db.prepare<[string], Row>(`${SELECT_VIEW} WHERE r.rid = ?`);
  const byCode = db.prepare<[number], Row>(`${SELECT_VIEW} WHERE r.device_code_id = ?`);
  const unnotified = db.prepare<[number, number], Row>(
    `${SELECT_VIEW} WHERE r.notified_status IS NULL AND (d.status <> 'pending' OR d.expires_at <= ?) LIMIT ?`,
  );
  const notified = db.prepare('UPDATE mqtt_requests SET notified_status = ? WHERE rid = ?');
  const answer = db.prepare('UPDATE mqtt_requests SET token_answer = ? WHERE rid = ? AND device_code_id = ? AND token_answer IS NULL');
  const redeemCode = redeemDeviceCodeTransaction(db);
  const proof = db.prepare('INSERT INTO mqtt_proof_ids (rid, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
  const purge = db.prepare('DELETE FROM mqtt_proof_ids WHERE expires_at < ?');
  const hasProof = db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM mqtt_proof_ids WHERE rid = ? AND jti = ?');
  const rotate = rotateRefreshTokenTransaction(db);
  const dropAnswerOf = db.prepare('DELETE FROM mqtt_refresh_answers WHERE successor_hash = ?');
  const keepRefreshAnswer = db.prepare(`INSERT INTO mqtt_refresh_answers (token_hash, successor_hash, jwk_thumbprint, answer, expires_at)
    VALUES (@oldHash, @successorHash, @jwkThumbprint, @answer, @expiresAt)`);
  const refreshAnswer = db.prepare<[Buffer, string, string, number], string>(`SELECT a.answer FROM mqtt_refresh_answers a
    JOIN refresh_tokens r ON r.token_hash = a.successor_hash
    JOIN grants g ON g.id = r.grant_id
    WHERE a.token_hash = ? AND r.client_id = ? AND a.jwk_thumbprint = ?
      AND r.used_at IS NULL AND g.revoked_at IS NULL AND r.expires_at > ?`).pluck();
  const purgeRefreshAnswers = db.prepare(`DELETE FROM mqtt_refresh_answers WHERE expires_at <= ?
    OR NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.token_hash = successor_hash AND r.used_at IS NULL)`);
  const rotateWithAnswer = db.transaction((r: MqttRotation): boolean => {
    if (!rotate(r.oldHash, r.next, r.now, r.audit)) return false;
    // The answer that handed out the token now spent has done its job.
    dropAnswerOf.run(r.oldHash);
    keepRefreshAnswer.run({ oldHash: r.oldHash, successorHash: r.next.tokenHash, jwkThumbprint: r.jwkThumbprint, answer: r.answer, expiresAt: r.next.expiresAt });
    return true;
  });
  const bridgeSeen = db.prepare('INSERT INTO mqtt_bridges (client_id, seen_at) VALUES (?, ?) ON CONFLICT (client_id) DO UPDATE SET seen_at = excluded.seen_at');
  const otherBridges = db.prepare<[string, number], number>('SELECT count(*) FROM mqtt_bridges WHERE client_id <> ? AND seen_at >= ?').pluck();
  const forgetBridge = db.prepare('DELETE FROM mqtt_bridges WHERE client_id = ?');
  const notifiedMany = db.transaction((entries: ReadonlyArray<{ rid: string; status: MqttNotifiedStatus }>) => {
    for (const e of entries) notified.run(e.status, e.rid);
  });
  const redeemWithAnswer = db.transaction((r: MqttRedemption): boolean => {
    // The redemption nests as a savepoint; the throw below rolls it back with everything else.
    if (!redeemCode(r.deviceCodeId, r.grant, r.refresh, r.audit)) return false;
    if (answer.run(r.tokenAnswer, r.rid, r.deviceCodeId).changes !== 1) {
      throw new Error(`mqtt request ${r.rid} does not hold device code ${r.deviceCodeId} or already has an answer`);
    }
    return true;
  });
  const proofsMany = db.transaction((entries: ReadonlyArray<{ rid: string; jti: string; expiresAt: number }>) => {
    for (const e of entries) proof.run(e.rid, e.jti, e.expiresAt);
  });

  return {
    async insert(request) {
      return insert.run({ ...request, jwk: JSON.stringify(request.jwk) }).changes === 1;
    },
    async get(rid) {
      const row = byRid.get(rid);
      return row && toView(row);
    },
    async getByDeviceCodeId(id) {
      const row = byCode.get(id);
      return row && toView(row);
    },
    async listUnnotified(now, limit) {
      return unnotified.all(now, limit).map(toView);
    },
    async markNotifiedMany(entries) {
      if (entries.length > 0) notifiedMany(entries);
    },
    async redeemWithAnswer(redemption) {
      return turn.run(() => redeemWithAnswer(redemption));
    },
    async rememberProofs(entries) {
      if (entries.length > 0) proofsMany(entries);
    },
    async hasProof(rid, jti) {
      return hasProof.get(rid, jti) !== undefined;
    },
    async rememberProof(rid, jti, expiresAt) {
      return proof.run(rid, jti, expiresAt).changes === 1;
    },
    async purgeProofs(before) {
      return purge.run(before).changes;
    },
    async rotateWithAnswer(rotation) {
      return turn.run(() => rotateWithAnswer(rotation));
    },
    async refreshAnswer(oldHash, clientId, jwkThumbprint, now) {
      return refreshAnswer.get(oldHash, clientId, jwkThumbprint, now);
    },
    async purgeRefreshAnswers(now) {
      return purgeRefreshAnswers.run(now).changes;
    },
    async markBridgeSeen(clientId, now) {
      bridgeSeen.run(clientId, now);
    },
    async countOtherBridges(clientId, since) {
      return otherBridges.get(clientId, since) ?? 0;
    },
    async forgetBridge(clientId) {
      forgetBridge.run(clientId);
    },
  };
}
