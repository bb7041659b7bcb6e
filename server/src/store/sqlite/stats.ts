/**
 * The `stats` repository on SQLite: the admin dashboard's aggregates, grouped in SQL. Device flows
 * are read from `device_codes` together with `device_code_history` (what the purge leaves of a
 * code, migration 010); each code is one row in exactly one of the two.
 */
import type Database from 'better-sqlite3';
import type { ClientDecisions, ClientDevices, FlowCounts, FlowMinute, LimitedKeys, StatsRepository } from '../port/index.js';

// Device codes live in two tables: `device_codes` and, once purged, `device_code_history`. Each
// query runs its filter on both (a UNION ALL of the two, each branch on its own index), never on
// a union of every row: a CTE read three times would be copied whole first.
const TABLES = ['device_codes', 'device_code_history'];
const bothTables = (select: (table: string) => string) => TABLES.map(select).join('\n    UNION ALL\n    ');

// One row per thing that happened to a code, at the time it happened: requested at created_at,
// approved or denied at decided_at (a redeemed code was approved), expired at expires_at when
// still undecided then.
const EVENTS = `events AS (
    ${bothTables((t) => `SELECT created_at AS at, 'requested' AS kind FROM ${t} WHERE created_at >= @from AND created_at < @to`)}
    UNION ALL
    ${bothTables((t) => `SELECT decided_at, CASE status WHEN 'denied' THEN 'denied' ELSE 'approved' END FROM ${t} WHERE decided_at >= @from AND decided_at < @to`)}
    UNION ALL
    ${bothTables((t) => `SELECT expires_at, 'expired' FROM ${t} WHERE status = 'pending' AND expires_at >= @from AND expires_at < @to`)}
  )`;

// The window's totals: one count per kind and table, each an index range.
const sumOf = (select: (table: string) => string) => TABLES.map((t) => `(${select(t)})`).join(' + ');
const COUNTS = `SELECT
    ${sumOf((t) => `SELECT count(*) FROM ${t} WHERE created_at >= @from AND created_at < @to`)} AS requested,
    ${sumOf((t) => `SELECT count(*) FROM ${t} WHERE decided_at >= @from AND decided_at < @to AND status <> 'denied'`)} AS approved,
    ${sumOf((t) => `SELECT count(*) FROM ${t} WHERE decided_at >= @from AND decided_at < @to AND status = 'denied'`)} AS denied,
    ${sumOf((t) => `SELECT count(*) FROM ${t} WHERE status = 'pending' AND expires_at >= @from AND expires_at < @to`)} AS expired`;

// The codes decided in the window, with what the median and the per-client counts read.
const DECIDED = `decided AS (
    ${bothTables((t) => `SELECT client_id, status, decided_at - created_at AS wait FROM ${t} WHERE decided_at >= @from AND decided_at < @to`)}
  )`;

interface Window {
  from: number;
  to: number;
}

export function createStatsRepository(db: Database.Database): StatsRepository {
  // better-sqlite3 binds a JS number as REAL, so the minute is truncated explicitly.
  const perMinute = db.prepare<Window, FlowMinute>(`WITH ${EVENTS}
    SELECT @from + CAST((at - @from) / 60000 AS INTEGER) * 60000 AS minute,
      sum(kind = 'requested') AS requested, sum(kind = 'approved') AS approved,
      sum(kind = 'denied') AS denied, sum(kind = 'expired') AS expired
    FROM events GROUP BY CAST((at - @from) / 60000 AS INTEGER) ORDER BY minute`);
  const counts = db.prepare<Window, FlowCounts>(COUNTS);
  // The middle value, or the mean of the two middle ones (as PostgreSQL's percentile_cont(0.5)).
  const median = db.prepare<Window, { ms: number | null }>(`WITH ${DECIDED},
      waits AS (SELECT wait AS ms FROM decided WHERE status IN ('approved', 'redeemed')),
      n AS (SELECT count(*) AS n FROM waits)
    SELECT avg(ms) AS ms FROM (SELECT ms FROM waits ORDER BY ms
      LIMIT 2 - (SELECT n FROM n) % 2 OFFSET ((SELECT n FROM n) - 1) / 2)`);
  const byClient = db.prepare<Window, { client_id: string; client_name: string | null; approved: number; denied: number }>(`WITH ${DECIDED}
    SELECT d.client_id, c.name AS client_name,
      sum(d.status IN ('approved', 'redeemed')) AS approved, sum(d.status = 'denied') AS denied
    FROM decided d LEFT JOIN clients c ON c.id = d.client_id
    GROUP BY d.client_id ORDER BY approved + denied DESC, d.client_id`);
  const devices = db.prepare<[string], { client_id: string; client_name: string; devices: number }>(`SELECT g.client_id, c.name AS client_name, count(*) AS devices
    FROM grants g JOIN clients c ON c.id = g.client_id
    WHERE g.origin = ? AND g.revoked_at IS NULL
    GROUP BY g.client_id ORDER BY devices DESC, g.client_id`);
  const limited = db.prepare<Window & { limitedAfter: number }, LimitedKeys>(`SELECT substr(key, 1, instr(key, ':') - 1) AS limiter, count(*) AS keys
    FROM attempt_counters
    WHERE failures >= @limitedAfter AND last_failure_at >= @from AND last_failure_at < @to
    GROUP BY limiter ORDER BY limiter`);

  return {
    async flowsPerMinute(from, to) {
      return perMinute.all({ from, to });
    },
    async flowCounts(from, to) {
      return counts.get({ from, to })!;
    },
    async medianApprovalMs(from, to) {
      return median.get({ from, to })?.ms ?? null;
    },
    async decisionsByClient(from, to) {
      return byClient.all({ from, to }).map(
        (r): ClientDecisions => ({ clientId: r.client_id, clientName: r.client_name, approved: r.approved, denied: r.denied }),
      );
    },
    async devicesByClient(origin) {
      return devices.all(origin).map((r): ClientDevices => ({ clientId: r.client_id, clientName: r.client_name, devices: r.devices }));
    },
    async limitedKeys(from, to, limitedAfter) {
      return limited.all({ from, to, limitedAfter });
    },
  };
}
