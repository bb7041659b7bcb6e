import type { Scenario } from '../lib/scenario.js';

export const approveToToken: Scenario = {
  name: 'approve-to-token',
  title: 'approve → device holds tokens, 10,000 idle waiting sockets',
  run: async () => ({ scenario: 'approve-to-token', title: approveToToken.title, variants: [], notes: [], skipped: 'TODO' }),
};
