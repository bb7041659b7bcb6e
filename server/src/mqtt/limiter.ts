/**
 * Per-rid flood guard: a token bucket per request id. A well-behaved device sends one
 * authorize and then a token request every `interval` seconds (RFC 8628 §3.5), far below
 * the refill rate; a flood drains the bucket and is dropped.
 */
export interface FloodLimiter {
  /** True when a message from `rid` may be served now. */
  take(rid: string, now: number): boolean;
  /** Forget buckets that are full again (called from the bridge's sweep). */
  prune(now: number): void;
}

export interface FloodLimits {
  /** Messages a rid may send at once. */
  burst: number;
  /** Messages per second it regains. */
  perSecond: number;
  /** Most rids tracked at once; beyond it the fullest buckets are forgotten. */
  maxTracked: number;
}

export const DEFAULT_FLOOD_LIMITS: FloodLimits = { burst: 20, perSecond: 1, maxTracked: 100_000 };

export function createFloodLimiter(limits: FloodLimits = DEFAULT_FLOOD_LIMITS): FloodLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();

  function refill(bucket: { tokens: number; at: number }, now: number) {
    const elapsed = Math.max(0, now - bucket.at) / 1000;
    bucket.tokens = Math.min(limits.burst, bucket.tokens + elapsed * limits.perSecond);
    bucket.at = now;
  }

  return {
    take(rid, now) {
      let bucket = buckets.get(rid);
      if (!bucket) {
        if (buckets.size >= limits.maxTracked) this.prune(now);
        bucket = { tokens: limits.burst, at: now };
        buckets.set(rid, bucket);
      } else {
        refill(bucket, now);
      }
      if (bucket.tokens < 1) return false;
      bucket.tokens -= 1;
      return true;
    },
    prune(now) {
      for (const [rid, bucket] of buckets) {
        refill(bucket, now);
        if (bucket.tokens >= limits.burst) buckets.delete(rid);
      }
    },
  };
}
