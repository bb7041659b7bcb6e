import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { BENCH_DIR } from '../lib/processes.js';
import type { Scenario, ScenarioResult } from '../lib/scenario.js';

const run = promisify(execFile);

/**
 * The device-client bundle sizes (bench/bundle-size.ts, the device-client issue's script),
 * run in its own process so the figures sit in the same report as the load runs.
 */
export const bundleSize: Scenario = {
  name: 'bundle-size',
  title: 'device-client bundle sizes (minified, gzip)',
  async run(): Promise<ScenarioResult> {
    const base = { scenario: 'bundle-size', title: bundleSize.title, variants: [] };
    const script = `${BENCH_DIR}bundle-size.ts`;
    if (!existsSync(script)) return { ...base, notes: [], skipped: 'bench/bundle-size.ts is not there yet' };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', script], { cwd: `${BENCH_DIR}..`, timeout: 120_000 });
    return { ...base, notes: [`\n${stdout.trimEnd()}`], extra: { output: stdout } };
  },
};
