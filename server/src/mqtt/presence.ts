// The bridge's presence among the bridges of its share group: a heartbeat in the store while
// it is connected, so that a stopping bridge can tell whether others will take its requests.
import type { MqttClient } from 'mqtt';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../logger.js';
import type { MqttRepository } from '../store/port/index.js';
import type { Topics } from './topics.js';

// A connected bridge writes a heartbeat this often; one not seen for PRESENCE_STALE_MS is gone.
const PRESENCE_EVERY_MS = 5000;
const PRESENCE_STALE_MS = 15_000;

export interface Presence {
  /** Record in the store that this bridge is alive now. */
  heartbeat(now: number): void;
  /** `heartbeat`, when the last one is PRESENCE_EVERY_MS old. */
  heartbeatIfDue(now: number): void;
  /** On stop: forget this bridge, and unsubscribe if other live bridges will serve. */
  leaveShareGroupIfOthersServe(): Promise<void>;
}

export interface PresenceDeps {
  repo: MqttRepository;
  client: MqttClient;
  clientId: string;
  topics: Topics;
  clock: Clock;
  log: Logger;
  isConnected(): boolean;
}

export function createPresence(deps: PresenceDeps): Presence {
  const { repo, clientId, log } = deps;
  let lastBeat = -Infinity;
  function heartbeat(now: number): void {
    lastBeat = now;
    repo.markBridgeSeen(clientId, now).catch((err) => log.error({ err }, 'mqtt bridge heartbeat failed'));
  }
  return {
    heartbeat,
    heartbeatIfDue(now) {
      if (now - lastBeat >= PRESENCE_EVERY_MS) heartbeat(now);
    },
    leaveShareGroupIfOthersServe: () => leaveShareGroupIfOthersServe(deps),
  };
}

/**
 * mosquitto keeps routing a share of the requests to a member whose session lives on,
 * connected or not, and queues them until it returns. So a stopping bridge with live peers
 * unsubscribes first, and they take every request at once; a bridge alone keeps its place,
 * so the requests published while it restarts wait for it. (It forgets itself before it
 * counts: of two bridges stopping together, at least one keeps its place.)
 */
async function leaveShareGroupIfOthersServe({ repo, client, clientId, topics, clock, log, isConnected }: PresenceDeps): Promise<void> {
  try {
    await repo.forgetBridge(clientId);
    if (!isConnected()) return;
    const others = await repo.countOtherBridges(clientId, clock.now() - PRESENCE_STALE_MS);
    if (others === 0) {
      log.info('mqtt bridge stops alone: it keeps its place in the share group, and the broker queues requests for it');
      return;
    }
    await client.unsubscribeAsync(topics.subscriptions);
    log.info({ others }, 'mqtt bridge left the share group: the other bridges take its requests');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'mqtt bridge could not leave the share group');
  }
}
