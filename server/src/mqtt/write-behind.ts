import type { MqttNotifiedStatus, MqttRepository } from '../store/port/index.js';

/**
 * Bookkeeping the bridge may write a moment late, in one transaction per flush, because
 * losing it in a crash costs nothing that matters:
 * - which status the broker acknowledged: lost, the status is published once more (QoS 1
 *   devices already handle duplicates);
 * - token proof ids: lost, a proof recorded in the last second could be replayed once after a
 *   restart, and the answer to it is encrypted to the device's own key anyway.
 * (Refresh proofs are written at once: a replayed refresh would spend the token.)
 * The one write that must be durable before the device hears of it, the encrypted token
 * answer, is not here: it is committed in the transaction that redeems the code
 * (`MqttRepository.redeemWithAnswer`), so the bridge adds no commit per flow of its own to
 * the two core makes (approval, redemption).
 */
export interface WriteBehind {
  /** False when this proof id of `rid` was seen before (in memory or in the store). */
  rememberProof(rid: string, jti: string, expiresAt: number): Promise<boolean>;
  markNotified(rid: string, status: MqttNotifiedStatus): void;
  /** A status acknowledged but not yet flushed (or flushed by the last flush). */
  notifiedStatus(rid: string): MqttNotifiedStatus | undefined;
  flush(): Promise<void>;
}

const FLUSH_AT = 256;

export function createWriteBehind(repo: MqttRepository, onError: (err: unknown) => void): WriteBehind {
  let proofs = new Map<string, { rid: string; jti: string; expiresAt: number }>();
  let notified = new Map<string, MqttNotifiedStatus>();
  let flushing: Promise<void> | undefined;
  // The batch being written stays readable until the store has it; its statuses stay readable
  // until the next flush is stored too, for a status sweep whose read of the store began before
  // this batch was in it (a flush outside the sweeper's turn, at FLUSH_AT).
  let writingProofs = new Map<string, { rid: string; jti: string; expiresAt: number }>();
  let writingNotified = new Map<string, MqttNotifiedStatus>();
  let writtenNotified = new Map<string, MqttNotifiedStatus>();

  async function flush(): Promise<void> {
    if (flushing) await flushing;
    if (proofs.size === 0 && notified.size === 0) return;
    const proofBatch = (writingProofs = proofs);
    const notifiedBatch = (writingNotified = notified);
    proofs = new Map();
    notified = new Map();
    flushing = (async () => {
      await repo.rememberProofs([...proofBatch.values()]);
      await repo.markNotifiedMany([...notifiedBatch].map(([rid, status]) => ({ rid, status })));
    })();
    try {
      await flushing;
      writtenNotified = notifiedBatch;
    } catch (err) {
      // Put back what was not written, unless newer entries replaced it.
      for (const [k, v] of proofBatch) if (!proofs.has(k)) proofs.set(k, v);
      for (const [k, v] of notifiedBatch) if (!notified.has(k)) notified.set(k, v);
      throw err;
    } finally {
      flushing = undefined;
      writingProofs = new Map();
      writingNotified = new Map();
    }
  }

  function flushSoon() {
    if (proofs.size + notified.size >= FLUSH_AT) flush().catch(onError);
  }

  return {
    async rememberProof(rid, jti, expiresAt) {
      const key = `${rid}\u0000${jti}`;
      const known = () => proofs.has(key) || writingProofs.has(key);
      if (known() || (await repo.hasProof(rid, jti))) return false;
      if (known()) return false; // another request of this rid got here while we read
      proofs.set(key, { rid, jti, expiresAt });
      flushSoon();
      return true;
    },
    markNotified(rid, status) {
      notified.set(rid, status);
      flushSoon();
    },
    notifiedStatus: (rid) => notified.get(rid) ?? writingNotified.get(rid) ?? writtenNotified.get(rid),
    flush,
  };
}
