import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Test files that run a second time on PostgreSQL (the `postgres` project): every flow a user
 * reaches over HTTP, the pages, push and MQTT, and the operating tools (admin CLI, dashboard,
 * metrics), through the same tests as on SQLite. Files that read the SQLite file itself, spawn
 * servers on a data dir of their own, or open no database at all stay SQLite-only; the
 * PostgreSQL store's own contract tests (test/store/) run both engines in one file.
 */
const ON_POSTGRES = [
  'test/http/*.test.ts',
  'test/authcode/*.test.ts',
  'test/push/push.test.ts',
  'test/push/limits.test.ts',
  'test/mqtt/flow.test.ts',
  'test/mqtt/device-client.test.ts',
  'test/browser/verify.test.ts',
  'test/reliability/races.test.ts',
  'test/reliability/brute-force.test.ts',
  'test/reliability/secrets-hygiene.test.ts',
  'test/device-client/flow.test.ts',
  // Operating it (issue 15): the admin CLI beside a running server, the dashboard, the metrics.
  'test/cli/*.test.ts',
  'test/admin/dashboard.test.ts',
  'test/metrics/config.test.ts',
  'test/metrics/metrics.test.ts',
  'test/metrics/mqtt.test.ts',
  'test/metrics/push.test.ts',
  // The audit trail of those flows, read back by `kalm audit` and scanned for secrets, on each engine
  // (crash.test.ts kills `kalm serve` on a data dir of its own; unreachable.test.ts starts its own cluster).
  'test/audit/cli.test.ts',
  'test/audit/events.test.ts',
  'test/audit/retention.test.ts',
  'test/audit/secrets.test.ts',
];
const SQLITE_ONLY = [
  // Read the SQLite file or its rows directly.
  'test/http/storage-at-rest.test.ts',
  'test/authcode/authorize.test.ts',
  // Open no database at all (`kalm help`, usage errors, the form parser): nothing there differs between engines.
  'test/cli/help.test.ts',
  'test/http/form-urlencoded.test.ts',
  // The SQLite file's own WAL.
  'test/store/wal-checkpoint.test.ts',
  // Spawn `kalm serve` on data dirs of their own (DATA_DIR only).
  'test/http/default-public-url.test.ts',
  'test/http/dpop-cross-process.test.ts',
  'test/http/trust-proxy.test.ts',
];

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    // At least two test files at a time (vitest's default is CPUs − 1: one at a time on 2 CPUs;
    // bigger machines keep that default). Most files wait far more than they compute (child
    // processes, Chromium, PostgreSQL, mosquitto, 200 ms feed ticks), so a second file fills the
    // wait: the 47 files of test/cli, admin, metrics, cluster, device-client and http/cli* on both
    // projects took 387 s with one worker, 223 s with two, 230 s with three, on 2 shared CPUs
    // (the same CPU time each).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 20_000,
    hookTimeout: 30_000,
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ON_POSTGRES,
          exclude: SQLITE_ONLY,
          globalSetup: ['test/global-setup.ts', 'test/postgres-setup.ts'],
          env: { KALM_TEST_ENGINE: 'postgres' },
        },
      },
    ],
  },
});
