#!/usr/bin/env node
// The `kalm` command. The server is TypeScript run through tsx, so there is no build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/index.ts');
await runCli(process.argv.slice(2));
