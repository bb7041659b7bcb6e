/** Grants: what a person (or, for client credentials, the client itself) allowed one client. */
import { newId, type RandomSource } from './secrets.js';
import type { GrantRecord } from '../store/port/index.js';

/** What a new grant is made of; everything else starts empty (no device name, not revoked, unbound). */
export type NewGrant = Pick<GrantRecord, 'clientId' | 'userId' | 'scopes' | 'origin'> &
  Partial<Pick<GrantRecord, 'requestIp' | 'requestUserAgent' | 'dpopJkt'>>;

/** A grant made now, with a fresh 128-bit id (`kalm device revoke ID`: see newId), used as of now. */
export function newGrant(random: RandomSource, now: number, grant: NewGrant): GrantRecord {
  return {
    id: newId(random, 16),
    deviceName: null,
    requestIp: null,
    requestUserAgent: null,
    createdAt: now,
    lastUsedAt: now,
    revokedAt: null,
    dpopJkt: null,
    ...grant,
  };
}
