/**
 * A seeded pseudo-random generator (mulberry32) for the reliability runs: the
 * kill moments and the mix of flows come from it, so a failing run can be
 * replayed with the seed it printed. Not for secrets — the server draws those
 * from its own CSPRNG.
 */
export interface SeededRandom {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max). */
  int(min: number, max: number): number;
}

export function seededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, next, int: (min, max) => min + Math.floor(next() * (max - min)) };
}

/** The seed to use: `KALM_SEED` when set (to replay a run), a fresh one otherwise. */
export function chooseSeed(fromArgs?: string): number {
  const given = fromArgs ?? process.env.KALM_SEED;
  if (given !== undefined && given !== '') {
    const n = Number(given);
    if (!Number.isInteger(n)) throw new Error(`seed must be an integer, got "${given}"`);
    return n >>> 0;
  }
  return (Math.random() * 2 ** 32) >>> 0;
}
