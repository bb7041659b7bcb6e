import type { VariantResult } from './alternate.js';
import { engineLabel, startOurs } from './engine.js';
import { startServerProcess, type ServerProcess } from './processes.js';

/** What one scenario reports: its side-by-side variants, plus anything it measured on its own. */
export interface ScenarioResult {
  scenario: string;
  title: string;
  variants: VariantResult[];
  notes: string[];
  /** Figures of a scenario that is not a side-by-side load run (approve-to-token). */
  extra?: unknown;
  /** One line for the table when the scenario is not a side-by-side run. */
  headline?: { server: string; p50: number; p99: number; text: string };
  /** Why the scenario did not run, if it did not. */
  skipped?: string;
}

export interface Scenario {
  name: string;
  title: string;
  run(): Promise<ScenarioResult>;
}

const OURS_SCRIPT = 'refs/ours.ts';

const SCRIPTS: Record<string, { script: string; env?: Record<string, string> }> = {
  ours: { script: OURS_SCRIPT },
  // Ours with the Prometheus metrics on and scraped (refs/ours.ts), beside ours: BENCH_METRICS=compare.
  'ours+metrics': { script: OURS_SCRIPT, env: { BENCH_METRICS: '1' } },
  'oidc-provider': { script: 'refs/oidc-provider.ts' },
  'node:http': { script: 'refs/bare-http.ts' },
};

export type ServerName = 'ours' | 'ours+metrics' | 'oidc-provider' | 'node:http';

const isOurs = (name: string) => SCRIPTS[name]?.script === OURS_SCRIPT;

/** How a server is named in the table: ours with its store and instance count (engine.ts), a reference as it is. */
export const serverLabel = (name: string): string => (isOurs(name) ? engineLabel(name) : name);

/**
 * Start the named servers (each in its own process; ours on the bench's store, engine.ts),
 * run `fn`, and stop them whatever happens.
 */
export async function withServers<T>(names: ServerName[], fn: (servers: ServerProcess[]) => Promise<T>): Promise<T> {
  const servers: ServerProcess[] = [];
  try {
    for (const name of names) {
      const { script, env } = SCRIPTS[name]!;
      servers.push(await (isOurs(name) ? startOurs : startServerProcess)(name, script, env));
    }
    return await fn(servers);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/** The client and scope each server was set up with for the benchmarks. */
export function benchForm(server: ServerProcess): Record<string, string> {
  return { client_id: 'bench', scope: server.name === 'oidc-provider' ? 'offline_access valuate:read' : 'valuate:read' };
}
