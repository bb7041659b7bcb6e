#!/usr/bin/env node
// The `kalm-device` command. The package is TypeScript run through tsx, like the server's `kalm`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/node/cli.ts');
process.exitCode = await main(process.argv.slice(2));
