import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultConfig } from '../../../server/src/config.js';
import { GRANT_TYPES } from '../../../server/src/core/clients.js';
import { createCore, type Core } from '../../../server/src/core/index.js';
import { createSqliteStore } from '../../../server/src/store/sqlite/index.js';
import { PageClient } from '../../http/verify-client.js';
import { startChildServer, type ChildServer } from './child-server.js';
import { seededRandom, type SeededRandom } from './random.js';

/**
 * Crash safety (issue 9): device flows against `kalm serve` in a child process,
 * approvals half through core in this process on the same data dir (SQLite WAL lets
 * two processes share it) and half through the verification page's forms (signed-in
 * sessions, one per worker, kept in the database across restarts), SIGKILL of the
 * server at seeded random moments, restart on the same data dir, and after each
 * restart a check of what must have survived.
 */
export interface CrashRunOptions {
  flows: number;
  kills: number;
  seed: number;
  /** Flows driven at the same time. */
  concurrency?: number;
  /** Progress lines (the bench prints them; the test keeps them quiet). */
  log?: (line: string) => void;
}

export interface CrashRunReport {
  seed: number;
  flows: number;
  kills: number;
  /** Broken promises: empty when the server kept every one. */
  violations: string[];
  acknowledgedApprovals: number;
  /** Of those, approvals made through the verification page's forms (committed by the server that was killed). */
  approvalsThroughPages: number;
  /** Approved codes first redeemed after a restart: decisions that survived the kill. */
  redeemedAfterRestart: number;
  /** HTTP requests cut by a kill (their outcome is unknown to the client, so either answer is right). */
  cutByKill: number;
  rotationsChecked: number;
  revocationsChecked: number;
  integrityChecks: number;
  restartMs: number[];
  durationMs: number;
}

type Step = 'authorize' | 'poll' | 'redeem' | 'refresh' | 'revoke' | 'approve';

interface Flow {
  index: number;
  plan: 'pending' | 'deny' | 'approve';
  /** Approve through the verification page's HTTP forms rather than through core in this process. */
  throughPages: boolean;
  refreshes: number;
  revoke: boolean;
  deviceCode?: string;
  userCode?: string;
  approved: boolean;
  denied: boolean;
  /** 200 answers with tokens for this device code: more than one is a double redemption. */
  redemptions: number;
  /** The code was spent while its answer was lost in a kill. */
  spentUnseen: boolean;
  grantId?: string;
  refreshToken?: string;
  /** Refresh tokens whose rotation was acknowledged (a 200 for the refresh). */
  rotated: string[];
  /** A refresh or revoke was cut by a kill: the family's state is unknown, leave it. */
  familyUncertain: boolean;
  /** Revocation acknowledged (200 from /revoke), or the family ended by a reuse check. */
  familyRevoked: boolean;
  /** An approve or deny was running when the kill closed the store: it may or may not have committed. */
  decisionUnacknowledged: boolean;
  inFlight?: Step;
  cut?: Step;
}

class Stopped extends Error {}

const SCOPES = ['valuate:read', 'billing:read'];
const FETCH_TIMEOUT_MS = 15_000;

function grantIdOf(accessToken: string): string | undefined {
  const payload = accessToken.split('.')[1];
  if (!payload) return undefined;
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { grant_id?: string }).grant_id;
}

export async function runCrashScenario(options: CrashRunOptions): Promise<CrashRunReport> {
  const started = Date.now();
  const rng: SeededRandom = seededRandom(options.seed);
  const log = options.log ?? (() => {});
  const concurrency = options.concurrency ?? 8;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-crash-'));
  const report: CrashRunReport = {
    seed: options.seed,
    flows: options.flows,
    kills: 0,
    violations: [],
    acknowledgedApprovals: 0,
    approvalsThroughPages: 0,
    redeemedAfterRestart: 0,
    cutByKill: 0,
    rotationsChecked: 0,
    revocationsChecked: 0,
    integrityChecks: 0,
    restartMs: [],
    durationMs: 0,
  };
  const violation = (flow: Flow | undefined, what: string) =>
    report.violations.push(`${flow ? `flow ${flow.index}: ` : ''}${what} (seed ${options.seed})`);

  // Every decision is drawn up front from the seed, so a replay asks the same things.
  const flows: Flow[] = Array.from({ length: options.flows }, (_, index) => {
    const r = rng.next();
    const plan = r < 0.1 ? 'pending' : r < 0.2 ? 'deny' : 'approve';
    return {
      index,
      plan,
      throughPages: plan === 'approve' && rng.next() < 0.5,
      refreshes: plan === 'approve' ? rng.int(0, 3) : 0,
      revoke: plan === 'approve' && rng.next() < 0.2,
      approved: false,
      denied: false,
      redemptions: 0,
      spentUnseen: false,
      rotated: [],
      familyUncertain: false,
      familyRevoked: false,
      decisionUnacknowledged: false,
    } satisfies Flow;
  });
  // Kill when the flow with this index (or a later one) starts, and then after a few more
  // answered requests: one kill point in each of `kills` equal stretches of the run.
  const kills = Math.min(options.kills, Math.max(0, options.flows - 2));
  const stretch = (options.flows - 2) / Math.max(kills, 1);
  const killPoints = Array.from({ length: kills }, (_, k) => 2 + Math.floor(k * stretch) + rng.int(0, Math.max(1, Math.floor(stretch))));
  const killDelays = killPoints.map(() => rng.int(0, 4 * concurrency));

  // Set up the data dir in this process first: keys, the client and the person who approves.
  const config = defaultConfig({ dataDir, demo: false, publicUrl: 'http://127.0.0.1' });
  let store = createSqliteStore(dataDir);
  let core: Core = await createCore({ config, store });
  const { client } = await core.clients.create({
    name: 'Crash test TV',
    type: 'public',
    grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken],
    scopes: SCOPES,
  });
  const user = await core.users.create({ username: 'crash', password: 'correct horse battery' });

  const reopen = async () => {
    store = createSqliteStore(dataDir);
    core = await createCore({ config, store });
  };
  const integrity = () => {
    const result = store.db.pragma('integrity_check', { simple: true });
    report.integrityChecks++;
    if (result !== 'ok') violation(undefined, `PRAGMA integrity_check answered ${String(result)}`);
  };

  let server: ChildServer = await startChildServer(dataDir);
  log(`server pid ${server.pid} on ${server.url}`);

  // The person's phones: one signed-in browser session per worker (a session follows one
  // code at a time, as a browser tab does), kept in the database across restarts.
  const phoneCookies: Array<Map<string, string>> = [];
  const phone = (worker: number) => {
    const client = new PageClient(server.url);
    for (const [k, v] of phoneCookies[worker]!) client.cookies.set(k, v);
    phoneCookies[worker] = client.cookies;
    return client;
  };
  for (let w = 0; w < concurrency; w++) {
    phoneCookies.push(new Map());
    const browser = phone(w);
    const signedIn = await browser.post('/signin', { csrf_token: await browser.csrf('/signin'), username: 'crash', password: 'correct horse battery' });
    if (signedIn.status !== 303) throw new Error(`sign-in on the verification page answered ${signedIn.status}`);
  }

  /** Approve as a person does on the phone; acknowledged when the server redirects to the done page. */
  async function approveThroughPages(flow: Flow, worker: number, guard: { stopped: boolean }) {
    flow.inFlight = 'approve';
    try {
      const browser = phone(worker);
      const csrf = await browser.csrf('/device');
      const entered = await browser.post('/device', { csrf_token: csrf, user_code: flow.userCode! });
      if (entered.location !== '/device/consent') throw new Error(`code entry answered ${entered.status} → ${entered.location}`);
      const decided = await browser.post('/device/consent', { csrf_token: csrf, decision: 'approve', scope: SCOPES });
      if (decided.location !== '/device/done') throw new Error(`consent answered ${decided.status} → ${decided.location}`);
      const done = await browser.get('/device/done');
      if (done.status !== 200 || !done.body.includes('result-approved')) throw new Error(`the done page answered ${done.status}`);
    } catch (err) {
      if (guard.stopped) {
        flow.cut = 'approve';
        report.cutByKill++;
        throw new Stopped();
      }
      throw err;
    } finally {
      flow.inFlight = undefined;
    }
  }

  const post = async (flow: Flow, step: Step, p: string, form: Record<string, string>, guard: { stopped: boolean }) => {
    if (guard.stopped) throw new Stopped();
    flow.inFlight = step;
    try {
      const res = await fetch(`${server.url}${p}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      const text = await res.text();
      if (res.status >= 500) violation(flow, `${step} answered ${res.status}: ${text}`);
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, string>) : {} };
    } catch (err) {
      if (guard.stopped) {
        flow.cut = step;
        report.cutByKill++;
        throw new Stopped();
      }
      throw err;
    } finally {
      flow.inFlight = undefined;
    }
  };
  const poll = (flow: Flow, step: Step, guard: { stopped: boolean }) =>
    post(flow, step, '/token', { grant_type: GRANT_TYPES.deviceCode, device_code: flow.deviceCode!, client_id: client.id }, guard);

  const tookTokens = (flow: Flow, body: Record<string, string>) => {
    flow.redemptions++;
    if (flow.redemptions > 1) violation(flow, 'device code redeemed twice');
    flow.grantId = grantIdOf(body.access_token!);
    flow.refreshToken = body.refresh_token;
  };

  /** One flow, step by step; every step that the server answered is recorded before the next. */
  async function drive(flow: Flow, worker: number, guard: { stopped: boolean; onAnswer: () => void }) {
    const auth = await post(flow, 'authorize', '/device_authorization', { client_id: client.id, scope: SCOPES.join(' ') }, guard);
    guard.onAnswer();
    if (auth.status !== 200) return violation(flow, `device authorization answered ${auth.status}`);
    flow.deviceCode = auth.body.device_code;
    flow.userCode = auth.body.user_code;
    const pending = await poll(flow, 'poll', guard);
    guard.onAnswer();
    if (pending.body.error !== 'authorization_pending') violation(flow, `first poll answered ${JSON.stringify(pending.body)}`);
    if (guard.stopped) throw new Stopped();
    if (flow.plan === 'pending') return;
    flow.decisionUnacknowledged = true;
    if (flow.plan === 'deny') {
      await core.deviceFlow.deny(flow.userCode!, user.id);
      flow.decisionUnacknowledged = false;
      flow.denied = true;
      return;
    }
    // The person approves on the phone: acknowledged once this resolves.
    if (flow.throughPages) {
      await approveThroughPages(flow, worker, guard);
      report.approvalsThroughPages++;
    } else {
      await core.deviceFlow.approve(flow.userCode!, user.id, SCOPES);
    }
    flow.decisionUnacknowledged = false;
    flow.approved = true;
    report.acknowledgedApprovals++;
    const tokens = await poll(flow, 'redeem', guard);
    guard.onAnswer();
    if (tokens.status !== 200) return violation(flow, `redeeming an approved code answered ${JSON.stringify(tokens.body)}`);
    tookTokens(flow, tokens.body);
    for (let i = 0; i < flow.refreshes; i++) {
      const old = flow.refreshToken!;
      const res = await post(flow, 'refresh', '/token', { grant_type: 'refresh_token', refresh_token: old, client_id: client.id }, guard);
      guard.onAnswer();
      if (res.status !== 200) return violation(flow, `refresh answered ${JSON.stringify(res.body)}`);
      flow.rotated.push(old);
      flow.refreshToken = res.body.refresh_token;
    }
    if (flow.revoke) {
      const res = await post(flow, 'revoke', '/revoke', { token: flow.refreshToken!, client_id: client.id }, guard);
      guard.onAnswer();
      if (res.status !== 200) return violation(flow, `revoke answered ${res.status}`);
      flow.familyRevoked = true;
    }
  }

  /** Drive flows from `next` on; resolves when they are done or the server was killed. */
  async function runRound(killIndex: number | undefined, killDelay: number): Promise<void> {
    const guard = { stopped: false, onAnswer: () => {} };
    let killing: Promise<void> | undefined;
    let answersLeft = -1;
    const kill = () => {
      if (killing) return;
      guard.stopped = true;
      killing = (async () => {
        // Close this process's connection first, so the killed server is the last one
        // holding the WAL and the restart really recovers from a crash.
        store.close();
        await server.kill();
        report.kills++;
      })();
    };
    guard.onAnswer = () => {
      if (answersLeft > 0 && --answersLeft === 0) kill();
    };
    const worker = async (_: unknown, index: number) => {
      while (!guard.stopped && next < flows.length) {
        const flow = flows[next++]!;
        if (killIndex !== undefined && flow.index >= killIndex && answersLeft < 0) {
          answersLeft = killDelay;
          if (answersLeft === 0) kill();
        }
        try {
          await drive(flow, index, guard);
        } catch (err) {
          if (!(err instanceof Stopped)) {
            if (guard.stopped) {
              // An approval whose store was closed under it was never acknowledged.
              continue;
            }
            violation(flow, `unexpected failure: ${(err as Error).message}`);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    // Flows ran out before the delay did: kill now.
    if (killIndex !== undefined) kill();
    await killing;
  }

  /** What must hold after a restart (and at the end), checked over HTTP and the store. */
  async function verify(phase: string) {
    const guard = { stopped: false, onAnswer: () => {} };
    for (const flow of flows) {
      if (!flow.deviceCode) continue;
      const res = await poll(flow, 'poll', guard);
      const error = res.body.error;
      if (flow.redemptions > 0 || flow.spentUnseen) {
        if (res.status === 200) violation(flow, `${phase}: a redeemed device code was redeemed again`);
        else if (error !== 'invalid_grant') violation(flow, `${phase}: a redeemed device code answered ${error}`);
      } else if (flow.approved) {
        if (res.status === 200) {
          tookTokens(flow, res.body);
          report.redeemedAfterRestart++;
        } else if (flow.cut === 'redeem' && error === 'invalid_grant') {
          // The redemption committed but its answer was cut by the kill: spent, never twice.
          flow.spentUnseen = true;
        } else {
          violation(flow, `${phase}: an acknowledged approval was lost (${error})`);
        }
      } else if (flow.decisionUnacknowledged) {
        // Nobody was told either way, so any decision (or none) is right; only its tokens count.
        if (res.status === 200) tookTokens(flow, res.body);
      } else if (flow.denied) {
        if (error !== 'access_denied') violation(flow, `${phase}: an acknowledged denial answered ${res.status} ${error}`);
      } else if (error !== 'authorization_pending' && error !== 'slow_down') {
        violation(flow, `${phase}: an undecided code answered ${res.status} ${error}`);
      }
      if (flow.grantId) {
        const record = await core.deviceFlow.findByDeviceCode(flow.deviceCode);
        if (record?.status !== 'redeemed' || record.grantId !== flow.grantId) {
          violation(flow, `${phase}: the code's stored grant is not the one its tokens carry`);
        }
      }
      if (flow.cut === 'refresh' || flow.cut === 'revoke') flow.familyUncertain = true;
      await verifyFamily(flow, phase, guard);
    }
  }

  async function verifyFamily(flow: Flow, phase: string, guard: { stopped: boolean }) {
    if (!flow.refreshToken || flow.familyUncertain) return;
    const refresh = (token: string) =>
      post(flow, 'refresh', '/token', { grant_type: 'refresh_token', refresh_token: token, client_id: client.id }, guard);
    if (flow.familyRevoked) {
      const res = await refresh(flow.refreshToken);
      report.revocationsChecked++;
      if (res.status === 200) violation(flow, `${phase}: a refresh token of a revoked family still works`);
      return;
    }
    if (flow.rotated.length === 0) return;
    // The newest token must work (its rotation was acknowledged, so it must have survived)…
    const current = await refresh(flow.refreshToken);
    if (current.status !== 200) return violation(flow, `${phase}: the current refresh token was lost (${current.body.error})`);
    flow.rotated.push(flow.refreshToken);
    flow.refreshToken = current.body.refresh_token;
    // …and a rotated one must not; its reuse ends the family (RFC 9700 §4.14.2).
    const reused = await refresh(flow.rotated[0]!);
    report.rotationsChecked++;
    if (reused.status === 200) violation(flow, `${phase}: a refresh token was usable after its rotation`);
    const after = await refresh(flow.refreshToken!);
    if (after.status === 200) violation(flow, `${phase}: reuse of a rotated refresh token did not end the family`);
    flow.familyRevoked = true;
  }

  let next = 0;
  try {
    for (let k = 0; k < killPoints.length; k++) {
      await runRound(killPoints[k], killDelays[k]!);
      const restarted = Date.now();
      server = await startChildServer(dataDir);
      report.restartMs.push(Date.now() - restarted);
      await reopen();
      integrity();
      await verify(`after kill ${k + 1}`);
      log(`kill ${k + 1}/${killPoints.length} at flow ${killPoints[k]}: ${next} flows started, ${report.violations.length} violations`);
    }
    await runRound(undefined, 0);
    await verify('at the end');
    await server.stop();
    integrity();
  } finally {
    await server.kill();
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  report.durationMs = Date.now() - started;
  return report;
}
