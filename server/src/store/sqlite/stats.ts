/**
 * The `stats` repository on SQLite: the admin dashboard's aggregates, grouped in SQL. Device flows
 * are read from `device_codes` together with `device_code_history` (what the purge leaves of a
 * code, migration 010); each code is one row in exactly one of the two.
 */
import type Database from 'better-sqlite3';
import type { ClientDecisions, ClientDevices, FlowMinute, LimitedKeys, StatsRepository } from '../port/index.js';

// Every device code, live or purged, with the columns the counts read.
const FLOWS = `flows AS (
    SELECT client_id, status, created_at, expires_at, decided_at FROM device_codes
    UNION ALL
    SELECT client_id, status, created_at, expires_at, decided_at FROM device_code_history
  )`;

// One row per thing that happened to a code, at the time it happened: requested at created_at,
// approved or denied at decided_at (a redeemed code was approved), expired at expires_at when
// still undecided then.
const EVENTS = `${FLOWS},
  events AS (
    SELECT created_at AS at, 'requested' AS kind FROM flows WHERE created_at >= @from AND created_at < @to
    UNION ALL
    SELECT decided_at, CASE status WHEN 'denied' THEN 'denied' ELSE 'approved' END FROM flows
      WHERE decided_at >= @from AND decided_at < @to
    UNION ALL
    SELECT expires_at, 'expired' FROM flows WHERE status = 'pending' AND expires_at >= @from AND expires_at < @to
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
  // The middle value, or the mean of the two middle ones (as PostgreSQL's percentile_cont(0.5)).
  const median = db.prepare<Window, { ms: number | null }>(`WITH ${FLOWS},
      waits AS (SELECT decided_at - created_at AS ms FROM flows
        WHERE status IN ('approved', 'redeemed') AND decided_at >= @from AND decided_at < @to),
      n AS (SELECT count(*) AS n FROM waits)
    SELECT avg(ms) AS ms FROM (SELECT ms FROM waits ORDER BY ms
      LIMIT 2 - (SELECT n FROM n) % 2 OFFSET ((SELECT n FROM n) - 1) / 2)`);
  const byClient = db.prepare<Window, { client_id: string; client_name: string | null; approved: number; denied: number }>(`WITH ${FLOWS}
    SELECT f.client_id, c.name AS client_name,
      sum(f.status IN ('approved', 'redeemed')) AS approved, sum(f.status = 'denied') AS denied
    FROM flows f LEFT JOIN clients c ON c.id = f.client_id
    WHERE f.decided_at >= @from AND f.decided_at < @to
    GROUP BY f.client_id ORDER BY approved + denied DESC, f.client_id`);
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
