/**
 * The clock and timers the client waits with. Defaults to the runtime's globals;
 * tests pass their own and fire timers by hand, so nothing ever sleeps.
 */
export interface Timers {
  /** Schedule `fn` after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancel a scheduled `fn`. */
  clearTimeout(handle: unknown): void;
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The runtime's own timers and clock. */
export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: Date.now,
};
