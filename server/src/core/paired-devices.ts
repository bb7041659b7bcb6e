import { GRANT_TYPES, type ClientService } from './clients.js';
import type { AuditContext } from './audit.js';
import type { TokenService } from './tokens.js';
import type { Clock } from './clock.js';
import type { GrantRecord, GrantRepository, UserRepository } from '../store/port/index.js';

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

/** A paired device as an operator sees it (`kalm device list`): whose it is, and from where it asked. */
export interface OperatedDevice extends PairedDevice {
  userId: string | null;
  /** The account's username; null when the account is not a local one (a plugged-in authenticator). */
  username: string | null;
  requestIp: string | null;
}

export const MAX_DEVICE_NAME_LENGTH = 60;

/**
 * The person's view of their device grants (list, rename, revoke: each call scoped to `userId`),
 * and the operator's view of everyone's (listAll, find, revokeAny: `kalm device`).
 */
export interface PairedDevices {
  list(userId: string): Promise<PairedDevice[]>;
  /** False when the grant is not a live device grant of this user. */
  rename(userId: string, grantId: string, name: string): Promise<boolean>;
  /** Revoke the grant (its whole refresh-token family) and tell the device; false when not this user's. */
  revoke(userId: string, grantId: string, context?: AuditContext): Promise<boolean>;
  /** Every paired device of every person, newest first; of one user and/or one client when given. */
  listAll(filter?: { userId?: string; clientId?: string }): Promise<OperatedDevice[]>;
  /** A live paired device of anyone, by its grant id; undefined when unknown or revoked. */
  find(grantId: string): Promise<OperatedDevice | undefined>;
  /**
   * Revoke anyone's paired device, as an operator, and tell it as `revoke` does (`revoked` on
   * push, here and on every other server process on the database); false when unknown or revoked.
   */
  revokeAny(grantId: string, context?: AuditContext): Promise<boolean>;
}

export function createPairedDevices(deps: {
  grants: GrantRepository;
  users: Pick<UserRepository, 'get'>;
  clients: ClientService;
  tokens: TokenService;
}): PairedDevices {
  const isLiveDevice = (grant: GrantRecord | undefined): grant is GrantRecord =>
    grant !== undefined && grant.revokedAt === null && grant.origin === GRANT_TYPES.deviceCode;

  async function live(grantId: string) {
    if (grantId.length === 0 || grantId.length > 64) return undefined;
    const grant = await deps.grants.get(grantId);
    return isLiveDevice(grant) ? grant : undefined;
  }

  async function owned(userId: string, grantId: string) {
    const grant = await live(grantId);
    return grant?.userId === userId ? grant : undefined;
  }

  // Each client's (and account's) name read once per listing, however many devices share it.
  async function describe(grants: GrantRecord[]): Promise<OperatedDevice[]> {
    const clientNames = new Map<string, string>();
    const usernames = new Map<string, string | null>();
    for (const g of grants) {
      if (!clientNames.has(g.clientId)) clientNames.set(g.clientId, (await deps.clients.get(g.clientId))?.name ?? g.clientId);
      if (g.userId !== null && !usernames.has(g.userId)) usernames.set(g.userId, (await deps.users.get(g.userId))?.username ?? null);
    }
    return grants.map((g) => ({
      grantId: g.id,
      clientId: g.clientId,
      clientName: clientNames.get(g.clientId)!,
      deviceName: g.deviceName,
      scopes: g.scopes,
      approvedAt: g.createdAt,
      lastUsedAt: g.lastUsedAt,
      requestUserAgent: g.requestUserAgent,
      userId: g.userId,
      username: g.userId === null ? null : usernames.get(g.userId)!,
      requestIp: g.requestIp,
    }));
  }

  return {
    async list(userId) {
      const grants = (await deps.grants.listByUser(userId)).filter(isLiveDevice);
      // The person's own page shows what it always showed: no account, no address.
      return (await describe(grants)).map(({ userId: _u, username: _n, requestIp: _ip, ...device }) => device);
    },
    async rename(userId, grantId, name) {
      if (!(await owned(userId, grantId))) return false;
      // Control characters would only make trouble in logs and the CLI; the page escapes the rest.
      const clean = name.replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, MAX_DEVICE_NAME_LENGTH);
      await deps.grants.rename(grantId, clean);
      return true;
    },
    async revoke(userId, grantId, context = {}) {
      const grant = await owned(userId, grantId);
      if (!grant) return false;
      return deps.tokens.revokeGrant(grantId, { by: 'owner', ...context, grant });
    },
    async listAll(filter = {}) {
      return describe(await deps.grants.listLive({ origin: GRANT_TYPES.deviceCode, ...filter }));
    },
    async find(grantId) {
      const grant = await live(grantId);
      return grant && (await describe([grant]))[0];
    },
    async revokeAny(grantId, context = {}) {
      const grant = await live(grantId);
      if (!grant) return false;
      return deps.tokens.revokeGrant(grantId, { by: 'admin', ...context, grant });
    },
  };
}
