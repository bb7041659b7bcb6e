/**
 * The `stats` repository on PostgreSQL: the admin dashboard's aggregates, grouped in SQL with the
 * window passed as parameters (BIGINT ms from core's clock, never now()). Device flows are read
 * from `device_codes` together with `device_code_history` (what the purge leaves of a code,
 * migration 010); each code is one row in exactly one of the two.
 */
import type { ClientDecisions, ClientDevices, FlowMinute, LimitedKeys, StatsRepository } from '../port/index.js';
import { row, rows, type Db } from './database.js';

// Every device code, live or purged, with the columns the counts read.
const FLOWS = `flows AS (
    SELECT client_id, status, created_at, expires_at, decided_at FROM device_codes
    UNION ALL
    SELECT client_id, status, created_at, expires_at, decided_at FROM device_code_history
  )`;

// One row per thing that happened to a code, at the time it happened: requested at created_at,
// approved or denied at decided_at (a redeemed code was approved), expired at expires_at when
// still undecided then. $1 = from, $2 = to.
const EVENTS = `${FLOWS},
  events AS (
    SELECT created_at AS at, 'requested' AS kind FROM flows WHERE created_at >= $1 AND created_at < $2
    UNION ALL
    SELECT decided_at, CASE status WHEN 'denied' THEN 'denied' ELSE 'approved' END FROM flows
      WHERE decided_at >= $1 AND decided_at < $2
    UNION ALL
    SELECT expires_at, 'expired' FROM flows WHERE status = 'pending' AND expires_at >= $1 AND expires_at < $2
  )`;

// BIGINT / INTEGER truncates, as the minute needs; count(*) FILTER is int8, parsed as a number (database.ts).
const PER_MINUTE = {
  name: 'stats.per_minute',
  text: `WITH ${EVENTS}
    SELECT $1::bigint + (at - $1::bigint) / 60000 * 60000 AS minute,
      count(*) FILTER (WHERE kind = 'requested') AS requested, count(*) FILTER (WHERE kind = 'approved') AS approved,
      count(*) FILTER (WHERE kind = 'denied') AS denied, count(*) FILTER (WHERE kind = 'expired') AS expired
    FROM events GROUP BY 1 ORDER BY 1`,
};
// percentile_cont(0.5): the middle value, or the mean of the two middle ones (as on SQLite).
const MEDIAN = {
  name: 'stats.median_approval',
  text: `WITH ${FLOWS}
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY decided_at - created_at) AS ms FROM flows
    WHERE status IN ('approved', 'redeemed') AND decided_at >= $1 AND decided_at < $2`,
};
const BY_CLIENT = {
  name: 'stats.by_client',
  text: `WITH ${FLOWS}
    SELECT f.client_id, c.name AS client_name,
      count(*) FILTER (WHERE f.status IN ('approved', 'redeemed')) AS approved, count(*) FILTER (WHERE f.status = 'denied') AS denied
    FROM flows f LEFT JOIN clients c ON c.id = f.client_id
    WHERE f.decided_at >= $1 AND f.decided_at < $2
    GROUP BY f.client_id, c.name ORDER BY count(*) DESC, f.client_id`,
};
const DEVICES = {
  name: 'stats.devices_by_client',
  text: `SELECT g.client_id, c.name AS client_name, count(*) AS devices
    FROM grants g JOIN clients c ON c.id = g.client_id
    WHERE g.origin = $1 AND g.revoked_at IS NULL
    GROUP BY g.client_id, c.name ORDER BY devices DESC, g.client_id`,
};
const LIMITED = {
  name: 'stats.limited_keys',
  text: `SELECT split_part(key, ':', 1) AS limiter, count(*) AS keys
    FROM attempt_counters
    WHERE failures >= $3 AND last_failure_at >= $1 AND last_failure_at < $2
    GROUP BY 1 ORDER BY 1`,
};

export function createStatsRepository(db: Db): StatsRepository {
  return {
    async flowsPerMinute(from, to) {
      return rows<FlowMinute>(db, PER_MINUTE, [from, to]);
    },
    async medianApprovalMs(from, to) {
      // percentile_cont answers double precision: a JS number already.
      return (await row<{ ms: number | null }>(db, MEDIAN, [from, to]))?.ms ?? null;
    },
    async decisionsByClient(from, to) {
      const found = await rows<{ client_id: string; client_name: string | null; approved: number; denied: number }>(db, BY_CLIENT, [from, to]);
      return found.map((r): ClientDecisions => ({ clientId: r.client_id, clientName: r.client_name, approved: r.approved, denied: r.denied }));
    },
    async devicesByClient(origin) {
      const found = await rows<{ client_id: string; client_name: string; devices: number }>(db, DEVICES, [origin]);
      return found.map((r): ClientDevices => ({ clientId: r.client_id, clientName: r.client_name, devices: r.devices }));
    },
    async limitedKeys(from, to, limitedAfter) {
      return rows<LimitedKeys>(db, LIMITED, [from, to, limitedAfter]);
    },
  };
}
