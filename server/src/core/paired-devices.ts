import { GRANT_TYPES, type ClientService } from './clients.js';
import type { TokenService } from './tokens.js';
import type { Clock } from './clock.js';
import type { GrantRepository } from '../store/port/index.js';

/** One device paired to a person's account through the device flow, as "My devices" lists it. */
export interface PairedDevice {
  grantId: string;
  clientId: string;
  clientName: string;
  /** The name the person gave it, if any. */
  deviceName: string | null;
  scopes: string[];
  approvedAt: number;
  lastUsedAt: number | null;
  requestUserAgent: string | null;
}

export const MAX_DEVICE_NAME_LENGTH = 60;

/** The person's view of their device grants: list, rename, revoke. Every call is scoped to `userId`. */
export interface PairedDevices {
  list(userId: string): Promise<PairedDevice[]>;
  /** False when the grant is not a live device grant of this user. */
  rename(userId: string, grantId: string, name: string): Promise<boolean>;
  /** Revoke the grant (its whole refresh-token family) and tell the device; false when not this user's. */
  revoke(userId: string, grantId: string): Promise<boolean>;
}

export function createPairedDevices(deps: { grants: GrantRepository; clients: ClientService; tokens: TokenService }): PairedDevices {
  async function owned(userId: string, grantId: string) {
    if (grantId.length === 0 || grantId.length > 64) return undefined;
    const grant = await deps.grants.get(grantId);
    if (!grant || grant.userId !== userId || grant.revokedAt !== null || grant.origin !== GRANT_TYPES.deviceCode) return undefined;
    return grant;
  }
  return {
    async list(userId) {
      const grants = (await deps.grants.listByUser(userId)).filter((g) => g.origin === GRANT_TYPES.deviceCode && g.revokedAt === null);
      const names = new Map<string, string>();
      for (const g of grants) {
        if (!names.has(g.clientId)) names.set(g.clientId, (await deps.clients.get(g.clientId))?.name ?? g.clientId);
      }
      return grants.map((g) => ({
        grantId: g.id,
        clientId: g.clientId,
        clientName: names.get(g.clientId)!,
        deviceName: g.deviceName,
        scopes: g.scopes,
        approvedAt: g.createdAt,
        lastUsedAt: g.lastUsedAt,
        requestUserAgent: g.requestUserAgent,
      }));
    },
    async rename(userId, grantId, name) {
      if (!(await owned(userId, grantId))) return false;
      // Control characters would only make trouble in logs and the CLI; the page escapes the rest.
      const clean = name.replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, MAX_DEVICE_NAME_LENGTH);
      await deps.grants.rename(grantId, clean);
      return true;
    },
    async revoke(userId, grantId) {
      if (!(await owned(userId, grantId))) return false;
      return deps.tokens.revokeGrant(grantId);
    },
  };
}
