/**
 * The fixed topic scheme of the bridge (issue 6), under a configurable prefix:
 *
 *   {prefix}/device/{rid}/authorize  → …/authorize/accepted | …/authorize/rejected
 *   {prefix}/device/{rid}/token      → …/token/accepted     | …/token/rejected
 *   {prefix}/device/{rid}/refresh    → …/refresh/accepted   | …/refresh/rejected
 *   {prefix}/device/{rid}/status     (pushed by the bridge)
 *
 * The bridge subscribes to the request topics as a member of the shared subscription group
 * `kalm` (MQTT 5 §4.8.2, `$share/kalm/{filter}`): with several servers on one broker, prefix
 * and database, the broker hands each request to exactly one of them. Devices see none of
 * this; they publish and subscribe to the plain topics above.
 */

/** The shared subscription group of every bridge (MQTT 5 §4.8.2). */
export const SHARE_GROUP = 'kalm';

/** What a device may ask on its own topics. */
export type RequestAction = 'authorize' | 'token' | 'refresh';
export const REQUEST_ACTIONS: readonly RequestAction[] = ['authorize', 'token', 'refresh'];

/**
 * A request id: base64url, at least 22 characters (132 bits ≥ the 128 the scheme asks for),
 * at most 128, so it is also a safe single topic level (no `/`, `+`, `#`).
 */
export const RID_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;
/** Characters that make a topic level safe to answer on, even when the rid itself is refused. */
const TOPIC_LEVEL_SAFE = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_RESPONSE_TOPIC_LENGTH = 512;

export interface ParsedRequestTopic {
  rid: string;
  action: RequestAction;
  /** The rid is long and random enough; false means the request is refused, not served. */
  ridValid: boolean;
  /** The rid can be used as a topic level to send the refusal to. */
  ridAnswerable: boolean;
}

export interface Topics {
  /** The filters the bridge subscribes to: shared, `$share/kalm/{prefix}/device/+/{action}`. */
  subscriptions: string[];
  parse(topic: string): ParsedRequestTopic | undefined;
  answer(rid: string, action: RequestAction, result: 'accepted' | 'rejected'): string;
  status(rid: string): string;
  /**
   * An MQTT 5 Response Topic is honoured only inside the requesting device's own tree
   * (`{prefix}/device/{rid}/…`, no wildcards, not a request topic): otherwise a device
   * could make the bridge publish into another device's topics.
   */
  isAllowedResponseTopic(rid: string, responseTopic: string): boolean;
}

export function createTopics(prefix: string): Topics {
  const base = `${prefix}/device/`;
  return {
    subscriptions: REQUEST_ACTIONS.map((action) => `$share/${SHARE_GROUP}/${base}+/${action}`),
    parse(topic) {
      if (!topic.startsWith(base)) return undefined;
      const [rid, action, ...rest] = topic.slice(base.length).split('/');
      if (rid === undefined || rest.length > 0 || !REQUEST_ACTIONS.includes(action as RequestAction)) return undefined;
      return { rid, action: action as RequestAction, ridValid: RID_PATTERN.test(rid), ridAnswerable: TOPIC_LEVEL_SAFE.test(rid) };
    },
    answer: (rid, action, result) => `${base}${rid}/${action}/${result}`,
    status: (rid) => `${base}${rid}/status`,
    isAllowedResponseTopic(rid, responseTopic) {
      const own = `${base}${rid}/`;
      if (!responseTopic.startsWith(own) || responseTopic.length > MAX_RESPONSE_TOPIC_LENGTH) return false;
      const tail = responseTopic.slice(own.length);
      if (tail === '' || /[+#\u0000]/.test(tail)) return false;
      return !REQUEST_ACTIONS.includes(tail as RequestAction);
    },
  };
}
