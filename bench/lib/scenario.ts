import type { VariantResult } from './alternate.js';
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

const SCRIPTS = {
  ours: 'refs/ours.ts',
  'oidc-provider': 'refs/oidc-provider.ts',
  'node:http': 'refs/bare-http.ts',
} as const;

export type ServerName = keyof typeof SCRIPTS;

/** Start the named servers (each in its own process), run `fn`, and stop them whatever happens. */
export async function withServers<T>(names: ServerName[], fn: (servers: ServerProcess[]) => Promise<T>): Promise<T> {
  const servers: ServerProcess[] = [];
  try {
    for (const name of names) servers.push(await startServerProcess(name, SCRIPTS[name]));
    return await fn(servers);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/** The client and scope each server was set up with for the benchmarks. */
export function benchForm(server: ServerProcess): Record<string, string> {
  return { client_id: 'bench', scope: server.name === 'oidc-provider' ? 'offline_access valuate:read' : 'valuate:read' };
}
