// Routes the requests the broker delivers to the bridge: drops floods and what the bridge
// cannot take, refuses malformed ones, serves each rid's requests one at a time in arrival
// order through its handler, and publishes the answer (`…/accepted` or `…/rejected`).
import type { IPublishPacket } from 'mqtt';
import { OAuthError } from '../core/errors.js';
import type { Core } from '../core/index.js';
import type { Logger } from '../logger.js';
import type { MqttMetrics } from '../metrics/hooks.js';
import type { Answer, Handler } from './handlers.js';
import type { FloodLimiter } from './limiter.js';
import { MAX_PAYLOAD_BYTES } from './payloads.js';
import type { RequestAction, Topics } from './topics.js';

/** Publish on the bridge's connection; resolves when the broker acknowledges it. */
export type Publish = (topic: string, payload: string, properties?: IPublishPacket['properties']) => Promise<void>;

export interface RequestRouter {
  /** Take one message of a request topic (never throws for a bad request: it is answered or dropped). */
  route(topic: string, payload: Buffer, packet: IPublishPacket): void;
  /** Settles once every request being served now has been answered. */
  drain(): Promise<unknown>;
}

export interface RequestRouterDeps {
  core: Core;
  topics: Topics;
  limiter: FloodLimiter;
  handlers: Record<RequestAction, Handler>;
  publish: Publish;
  log: Logger;
  /** Hears every token and refresh answer, and every flood drop. */
  metrics?: MqttMetrics | undefined;
}

// Requests being served at once, all rids together; beyond it new ones are dropped (and logged).
const MAX_PENDING = 5000;

interface Incoming {
  rid: string;
  action: RequestAction;
  responseTopic: string | undefined;
  correlationData: Buffer | undefined;
}

/** The router's dependencies and what it tracks: each rid's queue, floods already logged, requests in hand. */
interface Router extends RequestRouterDeps {
  chains: Map<string, Promise<void>>;
  floodLogged: Set<string>;
  pending: number;
}

export function createRequestRouter(deps: RequestRouterDeps): RequestRouter {
  const router: Router = { ...deps, chains: new Map(), floodLogged: new Set(), pending: 0 };
  return {
    route: (topic, payload, packet) => route(router, topic, payload, packet),
    drain: () => Promise.allSettled([...router.chains.values()]),
  };
}

function route(router: Router, topic: string, payload: Buffer, packet: IPublishPacket): void {
  const { log } = router;
  const parsed = router.topics.parse(topic);
  if (!parsed) return; // not a request topic (our subscriptions only match request topics)
  const { rid, action } = parsed;
  if (!admit(router, rid, action)) return;
  if (router.pending >= MAX_PENDING) {
    log.warn({ rid, action, pending: router.pending }, 'mqtt bridge overloaded: request dropped');
    return;
  }
  const responseTopic = packet.properties?.responseTopic;
  const correlationData = packet.properties?.correlationData;
  const req: Incoming = { rid, action, responseTopic, correlationData };
  if (!parsed.ridValid) {
    log.warn({ action }, 'mqtt request with an invalid rid');
    if (parsed.ridAnswerable) reject(router, req, new OAuthError('invalid_request', 'rid must be 22 to 128 base64url characters (at least 128 random bits)'));
    return;
  }
  if (payload.length > MAX_PAYLOAD_BYTES) {
    return reject(router, req, new OAuthError('invalid_request', `payload larger than ${MAX_PAYLOAD_BYTES} bytes`));
  }
  serveInOrder(router, req, payload);
}

/** False (the message is dropped) while `rid` floods: its bucket is empty. */
function admit(router: Router, rid: string, action: RequestAction): boolean {
  const { floodLogged } = router;
  if (!router.limiter.take(rid, router.core.clock.now())) {
    router.metrics?.flooded();
    // One log line per flood, not one per dropped message: a flood must not flood the logs.
    if (!floodLogged.has(rid)) {
      if (floodLogged.size >= 10_000) floodLogged.clear();
      floodLogged.add(rid);
      router.log.warn({ rid: rid.slice(0, 128), action }, 'mqtt flood from one rid: dropping its messages');
    }
    return false;
  }
  floodLogged.delete(rid);
  return true;
}

function serveInOrder(router: Router, req: Incoming, payload: Buffer): void {
  const { chains } = router;
  const { rid } = req;
  // One request of a rid at a time, in arrival order: a repeated authorize or two token
  // requests in a row see each other's effects.
  router.pending++;
  const previous = chains.get(rid) ?? Promise.resolve();
  const next = previous.then(() => serve(router, req, payload)).finally(() => {
    router.pending--;
    if (chains.get(rid) === next) chains.delete(rid);
  });
  chains.set(rid, next);
}

async function serve(router: Router, req: Incoming, payload: Buffer): Promise<void> {
  const { topics, log } = router;
  try {
    if (req.responseTopic !== undefined && !topics.isAllowedResponseTopic(req.rid, req.responseTopic)) {
      throw new OAuthError('invalid_request', `Response Topic must lie under ${router.core.config.mqttTopicPrefix}/device/{rid}/ and not be a request topic`);
    }
    const answer = await router.handlers[req.action](req.rid, payload);
    log.debug({ rid: req.rid, action: req.action }, `mqtt ${req.action} accepted`);
    count(router, req, 'ok');
    reply(router, req, 'accepted', answer.body);
  } catch (err) {
    if (err instanceof OAuthError) return reject(router, req, err);
    log.error({ rid: req.rid, action: req.action, err }, 'mqtt request failed');
    count(router, req, 'server_error');
    reply(router, req, 'rejected', { error: 'server_error', error_description: 'the server could not handle this request' });
  }
}

function reject(router: Router, req: Incoming, error: OAuthError): void {
  router.log.info({ rid: req.rid, action: req.action, error: error.error }, `mqtt ${req.action} rejected: ${error.description}`);
  count(router, req, error.error);
  reply(router, req, 'rejected', error.toJSON());
}

/** A token or refresh request's result for the metrics: `ok` or the OAuth error code. */
function count(router: Router, req: Incoming, result: string): void {
  if (req.action !== 'authorize') router.metrics?.tokenAnswered(req.action, result);
}

function reply(router: Router, req: Incoming, result: 'accepted' | 'rejected', body: Answer['body'] | Record<string, unknown>): void {
  const { topics } = router;
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  let topic = topics.answer(req.rid, req.action, result);
  const properties: NonNullable<IPublishPacket['properties']> = {};
  // MQTT 5 §4.10: answer on the Response Topic with the Correlation Data echoed.
  if (req.responseTopic && topics.isAllowedResponseTopic(req.rid, req.responseTopic)) {
    topic = req.responseTopic;
    properties.userProperties = { result };
  }
  if (req.correlationData) properties.correlationData = req.correlationData;
  router.publish(topic, payload, Object.keys(properties).length > 0 ? properties : undefined).catch((err: Error) =>
    router.log.warn({ rid: req.rid, action: req.action, err: err.message }, 'mqtt answer not acknowledged; the device will ask again'),
  );
}
