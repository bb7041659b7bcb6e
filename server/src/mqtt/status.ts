import type { Core } from '../core/index.js';
import type { Logger } from '../logger.js';
import type { MqttNotifiedStatus, MqttRepository, MqttRequestView } from '../store/port/index.js';
import type { Topics } from './topics.js';
import type { WriteBehind } from './write-behind.js';

/** The status a request's device should know, or undefined while the person has not decided. */
export function currentStatus(view: MqttRequestView, now: number): MqttNotifiedStatus | undefined {
  if (view.codeStatus === 'approved' || view.codeStatus === 'redeemed') return 'approved';
  if (view.codeStatus === 'denied') return 'denied';
  return view.expiresAt <= now ? 'expired' : undefined;
}

export interface StatusNotifier {
  /** A decision or expiry happened to this device code (from core events). */
  onDeviceCode(deviceCodeId: number): void;
  /** Publish the current status of `rid` again even if it was delivered before. */
  repeat(rid: string): void;
  /**
   * Publish the decisions and expiries not yet delivered: on connect all of them at once
   * (`atOnce`); periodically only those found undelivered by SETTLE_SWEEPS sweeps before this one.
   */
  sweep(atOnce?: boolean): Promise<void>;
}

const SWEEP_BATCH = 500;
// The periodic sweep tells a status only once it has been found untold this many sweeps in a
// row before. Another bridge on the database tells the decisions taken on its instance and the
// expiries it watches at once, and stores that it did at its next sweep (write-behind.ts): a
// sweep here that read the store in between would tell the device a second time. Waiting two
// sweeps leaves that bridge a whole sweep of margin; a status nobody else tells (taken on an
// instance without a bridge) reaches the device a sweep or two later than it used to.
const SETTLE_SWEEPS = 2;

/**
 * Pushes `{rid}/status`. The store remembers what the broker acknowledged, so a decision
 * taken while the broker was away (or the server was down) is published when the
 * connection returns, and one taken twice (an `expired` event from core and our own
 * sweep) is published once.
 */
export function createStatusNotifier(deps: {
  core: Core;
  repo: MqttRepository;
  topics: Topics;
  logger: Logger;
  isConnected(): boolean;
  publish(topic: string, body: object): Promise<void>;
  writeBehind: WriteBehind;
}): StatusNotifier {
  const { core, repo, topics, logger } = deps;
  const inFlight = new Set<string>();
  // rid -> how many sweeps in a row found it untold (forgotten once a sweep no longer finds it).
  let sightings = new Map<string, number>();

  async function deliver(view: MqttRequestView, force: boolean): Promise<void> {
    const status = currentStatus(view, core.clock.now());
    const told = deps.writeBehind.notifiedStatus(view.rid) ?? view.notifiedStatus;
    if (!status || (!force && told === status)) return;
    if (!deps.isConnected() || inFlight.has(view.rid)) return; // the next connect's sweep sends it
    inFlight.add(view.rid);
    try {
      await deps.publish(topics.status(view.rid), { status });
      deps.writeBehind.markNotified(view.rid, status);
      logger.debug({ rid: view.rid, status }, 'mqtt status published');
    } catch (err) {
      logger.warn({ rid: view.rid, err: (err as Error).message }, 'mqtt status not acknowledged; will retry on reconnect');
    } finally {
      inFlight.delete(view.rid);
    }
  }

  const failed = (err: unknown) => logger.error({ err }, 'mqtt status delivery failed');

  return {
    onDeviceCode(deviceCodeId) {
      repo
        .getByDeviceCodeId(deviceCodeId)
        .then((view) => view && deliver(view, false))
        .catch(failed);
    },
    repeat(rid) {
      repo
        .get(rid)
        .then((view) => view && deliver(view, true))
        .catch(failed);
    },
    async sweep(atOnce = false) {
      if (!deps.isConnected()) return;
      const due = await repo.listUnnotified(core.clock.now(), SWEEP_BATCH);
      const seen = new Map<string, number>();
      const ready = due.filter((view) => {
        const times = (sightings.get(view.rid) ?? 0) + 1;
        seen.set(view.rid, times);
        return atOnce || times > SETTLE_SWEEPS;
      });
      sightings = seen;
      await Promise.all(ready.map((view) => deliver(view, false)));
    },
  };
}
