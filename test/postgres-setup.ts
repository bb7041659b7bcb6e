// The postgres project's global setup: one private PostgreSQL cluster for the whole run (about
// 1 s to start), removed at the end. Each test server creates its own database on it
// (test/helpers/engine.ts).
import type { TestProject } from 'vitest/node';
import { startPostgres, type PrivatePostgres } from './helpers/postgres.js';

let cluster: PrivatePostgres | undefined;

export async function setup(project: TestProject): Promise<void> {
  cluster = await startPostgres({ maxConnections: 400 });
  project.provide('kalmPostgresUrl', cluster.url());
}

export async function teardown(): Promise<void> {
  await cluster?.dispose();
}
