import type { PollPacingRepository } from '../store/port/index.js';

/**
 * RFC 8628 §3.5 pacing of pending polls (last poll time and the interval in force), kept in
 * memory rather than written to the database on every poll.
 *
 * Why: a pending poll is the commonest request an authorization server with waiting TVs
 * gets (10,000 devices at a 5 s interval are 2,000 polls a second), and every durable write
 * waits for an fsync of the WAL (about 3 ms on the benchmark machine; one written per poll
 * capped the token endpoint near 300 polls/s). Losing this state in a restart or crash is
 * harmless: the next poll counts as a first poll, which §3.5 lets through anyway, and a
 * device told slow_down keeps its longer interval on its side.
 *
 * Several instances behind a load balancer each see only some of a device's polls: a device
 * polling three instances in turn at a third of its interval would never look early to any of
 * them. An engine that serves several instances shares the pacing instead (the store's
 * `pollPacing`, see `sharedPollPacer`), at the price of one non-durable write a poll.
 */
export interface PollPacer {
  /**
   * Record one poll of a pending code at `now` and say whether it came sooner than the
   * interval in force, which then grows by `slowDownStep` seconds (§3.5). `stored` is the
   * code's row: the first time this process sees the code, its poll counts as a first poll.
   */
  poll(id: number, now: number, stored: { interval: number; expiresAt: number }, slowDownStep: number): PaceResult | Promise<PaceResult>;
  /** Drop a code that can no longer be pending (decided, redeemed, expired). */
  forget(id: number): void;
  /** How many codes are tracked (for tests and metrics). */
  readonly size: number;
}

export interface PaceResult {
  early: boolean;
  interval: number;
}

interface Pace {
  lastPolledAt: number | null;
  interval: number;
  expiresAt: number;
}

// Expired codes whose devices gave up are swept out once this many codes have been added.
const SWEEP_EVERY = 10_000;

/** The in-memory pacer answers at once. */
export interface MemoryPollPacer extends PollPacer {
  poll(id: number, now: number, stored: { interval: number; expiresAt: number }, slowDownStep: number): PaceResult;
}

export function createPollPacer(): MemoryPollPacer {
  const paces = new Map<number, Pace>();
  let addedSinceSweep = 0;

  function sweep(now: number) {
    addedSinceSweep = 0;
    for (const [id, pace] of paces) if (pace.expiresAt <= now) paces.delete(id);
  }

  return {
    poll(id, now, stored, slowDownStep) {
      let pace = paces.get(id);
      if (!pace) {
        if (++addedSinceSweep >= SWEEP_EVERY) sweep(now);
        pace = { lastPolledAt: null, interval: stored.interval, expiresAt: stored.expiresAt };
        paces.set(id, pace);
      }
      const early = pace.lastPolledAt !== null && now - pace.lastPolledAt < pace.interval * 1000;
      if (early) pace.interval += slowDownStep;
      pace.lastPolledAt = now;
      return { early, interval: pace.interval };
    },
    forget(id) {
      paces.delete(id);
    },
    get size() {
      return paces.size;
    },
  };
}

/** Pacing kept by the store for every instance at once (`Store.pollPacing`); nothing in memory. */
export function sharedPollPacer(shared: PollPacingRepository): PollPacer {
  return {
    poll: (id, now, stored, slowDownStep) => shared.poll(id, now, stored, slowDownStep),
    // The store drops a code's pacing with the code itself.
    forget() {},
    size: 0,
  };
}
