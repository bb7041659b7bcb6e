import type { DeviceEvent, DeviceEvents } from './events.js';
import type { DecisionFeedRepository, FeedEvent } from '../store/port/index.js';

/**
 * Decisions taken by other server processes on the same database, published on this
 * process's `events` as if taken here, so the devices waiting on this process (WebSocket
 * push, the MQTT bridge) hear of them at once instead of at their next poll.
 */
export interface CrossProcessEvents {
  /**
   * Publish what was decided or revoked since the last check, if another process committed
   * anything meanwhile; resolves to how many events were published. The server calls it on a
   * short timer; a process alone on its database answers from one PRAGMA read.
   */
  check(): Promise<number>;
  /**
   * Publish one decision or revocation another instance committed, as the engine's listener
   * delivered it (PostgreSQL LISTEN/NOTIFY); 0 when it was published already.
   */
  deliver(event: FeedEvent): number;
}

// A decision is stamped a moment before its commit, and another process may commit an older
// stamp after a newer one: read back this far behind the newest stamp seen, and let `told`
// drop what was already published.
const OVERLAP_MS = 5_000;
// How many delivered events between two prunings of `told`.
const PRUNE_EVERY = 1_024;

export async function createCrossProcessEvents(deps: { feed: DecisionFeedRepository; events: DeviceEvents }): Promise<CrossProcessEvents> {
  const { feed, events } = deps;
  // Stamps come from the deciding process's clock: the cursor follows the stamps read, never
  // this process's clock.
  let cursor = await feed.latest();
  // Published by this feed, with the stamp, until the window has moved past it. What was
  // decided before this process started counts as told: it is history, not news.
  const told = new Map<string, number>();
  for (const { deviceCodeId, at } of await feed.decidedSince(cursor - OVERLAP_MS)) told.set(`c ${deviceCodeId}`, at);
  for (const { grantId, at } of await feed.revokedSince(cursor - OVERLAP_MS)) told.set(`g ${grantId}`, at);

  let toldSinceForget = 0;
  function forgetOld() {
    toldSinceForget = 0;
    for (const [key, at] of told) if (at < cursor - OVERLAP_MS) told.delete(key);
  }

  function tell(key: string, event: DeviceEvent, at: number): number {
    cursor = Math.max(cursor, at);
    if (told.has(key)) return 0;
    told.set(key, at);
    // Delivered events never pass through `check`, which forgets as it goes: forget here too.
    if (++toldSinceForget >= PRUNE_EVERY) forgetOld();
    // Decisions of this process come back too, once another process writes: the listeners take
    // an event twice without harm (a push socket is already closed; the MQTT bridge leaves remote
    // events to its sweep).
    events.publish(event);
    return 1;
  }

  return {
    async check() {
      if (!(await feed.changedElsewhere())) return 0;
      const since = cursor - OVERLAP_MS;
      let published = 0;
      for (const { deviceCodeId, status, at } of await feed.decidedSince(since)) {
        published += tell(`c ${deviceCodeId}`, { type: status, deviceCodeId, remote: true }, at);
      }
      for (const { grantId, at } of await feed.revokedSince(since)) {
        published += tell(`g ${grantId}`, { type: 'revoked', grantId, remote: true }, at);
      }
      forgetOld();
      return published;
    },
    deliver(event) {
      return event.kind === 'decided'
        ? tell(`c ${event.deviceCodeId}`, { type: event.status, deviceCodeId: event.deviceCodeId, remote: true }, event.at)
        : tell(`g ${event.grantId}`, { type: 'revoked', grantId: event.grantId, remote: true }, event.at);
    },
  };
}
