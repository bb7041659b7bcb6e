import { describe, expect, it } from 'vitest';
import { runClusterScenario } from './support/cluster-run.js';
import { chooseSeed } from './support/random.js';

// The short version of bench/cluster.ts (issue 14): two `kalm serve` instances on one private
// PostgreSQL (fsync on) behind a round-robin TCP proxy, 60 device flows through it (push,
// polling and MQTT devices; approvals and denials on the pages; rotations; revocations by the
// app and on My devices), two SIGKILLs of one instance while the other serves, then every
// acknowledged promise re-checked through a store on the database. Ten more flows put the device
// on one instance and the phone on the other. Replay a failure with KALM_SEED=<printed seed>.
describe('several instances on one PostgreSQL: SIGKILL of one while the other serves', () => {
  it('loses no acknowledged approval, rotation or revocation, never redeems a code twice, and tells devices on the other instance', async () => {
    const seed = chooseSeed();
    console.log(`cluster-crash seed ${seed} (replay with KALM_SEED=${seed})`);
    const report = await runClusterScenario({ instances: 2, flows: 60, kills: 2, seed, latencyFlows: 10 });
    expect(report.violations).toEqual([]);
    expect(report.lostApprovals).toBe(0);
    expect(report.doubleRedemptions).toBe(0);
    expect(report.kills).toBe(2);
    expect(report.restartMs).toHaveLength(2);
    expect(report.flowsCompleted).toBe(60);
    expect(report.completedByKind.push).toBeGreaterThan(0);
    expect(report.completedByKind.poll).toBeGreaterThan(0);
    expect(report.completedByKind.mqtt).toBeGreaterThan(0);
    expect(report.acknowledgedApprovals).toBeGreaterThan(30);
    expect(report.tokenSets + report.spentUnseen).toBeGreaterThanOrEqual(report.acknowledgedApprovals);
    expect(report.rotationsChecked).toBeGreaterThan(0);
    expect(report.revocationsChecked).toBeGreaterThan(0);
    // Two polls of one code back to back land on the two instances: the second is slow_down.
    expect(report.paceChecks).toBeGreaterThan(0);
    // Phone on one instance, device's push socket on the other: every one told.
    expect(report.eventLatency?.crossInstance.fromApprovalRequest.samples).toBe(10);
    // Both instances took connections through the proxy.
    expect(Object.keys(report.proxy.connections)).toHaveLength(2);
  }, 180_000);
});
