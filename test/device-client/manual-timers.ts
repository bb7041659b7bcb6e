import type { Timers } from '../../device-client/src/timers.js';

/** A timer the client asked for: its delay, and a way to fire it. */
export interface ScheduledTimer {
  ms: number;
  /** Move the clock by `advanceBy` (default the timer's own delay) and run the callback. */
  fire(advanceBy?: number): void;
  cancelled: boolean;
}

export interface ManualTimers extends Timers {
  /** The next timer the client schedules (or has scheduled and nobody took yet). */
  next(): Promise<ScheduledTimer>;
  /** Timers scheduled and neither fired nor cancelled. */
  live(): ScheduledTimer[];
}

/**
 * Timers that never fire by themselves: a test takes each scheduled timer with
 * `next()`, checks the delay the client asked for, and fires it, moving `clock`
 * (shared with the test server, so both sides see the same time). Nothing sleeps.
 */
export function manualTimers(clock: { now(): number; advance(ms: number): void }): ManualTimers {
  const created: Array<ScheduledTimer & { done: boolean }> = [];
  let taken = 0;
  const waiters: Array<() => void> = [];
  return {
    now: () => clock.now(),
    setTimeout(fn, ms) {
      const timer = {
        ms,
        cancelled: false,
        done: false,
        fire(advanceBy = ms) {
          if (timer.done || timer.cancelled) throw new Error('timer already fired or cancelled');
          timer.done = true;
          clock.advance(advanceBy);
          fn();
        },
      };
      created.push(timer);
      waiters.shift()?.();
      return timer;
    },
    clearTimeout(handle) {
      const timer = handle as (ScheduledTimer & { done: boolean }) | undefined;
      if (timer && !timer.done) timer.cancelled = true;
    },
    async next() {
      while (created.length <= taken) await new Promise<void>((resolve) => waiters.push(resolve));
      return created[taken++]!;
    },
    live: () => created.filter((t) => !t.done && !t.cancelled),
  };
}
