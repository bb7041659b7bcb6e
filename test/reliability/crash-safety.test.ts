import { describe, expect, it } from 'vitest';
import { runCrashScenario } from './support/crash-run.js';
import { chooseSeed } from './support/random.js';

// The short version of bench/crash.ts: 100 flows, 2 SIGKILLs of a child-process server
// (about 10 s on an idle machine; the long run is `node --import tsx bench/crash.ts`).
// Replay a failure with KALM_SEED=<printed seed>.
describe('crash safety: SIGKILL of the server under load', () => {
  it('loses no acknowledged approval, rotation or revocation, never redeems a code twice, and keeps the database intact', async () => {
    const seed = chooseSeed();
    console.log(`crash-safety seed ${seed} (replay with KALM_SEED=${seed})`);
    const report = await runCrashScenario({ flows: 100, kills: 2, seed });
    expect(report.violations).toEqual([]);
    expect(report.kills).toBe(2);
    expect(report.integrityChecks).toBe(3);
    expect(report.acknowledgedApprovals).toBeGreaterThan(50);
    // Half the approvals go through the verification page's forms, so the killed server itself committed them.
    expect(report.approvalsThroughPages).toBeGreaterThan(10);
    expect(report.rotationsChecked).toBeGreaterThan(0);
  }, 120_000);
});
