import type { LoadJob, LoadResult } from './load-types.js';
import { forkScript, nextMessage, stopChild } from './processes.js';

/** Run one load job in a fresh load-generator process and return what it measured. */
export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const child = forkScript('lib/load-worker.ts');
  // Generous bounds: a run that overshoots them is broken, not slow. An `amount` run may meet a
  // server that fsyncs every request (~3 ms each, far more on a busy machine).
  const limitMs =
    job.mode === 'paced'
      ? ((job.amount ?? 0) / (job.rate ?? 1000)) * 3000 + 60_000
      : job.amount
        ? job.amount * 30 + 60_000
        : (job.durationSec ?? 30) * 1000 + 60_000;
  try {
    const outcome = nextMessage<{ type: 'done'; result: LoadResult }>(child, 'done', limitMs);
    const failed = nextMessage<{ error: string }>(child, 'failed', limitMs).then(
      (m) => Promise.reject(new Error(`load generator failed: ${m.error}`)),
      () => new Promise<never>(() => {}),
    );
    child.send({ type: 'job', job });
    return (await Promise.race([outcome, failed])).result;
  } finally {
    await stopChild(child);
  }
}
