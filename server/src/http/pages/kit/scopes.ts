/** How the pages show a scope: its catalogue entry, or its bare name when the catalogue has none. */
import type { Core } from '../../../core/index.js';
import type { ScopeDefinition } from '../../../core/scopes.js';

/** The catalogue's description of `name`, or the name itself with no permissions listed. */
export function describeScope(core: Core, name: string): ScopeDefinition {
  return core.catalog.get(name) ?? { name, description: name, permissions: [] };
}
