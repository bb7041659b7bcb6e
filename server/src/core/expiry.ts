import type { Clock } from './clock.js';
import type { DeviceEvents } from './events.js';
import type { DeviceCodeRepository } from '../store/port/index.js';

/**
 * The publisher of `expired`: a device code that ends undecided has no request to
 * hang the event on, so someone has to notice the time. Transports that hold a
 * waiting device (the WebSocket hub, the MQTT bridge) ask to watch its code; one
 * timer, armed from the injected clock for the earliest watched expiry, sweeps.
 * Nothing is written: a cross-instance bus sees the same event from whichever
 * instance held the waiting device.
 */
export interface ExpiryWatch {
  /**
   * Publish `{type:'expired', deviceCodeId}` once, when this code reaches `expiresAt`
   * still pending. Watches are counted per code; the returned function drops this one.
   */
  watch(deviceCodeId: number, expiresAt: number): () => void;
  /**
   * Publish `expired` for every watched code whose time has come by `clock.now()`;
   * resolves to how many were published. The timer calls it; with a fake clock, call
   * it after advancing the clock.
   */
  sweep(): Promise<number>;
  /** How many codes are watched (for metrics and tests). */
  readonly size: number;
}

interface Watched {
  expiresAt: number;
  refs: number;
}

// Re-arm at least this often, so a wall-clock jump cannot leave an expiry unnoticed for long.
const MAX_TIMER_MS = 60_000;

export function createExpiryWatch(deps: {
  deviceCodes: Pick<DeviceCodeRepository, 'getById'>;
  events: DeviceEvents;
  clock: Clock;
  onError?: (err: unknown) => void;
}): ExpiryWatch {
  const { deviceCodes, events, clock } = deps;
  const watched = new Map<number, Watched>();
  let timer: NodeJS.Timeout | undefined;
  let armedFor = Infinity;

  function arm(at: number) {
    if (timer) clearTimeout(timer);
    timer = undefined;
    armedFor = at;
    if (at === Infinity) return;
    const delay = Math.min(Math.max(at - clock.now(), 0), MAX_TIMER_MS);
    timer = setTimeout(() => {
      timer = undefined;
      armedFor = Infinity;
      sweep().catch((err) => deps.onError?.(err));
    }, delay);
    // A waiting device must not keep the process alive on its own.
    timer.unref();
  }

  function earliest(): number {
    let at = Infinity;
    for (const w of watched.values()) if (w.expiresAt < at) at = w.expiresAt;
    return at;
  }

  async function sweep(): Promise<number> {
    const now = clock.now();
    const due: number[] = [];
    for (const [id, w] of watched) {
      if (w.expiresAt <= now) {
        due.push(id);
        watched.delete(id);
      }
    }
    arm(earliest());
    let published = 0;
    for (const id of due) {
      // Only a code that ran out undecided expires; a decision was already published.
      const record = await deviceCodes.getById(id);
      if (record && record.status === 'pending' && record.expiresAt <= now) {
        events.publish({ type: 'expired', deviceCodeId: id });
        published++;
      }
    }
    return published;
  }

  return {
    watch(deviceCodeId, expiresAt) {
      let entry = watched.get(deviceCodeId);
      if (entry) entry.refs++;
      else watched.set(deviceCodeId, (entry = { expiresAt, refs: 1 }));
      if (expiresAt < armedFor) arm(expiresAt);
      let dropped = false;
      return () => {
        if (dropped) return;
        dropped = true;
        // A swept entry is gone already; never touch a newer watch of the same id.
        if (watched.get(deviceCodeId) !== entry || --entry.refs > 0) return;
        watched.delete(deviceCodeId);
        if (watched.size === 0) arm(Infinity);
      };
    },
    sweep,
    get size() {
      return watched.size;
    },
  };
}
