#!/usr/bin/env node
// The `kalm` command. The server is TypeScript run through tsx, so there is no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
