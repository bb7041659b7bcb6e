#!/usr/bin/env node
// The `kalm-device` command, run from the built package (dist/), so it needs nothing but Node.
import { main } from '../dist/node/cli.js';

process.exitCode = await main(process.argv.slice(2));
