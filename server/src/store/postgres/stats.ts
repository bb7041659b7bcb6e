/**
 * The `stats` repository on PostgreSQL: the admin dashboard's aggregates, grouped in SQL with the
 * window passed as parameters (BIGINT ms from core's clock, never now()). Device flows are read
 * from `device_codes` together with `device_code_history` (what the purge leaves of a code,
 * migration 010); each code is one row in exactly one of the two.
 */
import type { ClientDecisions, ClientDevices, FlowCounts, FlowMinute, LimitedKeys, StatsRepository } from '../port/index.js';
import { row, rows, type Db } from './database.js';

// Device codes live in two tables: `device_codes` and, once purged, `device_code_history`. Each
// query runs its filter on both (a UNION ALL of the two, each branch on its own index), never on
// a union of every row: a CTE read three times would be materialized whole first.
const TABLES = ['device_codes', 'device_code_history'];
const bothTables = (select: (table: string) => string) => TABLES.map(select).join('\n    UNION ALL\n    ');

// One row per thing that happened to a code, at the time it happened: requested at created_at,
// approved or denied at decided_at (a redeemed code was approved), expired at expires_at when
// still undecided then. $1 = from, $2 = to.
const EVENTS = `events AS (
    ${bothTables((t) => `SELECT created_at AS at, 'requested' AS kind FROM ${t} WHERE created_at >= $1 AND created_at < $2`)}
    UNION ALL
    ${bothTables((t) => `SELECT decided_at, CASE status WHEN 'denied' THEN 'denied' ELSE 'approved' END FROM ${t} WHERE decided_at >= $1 AND decided_at < $2`)}
    UNION ALL
    ${bothTables((t) => `SELECT expires_at, 'expired' FROM ${t} WHERE status = 'pending' AND expires_at >= $1 AND expires_at < $2`)}
  )`;

// The codes decided in the window, with what the median and the per-client counts read.
const DECIDED = `decided AS (
    ${bothTables((t) => `SELECT client_id, status, decided_at - created_at AS wait FROM ${t} WHERE decided_at >= $1 AND decided_at < $2`)}
  )`;

// The window's totals: one count per kind and table, each an index range.
const sumOf = (select: (table: string) => string) => TABLES.map((t) => `(${select(t)})`).join(' + ');
const COUNTS = {
  name: 'stats.counts',
  text: `SELECT
    ${sumOf((t) => `SELECT count(*) FROM ${t} WHERE created_at >= $1 AND created_at < $2`)} AS requested,
    ${sumOf((t) => `SELECT count(*) FROM ${t} WHERE decided_at >= $1 AND decided_at < $2 AND status <> 'denied'`)} AS approved,
    ${sumOf((t) => `SELECT count(*) FROM ${t} WHERE decided_at >= $1 AND decided_at < $2 AND status = 'denied'`)} AS denied,
    ${sumOf((t) => `SELECT count(*) FROM ${t} WHERE status = 'pending' AND expires_at >= $1 AND expires_at < $2`)} AS expired`,
};

// BIGINT / INTEGER truncates, as the minute needs; count(*) is int8, parsed as a number (database.ts).
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
  text: `WITH ${DECIDED}
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY wait) AS ms FROM decided WHERE status IN ('approved', 'redeemed')`,
};
const BY_CLIENT = {
  name: 'stats.by_client',
  text: `WITH ${DECIDED}
    SELECT d.client_id, c.name AS client_name,
      count(*) FILTER (WHERE d.status IN ('approved', 'redeemed')) AS approved, count(*) FILTER (WHERE d.status = 'denied') AS denied
    FROM decided d LEFT JOIN clients c ON c.id = d.client_id
    GROUP BY d.client_id, c.name ORDER BY count(*) DESC, d.client_id`,
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
    async flowCounts(from, to) {
      return (await row<FlowCounts>(db, COUNTS, [from, to]))!;
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
