import type { Clock } from './clock.js';
import { NO_OBSERVER, type CoreObserver } from './observer.js';
import type { AttemptRepository } from '../store/port/index.js';

/**
 * How many failures are free and how the wait grows after them. With the
 * defaults: 5 free failures, then 30 s, 60 s, 120 s, … (doubling) up to 1 h
 * between failures; a key idle for 24 h starts again from zero.
 */
export interface AttemptPolicy {
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  forgetAfterMs: number;
}

export const DEFAULT_ATTEMPT_POLICY: AttemptPolicy = {
  freeFailures: 5,
  baseDelayMs: 30_000,
  maxDelayMs: 60 * 60_000,
  forgetAfterMs: 24 * 60 * 60_000,
};

export type LimitVerdict = { limited: false } | { limited: true; retryAfterMs: number };

export type GuardedResult<T> = { limited: true; retryAfterMs: number } | { limited: false; value: T | undefined };

/**
 * Brute-force limiter (RFC 8628 §5.1: "the authorization server SHOULD rate-limit
 * user code attempts"). Failures are counted per key (client IP, session, ...);
 * after `freeFailures` each further attempt must wait a doubling delay. A success
 * never resets a count: otherwise an attacker holding one valid code could
 * interleave it with guesses and never be slowed down.
 */
export interface AttemptLimiter {
  readonly policy: AttemptPolicy;
  /** Whether any of `keys` must wait now, and for how long (the longest wait wins). */
  check(keys: readonly string[]): Promise<LimitVerdict>;
  /** Count one failure on every key. */
  fail(keys: readonly string[]): Promise<void>;
  /** The wait required after `failures` failures (0 while they are free). Pure, for docs and tests. */
  delayAfter(failures: number): number;
  /**
   * Check, run `attempt`, and count a failure when it returns undefined, with no
   * other guarded attempt on any of the same keys in between: a burst of parallel
   * requests from one address cannot all pass the check before the first failure
   * is counted. Attempts on unrelated keys run concurrently.
   */
  guard<T>(keys: readonly string[], attempt: () => Promise<T | undefined>): Promise<GuardedResult<T>>;
}

export function createAttemptLimiter(deps: { attempts: AttemptRepository; clock: Clock; policy?: Partial<AttemptPolicy>; observer?: CoreObserver }): AttemptLimiter {
  const policy: AttemptPolicy = { ...DEFAULT_ATTEMPT_POLICY, ...deps.policy };
  const { attempts, clock } = deps;
  const observer = deps.observer ?? NO_OBSERVER;
  let lastPurge = 0;
  // The last guarded attempt per key in this process; a new one waits for those on its keys.
  const tails = new Map<string, Promise<unknown>>();

  function delayAfter(failures: number): number {
    if (failures < policy.freeFailures) return 0;
    const doublings = Math.min(failures - policy.freeFailures, 30);
    return Math.min(policy.baseDelayMs * 2 ** doublings, policy.maxDelayMs);
  }

  const limiter: AttemptLimiter = {
    policy,
    delayAfter,
    guard(keys, attempt) {
      const run = async () => {
        const verdict = await limiter.check(keys);
        if (verdict.limited) {
          observer.attemptLimited(kindOf(keys));
          return verdict;
        }
        const value = await attempt();
        if (value === undefined) {
          await limiter.fail(keys);
          observer.attemptFailed(kindOf(keys));
        }
        return { limited: false as const, value };
      };
      const before = Promise.all(keys.map((k) => tails.get(k)));
      const result = before.then(run, run);
      const settled = result.catch(() => undefined);
      for (const k of keys) tails.set(k, settled);
      void settled.then(() => {
        for (const k of keys) if (tails.get(k) === settled) tails.delete(k);
      });
      return result;
    },
    async check(keys) {
      const now = clock.now();
      let wait = 0;
      for (const key of keys) {
        const counter = await attempts.get(key);
        if (!counter || counter.lastFailureAt <= now - policy.forgetAfterMs) continue;
        wait = Math.max(wait, counter.lastFailureAt + delayAfter(counter.failures) - now);
      }
      return wait > 0 ? { limited: true, retryAfterMs: wait } : { limited: false };
    },
    async fail(keys) {
      const now = clock.now();
      for (const key of keys) await attempts.recordFailure(key, now, now - policy.forgetAfterMs);
      if (now - lastPurge > 10 * 60_000) {
        lastPurge = now;
        await attempts.purgeOlderThan(now - policy.forgetAfterMs);
      }
    },
  };
  return limiter;
}

/** What a guarded attempt's keys are of: the first key up to its first `:` (`device:ip:…` → `device`). */
function kindOf(keys: readonly string[]): string {
  const key = keys[0] ?? '';
  const colon = key.indexOf(':');
  return colon === -1 ? key : key.slice(0, colon);
}
