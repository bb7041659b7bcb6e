/**
 * The device codes this process issued that nobody has decided yet: what `kalm_pending_device_codes`
 * reports and where `kalm_device_decisions_total{decision="expired"}` comes from. No event says
 * that a code ran out undecided (core/expiry.ts publishes `expired` only for codes a push socket
 * or the MQTT bridge waits on), so the codes are kept here, one small entry each, from issue to
 * decision; a code still undecided some time after its expiry is counted expired, once, by the
 * process that issued it. Decisions taken by other processes on the database arrive through
 * core's events (`remote`), in time for the grace below.
 *
 * Read at collect time (each scrape) and every few thousand issues, so nothing grows between
 * scrapes: one pass over the entries, a few µs per thousand pending codes. Lost on a restart
 * (the codes issued before it are then neither pending nor expired here).
 */

// Past its expiry a code waits this long for a decision taken elsewhere to arrive (SQLite's
// cross-process check runs every 200 ms) before it is counted expired.
const EXPIRY_GRACE_MS = 5_000;
// Issues between two sweeps when nobody scrapes.
const SWEEP_EVERY = 5_000;

interface IssuedCode {
  clientId: string;
  expiresAt: number;
}

export class PendingCodes {
  private readonly codes = new Map<number, IssuedCode>();
  private issuedSinceSweep = 0;

  constructor(
    private readonly now: () => number,
    private readonly expired: (clientId: string) => void,
  ) {}

  issued(id: number, clientId: string, expiresAt: number): void {
    this.codes.set(id, { clientId, expiresAt });
    if (++this.issuedSinceSweep >= SWEEP_EVERY) this.sweep();
  }

  /** Approved or denied, here or on another process. */
  decided(id: number): void {
    this.codes.delete(id);
  }

  /** Count the codes expired undecided (past the grace) and forget them; returns how many are pending now. */
  sweep(): number {
    this.issuedSinceSweep = 0;
    const now = this.now();
    let pending = 0;
    for (const [id, code] of this.codes) {
      if (code.expiresAt > now) pending++;
      else if (code.expiresAt + EXPIRY_GRACE_MS <= now) {
        this.codes.delete(id);
        this.expired(code.clientId);
      }
    }
    return pending;
  }
}

export { EXPIRY_GRACE_MS };
