/** One load run, described as data so it can cross to the load-generator process. */
export interface LoadJob {
  /** Base URL of the server under test. */
  url: string;
  /** Path that receives the form POSTs. */
  path: string;
  /** Closed loop (autocannon: each connection sends as soon as it has its answer) or open loop at `rate`. */
  mode: 'closed' | 'paced';
  connections: number;
  /** Closed loop: run for this many seconds… */
  durationSec?: number;
  /** …or stop after this many requests (closed loop); paced: how many requests to send. */
  amount?: number;
  /** Paced: requests per second offered, spread evenly over time. */
  rate?: number;
  /** Form parameters sent with every request. */
  form: Record<string, string>;
  /** A parameter that takes the next value of `values` on every request, starting at `start`. */
  cycle?: { param: string; values: string[]; start: number };
  /** A parameter fed from a pool that each response refills from `responseField` (refresh-token rotation). */
  chain?: { param: string; responseField: string; pool: string[] };
  /** Collect this field of every 2xx response body (e.g. `device_code`). */
  collect?: string;
}

/** What one load run measured. Latencies in milliseconds. */
export interface LoadResult {
  requests: number;
  durationSec: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Responses by shape: `200`, `400 authorization_pending`, `400 slow_down`, … */
  shapes: Record<string, number>;
  /** Socket errors and timeouts. */
  connectionErrors: number;
  timeouts: number;
  /** Cycle: where the next run should start. */
  nextCycleStart?: number;
  /** Chain: tokens still unused at the end. */
  leftover?: string[];
  collected?: string[];
}
