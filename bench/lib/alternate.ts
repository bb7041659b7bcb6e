import { runLoad } from './load.js';
import type { LoadJob, LoadResult } from './load-types.js';
import type { ServerProcess } from './processes.js';
import { median, round } from './stats.js';

/** How long and how often each server is measured. Env overrides are for quick trials. */
export const SETTINGS = {
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  seconds: Number(process.env.BENCH_SECONDS ?? 5),
  warmupSeconds: Number(process.env.BENCH_WARMUP_SECONDS ?? 2),
};

/** One server in a side-by-side variant, and the load job it gets for each run. */
export interface Contender {
  server: ServerProcess;
  job(phase: 'warmup' | 'measure'): LoadJob;
  /** Called after every run, e.g. to carry a cursor or a token pool into the next one. */
  after?(result: LoadResult): void;
}

export interface Run {
  round: number;
  server: string;
  result: LoadResult;
}

export interface Figures {
  rps: number;
  p50: number;
  p99: number;
}

/** The measured figures of one variant of a scenario, every run kept. */
export interface VariantResult {
  name: string;
  description: string;
  runs: Run[];
  /** Per server: median over the measured rounds. */
  medians: Record<string, Figures>;
  /**
   * Per reference server: ours/ref of each round (runs next to each other, so drift
   * between rounds cancels), and the median of those. Req/s ratio above 1 means ours is
   * faster; latency ratios below 1 mean ours answers sooner.
   */
  ratios: Record<string, { rps: number; p50: number; p99: number; perRound: Figures[] }>;
  /** Response shapes summed over the measured runs, per server. */
  shapes: Record<string, Record<string, number>>;
}

const OURS = 'ours';

/**
 * Measure each contender in turn, ours first, for a warm-up and then `rounds` rounds:
 * ours, ref A, ref B, ours, ref A, … Nothing runs concurrently.
 */
export async function alternate(name: string, description: string, contenders: Contender[], log = console.error): Promise<VariantResult> {
  const runs: Run[] = [];
  const shapes: Record<string, Record<string, number>> = {};
  if (SETTINGS.warmupSeconds > 0) {
    for (const c of contenders) {
      const result = await runLoad(c.job('warmup'));
      c.after?.(result);
      log(`  ${name} warm-up ${c.server.name}: ${result.rps.toFixed(0)} req/s`);
    }
  }
  for (let round = 1; round <= SETTINGS.rounds; round++) {
    for (const c of contenders) {
      const result = await runLoad(c.job('measure'));
      c.after?.(result);
      // Token pools and collected codes are the harness's working data, not figures: keep them out of the JSON.
      const { leftover: _leftover, collected: _collected, ...figures } = result;
      runs.push({ round, server: c.server.name, result: figures });
      const mine = (shapes[c.server.name] ??= {});
      for (const [shape, n] of Object.entries(result.shapes)) mine[shape] = (mine[shape] ?? 0) + n;
      log(
        `  ${name} round ${round} ${c.server.name}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms ${JSON.stringify(result.shapes)}`,
      );
    }
  }
  const names = contenders.map((c) => c.server.name);
  const medians: VariantResult['medians'] = {};
  for (const server of names) {
    const mine = runs.filter((r) => r.server === server).map((r) => r.result);
    medians[server] = {
      rps: round(median(mine.map((r) => r.rps)), 0),
      p50: round(median(mine.map((r) => r.p50))),
      p99: round(median(mine.map((r) => r.p99))),
    };
  }
  const ratios: VariantResult['ratios'] = {};
  for (const ref of names.filter((n) => n !== OURS)) {
    const perRound: Figures[] = [];
    for (let r = 1; r <= SETTINGS.rounds; r++) {
      const ours = runs.find((x) => x.round === r && x.server === OURS)?.result;
      const theirs = runs.find((x) => x.round === r && x.server === ref)?.result;
      if (!ours || !theirs) continue;
      perRound.push({ rps: round(ours.rps / theirs.rps, 3), p50: round(ours.p50 / theirs.p50, 3), p99: round(ours.p99 / theirs.p99, 3) });
    }
    ratios[ref] = {
      rps: round(median(perRound.map((f) => f.rps)), 3),
      p50: round(median(perRound.map((f) => f.p50)), 3),
      p99: round(median(perRound.map((f) => f.p99)), 3),
      perRound,
    };
  }
  return { name, description, runs, medians, ratios, shapes };
}
