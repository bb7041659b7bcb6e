import { describe, expect, it } from 'vitest';
import { loadScopeCatalog, parseScope, resolveRequestedScope, isSubset } from '../../server/src/core/scopes.js';

const catalog = loadScopeCatalog();

describe('scopes (RFC 6749 §3.3)', () => {
  it('ships the six JustKalm scopes, each with a description and its permissions', () => {
    expect(catalog.scopes.map((s) => s.name)).toEqual([
      'valuate:read',
      'valuate:write',
      'webhooks:manage',
      'organization:read',
      'organization:admin',
      'billing:read',
    ]);
    for (const s of catalog.scopes) {
      expect(s.description.length).toBeGreaterThan(0);
      expect(s.permissions.length).toBeGreaterThan(0);
    }
  });

  it('parses a scope string into distinct tokens, ignoring extra spaces', () => {
    expect(parseScope('valuate:read  billing:read valuate:read')).toEqual(['valuate:read', 'billing:read']);
    expect(parseScope(undefined)).toEqual([]);
    expect(parseScope('')).toEqual([]);
  });

  it('refuses characters RFC 6749 §3.3 does not allow in a scope token', () => {
    for (const bad of ['a"b', 'a\\b', 'caf\u00e9', 'a\tb']) expect(() => parseScope(bad), bad).toThrow(/scope/);
  });

  it('checks requested scopes against the catalogue and the client, defaulting to what the client may have', () => {
    const allowed = ['valuate:read', 'billing:read'];
    expect(resolveRequestedScope(undefined, allowed, catalog)).toEqual(allowed);
    expect(resolveRequestedScope('billing:read', allowed, catalog)).toEqual(['billing:read']);
    expect(() => resolveRequestedScope('organization:admin', allowed, catalog)).toThrow(/not allowed/);
    expect(() => resolveRequestedScope('launch:missiles', allowed, catalog)).toThrow(/unknown scope/);
    expect(isSubset(['a'], ['a', 'b'])).toBe(true);
    expect(isSubset(['a', 'c'], ['a', 'b'])).toBe(false);
  });
});
