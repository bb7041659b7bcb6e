/** Failure counters behind the code-entry and sign-in limiters: the `attempts` repository. */

/** Failed attempts counted under one key (a client IP, a session, ...). */
export interface AttemptCounter {
  failures: number;
  lastFailureAt: number;
}

export interface AttemptRepository {
  get(key: string): Promise<AttemptCounter | undefined>;
  /** Count one more failure at `now`, atomically; a counter idle since before `forgetBefore` starts again at 1. */
  recordFailure(key: string, now: number, forgetBefore: number): Promise<AttemptCounter>;
  purgeOlderThan(before: number): Promise<number>;
}
