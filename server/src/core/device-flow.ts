import type { AuditContext, AuditTrail } from './audit.js';
import type { Clock } from './clock.js';
import { GRANT_TYPES, type ClientService } from './clients.js';
import { refreshTokenBinding, type DpopProof } from './dpop.js';
import { OAuthError } from './errors.js';
import { newGrant } from './grants.js';
import type { DeviceEvents } from './events.js';
import type { CoreObserver } from './observer.js';
import { createPollPacer, sharedPollPacer, type PollPacer } from './poll-pacing.js';
import { formatScope, isSubset, resolveRequestedScope, type ScopeCatalog } from './scopes.js';
import { hashOrderedSecret, newOrderedSecret, type RandomSource } from './secrets.js';
import type { TokenResponse, TokenService } from './tokens.js';
import { formatUserCode, generateUserCode, normalizeUserCode } from './user-codes.js';
import type { Config } from '../config.js';
import type { ClientRecord, Decision, DeviceCodeRecord, GrantRecord, NewAuditEvent, RefreshTokenRecord, Store } from '../store/port/index.js';

/** RFC 8628 §3.2 device authorization response. */
export interface DeviceAuthorizationResponse {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

/** Where a device request came from, shown on the consent page (and recorded in the audit trail). */
export interface RequestOrigin {
  ip?: string | undefined;
  userAgent?: string | undefined;
}

/** What the verification page needs to know about a code a person typed. */
export interface PendingDeviceRequest {
  id: number;
  userCode: string;
  client: ClientRecord;
  scopes: string[];
  createdAt: number;
  expiresAt: number;
  requestIp: string | null;
  requestUserAgent: string | null;
}

export type DecisionResult = 'approved' | 'denied';

export interface DeviceFlow {
  /** RFC 8628 §3.1–3.2. The client is already authenticated. */
  authorize(client: ClientRecord, scope: string | undefined, origin?: RequestOrigin): Promise<DeviceAuthorizationResponse>;
  /** RFC 8628 §3.4–3.5: one poll of the token endpoint; with `dpop` (RFC 9449 §5), the tokens are bound to its key. */
  poll(client: ClientRecord, deviceCode: string, dpop?: DpopProof, context?: AuditContext): Promise<TokenResponse>;
  /** A live, undecided code by what a person typed; undefined for unknown, expired or decided codes alike. */
  findPending(userCodeInput: string): Promise<PendingDeviceRequest | undefined>;
  /**
   * Approve a pending code for `userId` with a non-empty subset of the requested scopes;
   * `context.ip`, the person's address, goes to the audit trail (as for `deny`).
   */
  approve(userCodeInput: string, userId: string, grantedScopes: readonly string[], context?: AuditContext): Promise<void>;
  /** Deny a pending code. */
  deny(userCodeInput: string, userId?: string | null, context?: AuditContext): Promise<void>;
  /** The record behind a device code (for the push channel); undefined when unknown. */
  findByDeviceCode(deviceCode: string): Promise<DeviceCodeRecord | undefined>;
  /**
   * `authorize` for a transport that keeps the device code on the server (the MQTT bridge):
   * the code is stored hashed as usual and never returned; the caller holds the record id.
   */
  authorizeHeld(client: ClientRecord, scope: string | undefined, origin?: RequestOrigin): Promise<HeldDeviceAuthorization>;
  /**
   * `poll` of a code held on the server, by record id; the same RFC 8628 §3.5 interval rules apply.
   * `commit`, when given, spends the code in place of `store.deviceCodes.redeem`: a transport
   * that keeps the answer for the device stores it in the same transaction (see `RedemptionCommit`).
   */
  pollById(client: ClientRecord, deviceCodeId: number, commit?: RedemptionCommit): Promise<TokenResponse>;
}

/** A redemption ready to commit: the tokens are signed, nothing is written yet. */
export interface Redemption {
  deviceCodeId: number;
  grant: GrantRecord;
  refresh: RefreshTokenRecord | undefined;
  response: TokenResponse;
  /** `device.redeemed`, which the commit writes with the redemption (see AuditOnWrite). */
  audit?: NewAuditEvent;
}

/**
 * Commits a redemption atomically: spends the code, stores grant and refresh token, and
 * whatever the transport keeps with them. False when the code was already spent. Tokens
 * are handed out only after it resolves true, so a crash before the commit hands out
 * nothing, and one after it leaves everything the transport needs to answer again.
 */
export type RedemptionCommit = (redemption: Redemption) => Promise<boolean>;

/** What `authorizeHeld` returns: the record id and the RFC 8628 §3.2 response without `device_code`. */
export interface HeldDeviceAuthorization {
  deviceCodeId: number;
  response: Omit<DeviceAuthorizationResponse, 'device_code'>;
}

// RFC 8628 §3.5: "clients MUST increase the polling interval by 5 seconds for all subsequent requests".
const SLOW_DOWN_STEP = 5;
const MAX_USER_CODE_ATTEMPTS = 10;
const MAX_DEVICE_CODE_LENGTH = 512;

/** What the device flow works with (the options of {@link createDeviceFlow}). */
interface DeviceFlowDeps {
  store: Store;
  clients: ClientService;
  tokens: TokenService;
  catalog: ScopeCatalog;
  events: DeviceEvents;
  clock: Clock;
  random: RandomSource;
  config: Config;
  audit: AuditTrail;
  observer: CoreObserver;
}

/** The dependencies and the state every step of the flow shares. */
interface DeviceFlowContext extends DeviceFlowDeps {
  pacer: PollPacer;
  /** The redemption commit of a transport that keeps nothing with it. */
  commitToStore: RedemptionCommit;
}

export function createDeviceFlow(deps: DeviceFlowDeps): DeviceFlow {
  const { store, clients, tokens, catalog, events, clock, random, config, observer } = deps;
  const commitToStore: RedemptionCommit = (r) => store.deviceCodes.redeem(r.deviceCodeId, r.grant, r.refresh, r.audit);
  const flow: DeviceFlowContext = { store, clients, tokens, catalog, events, clock, random, config, audit: deps.audit, observer, pacer: store.pollPacing ? sharedPollPacer(store.pollPacing) : createPollPacer(), commitToStore };
  return {
    authorize: (client, scope, origin = {}) => authorize(flow, client, scope, origin),
    authorizeHeld: (client, scope, origin = {}) => authorizeHeld(flow, client, scope, origin),
    poll: (client, deviceCode, dpop, context = {}) => poll(flow, client, deviceCode, dpop, context),
    pollById: (client, deviceCodeId, commit) => pollById(flow, client, deviceCodeId, commit),
    findPending: (userCodeInput) => findPending(flow, userCodeInput),
    approve: (userCodeInput, userId, grantedScopes, context = {}) => approve(flow, userCodeInput, userId, grantedScopes, context),
    deny: (userCodeInput, userId = null, context = {}) => deny(flow, userCodeInput, userId, context),
    findByDeviceCode: (deviceCode) => findByDeviceCode(flow, deviceCode),
  };
}

/** RFC 8628 §3.1–3.2: a new device code and the response that shows its user code. */
async function authorize(flow: DeviceFlowContext, client: ClientRecord, scope: string | undefined, origin: RequestOrigin): Promise<DeviceAuthorizationResponse> {
  return (await createCode(flow, client, scope, origin)).response;
}

async function authorizeHeld(flow: DeviceFlowContext, client: ClientRecord, scope: string | undefined, origin: RequestOrigin): Promise<HeldDeviceAuthorization> {
  const { id, response } = await createCode(flow, client, scope, origin);
  const { device_code: _held, ...shown } = response;
  return { deviceCodeId: id, response: shown };
}

async function createCode(flow: DeviceFlowContext, client: ClientRecord, scope: string | undefined, origin: RequestOrigin) {
  const { store, clock, config } = flow;
  flow.clients.assertGrant(client, GRANT_TYPES.deviceCode);
  const scopes = resolveRequestedScope(scope, client.scopes, flow.catalog);
  if (scopes.length === 0) throw new OAuthError('invalid_scope', 'no scope requested and the client has none allowed');
  const now = clock.now();
  const expiresIn = client.deviceCodeTtl ?? config.deviceCodeTtl;
  const interval = client.devicePollInterval ?? config.devicePollInterval;
  const deviceCode = newOrderedSecret(flow.random, now);
  // Written with the code, which gives it its id.
  const requested = flow.audit.event({
    type: 'device.requested',
    actor: { type: 'client', id: client.id },
    clientId: client.id,
    ip: origin.ip,
    scopes,
    details: origin.userAgent ? { userAgent: origin.userAgent.slice(0, 256) } : {},
  });
  for (let attempt = 0; attempt < MAX_USER_CODE_ATTEMPTS; attempt++) {
    const userCode = generateUserCode(flow.random);
    const inserted = await store.deviceCodes.insert(
      {
        deviceCodeHash: hashOrderedSecret(deviceCode),
        userCode,
        clientId: client.id,
        scopes,
        createdAt: now,
        expiresAt: now + expiresIn * 1000,
        interval,
        requestIp: origin.ip?.slice(0, 64) ?? null,
        requestUserAgent: origin.userAgent?.slice(0, 256) ?? null,
      },
      now,
      requested,
    );
    if (!inserted) continue; // the user code belongs to another live request: draw again
    flow.observer.deviceAuthorized(inserted);
    return { id: inserted.id, response: authorizationResponse(config, deviceCode, userCode, expiresIn, interval) };
  }
  throw new OAuthError('temporarily_unavailable', 'could not allocate a user code, try again');
}

/** RFC 8628 §3.2: the user code as shown, and where to type it. */
function authorizationResponse(config: Config, deviceCode: string, userCode: string, expiresIn: number, interval: number): DeviceAuthorizationResponse {
  const shown = formatUserCode(userCode);
  const verificationUri = `${config.publicUrl}/device`;
  return {
    device_code: deviceCode,
    user_code: shown,
    verification_uri: verificationUri,
    verification_uri_complete: `${verificationUri}?user_code=${shown}`,
    expires_in: expiresIn,
    interval,
  };
}

/** RFC 8628 §3.4: one poll of the token endpoint with the device code. */
async function poll(flow: DeviceFlowContext, client: ClientRecord, deviceCode: string, dpop: DpopProof | undefined, context: AuditContext): Promise<TokenResponse> {
  flow.clients.assertGrant(client, GRANT_TYPES.deviceCode);
  const record = deviceCode.length <= MAX_DEVICE_CODE_LENGTH ? await flow.store.deviceCodes.getByHash(hashOrderedSecret(deviceCode)) : undefined;
  return pollRecord(flow, client, record, recordingRedemption(flow, flow.commitToStore, context), false, dpop);
}

async function pollById(flow: DeviceFlowContext, client: ClientRecord, deviceCodeId: number, commit = flow.commitToStore): Promise<TokenResponse> {
  flow.clients.assertGrant(client, GRANT_TYPES.deviceCode);
  return pollRecord(flow, client, await flow.store.deviceCodes.getById(deviceCodeId), recordingRedemption(flow, commit, {}), true);
}

/** RFC 8628 §3.5: the answer to a poll, from the state of its code; `held`: polled by record id (`pollById`). */
async function pollRecord(
  flow: DeviceFlowContext,
  client: ClientRecord,
  record: DeviceCodeRecord | undefined,
  commit: RedemptionCommit,
  held: boolean,
  dpop?: DpopProof,
): Promise<TokenResponse> {
  const { pacer } = flow;
  if (!record || record.clientId !== client.id) throw new OAuthError('invalid_grant', 'unknown device code');
  if (record.status !== 'pending') pacer.forget(record.id);
  if (record.status === 'redeemed') throw new OAuthError('invalid_grant', 'device code has already been used');
  const now = flow.clock.now();
  if (record.expiresAt <= now) {
    pacer.forget(record.id);
    throw new OAuthError('expired_token', 'the device code has expired; start again');
  }
  if (record.status === 'denied') throw new OAuthError('access_denied', 'the user denied the request');
  // An approved code is redeemed at once, whenever the last poll was: a device told by push
  // must not be answered slow_down.
  if (record.status === 'approved') return redeem(flow, client, record, commit, held, dpop);
  return checkPace(pacer, record, now);
}

/** A pending code: slow_down when polled too soon, else authorization_pending. */
async function checkPace(pacer: PollPacer, record: DeviceCodeRecord, now: number): Promise<never> {
  // RFC 8628 §3.5: slow_down when polled sooner than the interval in force; the first poll is free.
  // Paced in memory, or in the store's shared pacing when several instances serve (see poll-pacing.ts).
  const { early, interval } = await pacer.poll(record.id, now, record, SLOW_DOWN_STEP);
  if (early) throw new OAuthError('slow_down', 'polling too fast', { interval });
  throw new OAuthError('authorization_pending', 'the user has not yet decided');
}

/** `commit` with `device.redeemed` for the audit trail, which the commit writes with the redemption. */
function recordingRedemption(flow: DeviceFlowContext, commit: RedemptionCommit, context: AuditContext): RedemptionCommit {
  return (redemption) => {
    const { grant } = redemption;
    const audit = flow.audit.event({
      type: 'device.redeemed',
      actor: { type: 'client', id: grant.clientId },
      userId: grant.userId,
      clientId: grant.clientId,
      grantId: grant.id,
      deviceCodeId: redemption.deviceCodeId,
      ip: context.ip,
      scopes: grant.scopes,
    });
    return commit({ ...redemption, audit });
  };
}

/** An approved code's grant and tokens, handed out only once the code is spent. */
async function redeem(
  flow: DeviceFlowContext,
  client: ClientRecord,
  record: DeviceCodeRecord,
  commit: RedemptionCommit,
  held: boolean,
  dpop: DpopProof | undefined,
): Promise<TokenResponse> {
  const { clock } = flow;
  const scopes = record.grantedScopes ?? [];
  const grant = newGrant(flow.random, clock.now(), {
    clientId: client.id,
    userId: record.userId,
    scopes,
    origin: GRANT_TYPES.deviceCode,
    requestIp: record.requestIp,
    requestUserAgent: record.requestUserAgent,
    dpopJkt: refreshTokenBinding(client, dpop),
  });
  // Sign first, commit second: a token is handed out only if the commit that spends the code succeeds.
  const { response, refresh } = await flow.tokens.issueForGrant(client, grant, scopes, dpop);
  if (!(await commit({ deviceCodeId: record.id, grant, refresh, response }))) {
    throw new OAuthError('invalid_grant', 'device code has already been used');
  }
  flow.observer.deviceCodeRedeemed(record, clock.now(), held);
  return response;
}

async function findPending(flow: DeviceFlowContext, userCodeInput: string): Promise<PendingDeviceRequest | undefined> {
  let record: DeviceCodeRecord;
  try {
    record = await requirePending(flow, userCodeInput);
  } catch (err) {
    if (err instanceof OAuthError) return undefined;
    throw err;
  }
  const client = await flow.clients.get(record.clientId);
  if (!client) return undefined;
  return {
    id: record.id,
    userCode: formatUserCode(record.userCode),
    client,
    scopes: record.scopes,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    requestIp: record.requestIp,
    requestUserAgent: record.requestUserAgent,
  };
}

async function approve(flow: DeviceFlowContext, userCodeInput: string, userId: string, grantedScopes: readonly string[], context: AuditContext): Promise<void> {
  const record = await requirePending(flow, userCodeInput);
  const granted = [...new Set(grantedScopes)];
  if (granted.length === 0) throw new OAuthError('invalid_scope', 'approve at least one scope, or deny');
  if (!isSubset(granted, record.scopes)) {
    throw new OAuthError('invalid_scope', `granted scopes must be among the requested ones: ${formatScope(record.scopes)}`);
  }
  const approved = flow.audit.event({
    type: 'device.approved',
    actor: context.actor ?? { type: 'user', id: userId },
    userId,
    clientId: record.clientId,
    deviceCodeId: record.id,
    ip: context.ip,
    // The subset the person ticked; what the device asked for beside it.
    scopes: granted,
    details: { requested: record.scopes },
  });
  await decide(flow, record, { status: 'approved', userId, grantedScopes: granted }, approved);
}

async function deny(flow: DeviceFlowContext, userCodeInput: string, userId: string | null, context: AuditContext): Promise<void> {
  const record = await requirePending(flow, userCodeInput);
  const denied = flow.audit.event({
    type: 'device.denied',
    actor: context.actor ?? (userId === null ? undefined : { type: 'user', id: userId }),
    userId,
    clientId: record.clientId,
    deviceCodeId: record.id,
    ip: context.ip,
    scopes: record.scopes,
  });
  await decide(flow, record, { status: 'denied', userId }, denied);
}

async function requirePending({ store, clock }: DeviceFlowContext, userCodeInput: string): Promise<DeviceCodeRecord> {
  const userCode = normalizeUserCode(userCodeInput);
  const record = userCode && (await store.deviceCodes.getByUserCode(userCode));
  // One answer for unknown, expired and already-decided codes: the page is no oracle.
  if (!record || record.status !== 'pending' || record.expiresAt <= clock.now()) {
    throw new OAuthError('invalid_grant', 'this code is not valid: check it and try again, or start again on the device');
  }
  return record;
}

/** Records the person's decision once, with its audit event, and tells the transports waiting on the code. */
async function decide({ store, clock, events, observer }: DeviceFlowContext, record: DeviceCodeRecord, decision: Decision, audit: NewAuditEvent) {
  if (!(await store.deviceCodes.decide(record.id, decision, clock.now(), audit))) {
    throw new OAuthError('invalid_grant', 'this code has already been decided or has expired');
  }
  observer.deviceDecided(record, decision.status);
  events.publish({ type: decision.status, deviceCodeId: record.id });
}

async function findByDeviceCode(flow: DeviceFlowContext, deviceCode: string): Promise<DeviceCodeRecord | undefined> {
  if (deviceCode.length > MAX_DEVICE_CODE_LENGTH) return undefined;
  return flow.store.deviceCodes.getByHash(hashOrderedSecret(deviceCode));
}
