import { readFileSync } from 'node:fs';
import { OAuthError } from './errors.js';

/** One entry of the scope catalogue, as the consent page shows it. */
export interface ScopeDefinition {
  name: string;
  description: string;
  permissions: string[];
}

export interface ScopeCatalog {
  readonly scopes: readonly ScopeDefinition[];
  has(name: string): boolean;
  get(name: string): ScopeDefinition | undefined;
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Load the catalogue from a JSON file `{ "scopes": [...] }`, or the built-in JustKalm one. */
export function loadScopeCatalog(file?: string): ScopeCatalog {
  const raw: unknown = JSON.parse(readFileSync(file ?? new URL('./scope-catalog.json', import.meta.url), 'utf8'));
  const list = (raw as { scopes?: unknown }).scopes;
  if (!Array.isArray(list) || list.length === 0) throw new Error('scope catalogue: "scopes" must be a non-empty array');
  const scopes = list.map((entry, i): ScopeDefinition => {
    const { name, description, permissions } = entry as Partial<ScopeDefinition>;
    if (typeof name !== 'string' || !SCOPE_TOKEN.test(name)) throw new Error(`scope catalogue: scopes[${i}].name is not a scope token`);
    if (typeof description !== 'string') throw new Error(`scope catalogue: scopes[${i}].description must be a string`);
    if (!Array.isArray(permissions) || !permissions.every((p) => typeof p === 'string')) {
      throw new Error(`scope catalogue: scopes[${i}].permissions must be an array of strings`);
    }
    return { name, description, permissions };
  });
  const byName = new Map(scopes.map((s) => [s.name, s]));
  return { scopes, has: (name) => byName.has(name), get: (name) => byName.get(name) };
}

/**
 * Parse an RFC 6749 §3.3 scope parameter into its distinct tokens, in order.
 * Undefined or empty gives an empty list.
 */
export function parseScope(scope: string | undefined): string[] {
  if (scope === undefined) return [];
  const tokens = scope.split(' ').filter((t) => t !== '');
  for (const t of tokens) {
    if (!SCOPE_TOKEN.test(t)) throw new OAuthError('invalid_scope', 'scope contains characters RFC 6749 section 3.3 does not allow');
  }
  return [...new Set(tokens)];
}

export function formatScope(scopes: readonly string[]): string {
  return scopes.join(' ');
}

/**
 * The scopes a client may be given: each requested one must be in the catalogue and
 * allowed for the client. Nothing requested means the client's allowed scopes.
 */
export function resolveRequestedScope(requested: string | undefined, allowed: readonly string[], catalog: ScopeCatalog): string[] {
  const scopes = parseScope(requested);
  if (scopes.length === 0) return [...allowed];
  for (const s of scopes) {
    if (!catalog.has(s)) throw new OAuthError('invalid_scope', `unknown scope "${s}"`);
    if (!allowed.includes(s)) throw new OAuthError('invalid_scope', `scope "${s}" is not allowed for this client`);
  }
  return scopes;
}

/** True when every scope of `subset` is in `superset`. */
export function isSubset(subset: readonly string[], superset: readonly string[]): boolean {
  return subset.every((s) => superset.includes(s));
}
