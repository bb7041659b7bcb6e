/**
 * What the admin dashboard (`/admin`) shows, read from the `stats` repository at one instant of
 * the injected clock: the last hour's and today's device flows (today is the UTC day: the server
 * does not know the operator's time zone), their outcome per minute over the last 24 h, and per
 * client its approvals, denials and live paired devices. Counting is the database's; this module
 * only chooses the windows and fills the quiet minutes with zeros.
 */
import { GRANT_TYPES } from './clients.js';
import type { Clock } from './clock.js';
import type { AttemptPolicy } from './attempt-limiter.js';
import type { FlowMinute, StatsRepository } from '../store/port/index.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Minutes in the flow chart: the current one and the 1439 before it. */
export const CHART_MINUTES = 24 * 60;

/** Device flows in one window, `[from, at)`. */
export interface FlowWindow {
  from: number;
  requested: number;
  approved: number;
  denied: number;
  expired: number;
  /** Median time from request to approval of the codes approved in the window; null when none. */
  medianApprovalMs: number | null;
  /** Keys (client addresses, browsers) the attempt limiter held back, per limiter. */
  rateLimited: { device: number; signin: number };
}

/** One client's line: approvals and denials over the chart's 24 h, and its live paired devices. */
export interface ClientActivity {
  clientId: string;
  /** null for a client deleted since. */
  clientName: string | null;
  approved: number;
  denied: number;
  activeDevices: number;
}

export interface DashboardSnapshot {
  /** The instant every window ends at. */
  at: number;
  lastHour: FlowWindow;
  /** Since 00:00 UTC. */
  today: FlowWindow;
  /** `CHART_MINUTES` minutes, oldest first, the last one the current (partial) minute. */
  perMinute: FlowMinute[];
  /** The chart's clients: most live devices first, then most decisions. */
  clients: ClientActivity[];
}

export interface DashboardService {
  snapshot(): Promise<DashboardSnapshot>;
}

export function createDashboardService(deps: { stats: StatsRepository; clock: Clock; attemptPolicy: AttemptPolicy }): DashboardService {
  const { stats } = deps;

  async function flowWindow(from: number, at: number): Promise<FlowWindow> {
    const [counts, medianApprovalMs, limited] = await Promise.all([
      stats.flowCounts(from, at),
      stats.medianApprovalMs(from, at),
      // A key must wait once it has used up its free failures (attempt-limiter.ts).
      stats.limitedKeys(from, at, deps.attemptPolicy.freeFailures),
    ]);
    const keys = (limiter: string) => limited.find((l) => l.limiter === limiter)?.keys ?? 0;
    return {
      from,
      ...counts,
      medianApprovalMs,
      rateLimited: { device: keys('device'), signin: keys('signin') },
    };
  }

  return {
    async snapshot() {
      const at = deps.clock.now();
      const chartFrom = Math.floor(at / MINUTE) * MINUTE - (CHART_MINUTES - 1) * MINUTE;
      const [lastHour, today, minutes, decisions, devices] = await Promise.all([
        flowWindow(at - HOUR, at),
        flowWindow(Math.floor(at / DAY) * DAY, at),
        stats.flowsPerMinute(chartFrom, at),
        stats.decisionsByClient(chartFrom, at),
        stats.devicesByClient(GRANT_TYPES.deviceCode),
      ]);
      const byMinute = new Map(minutes.map((m) => [m.minute, m]));
      const perMinute = Array.from({ length: CHART_MINUTES }, (_, i) => {
        const minute = chartFrom + i * MINUTE;
        return byMinute.get(minute) ?? { minute, requested: 0, approved: 0, denied: 0, expired: 0 };
      });
      const clients = new Map<string, ClientActivity>();
      for (const d of devices) clients.set(d.clientId, { clientId: d.clientId, clientName: d.clientName, approved: 0, denied: 0, activeDevices: d.devices });
      for (const d of decisions) {
        const known = clients.get(d.clientId);
        if (known) Object.assign(known, { approved: d.approved, denied: d.denied });
        else clients.set(d.clientId, { clientId: d.clientId, clientName: d.clientName, approved: d.approved, denied: d.denied, activeDevices: 0 });
      }
      const ordered = [...clients.values()].sort(
        (a, b) => b.activeDevices - a.activeDevices || b.approved + b.denied - (a.approved + a.denied) || a.clientId.localeCompare(b.clientId),
      );
      return { at, lastHour, today, perMinute, clients: ordered };
    },
  };
}
