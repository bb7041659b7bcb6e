/** `kalm device list|revoke`: every person's paired devices (device flow grants), as an operator sees them. */
import { NotFoundError } from '../core/errors.js';
import { parseCommand, printJson, printTable, time, withCore, type CliCommand } from './kit.js';

const list: CliCommand = {
  usage: 'kalm device list [--user USERNAME] [--client CLIENT_ID] [--json]',
  help: `Every paired device (a grant of the device flow, not revoked), newest first, of one account
and/or one client when given: grant id, account, client, the name the person gave it, scopes, when it
was approved and last used, and the address and User-Agent it asked from. The grant id is what
kalm device revoke takes. --json prints the list.`,
  async run(args, config) {
    const { values } = parseCommand(args, { user: { type: 'string' }, client: { type: 'string' } });
    const devices = await withCore(config, async (core) => {
      const user = values.user === undefined ? undefined : await core.users.find(values.user);
      if (values.client !== undefined && !(await core.clients.get(values.client))) throw new NotFoundError(`no client "${values.client}"`);
      return core.pairedDevices.listAll({ ...(user && { userId: user.id }), ...(values.client !== undefined && { clientId: values.client }) });
    });
    if (values.json) return printJson(devices);
    printTable(
      ['GRANT_ID', 'USER', 'CLIENT', 'NAME', 'SCOPES', 'APPROVED', 'LAST_USED', 'ADDRESS', 'USER_AGENT'],
      devices.map((d) => [
        d.grantId,
        d.username ?? d.userId ?? '-',
        d.clientId,
        d.deviceName ?? '-',
        d.scopes.join(' '),
        time(d.approvedAt),
        time(d.lastUsedAt),
        d.requestIp ?? '-',
        d.requestUserAgent ?? '-',
      ]),
      'no paired devices',
    );
  },
};

const revoke: CliCommand = {
  usage: 'kalm device revoke GRANT_ID [--json]',
  help: `Revoke a paired device, as its owner can on My devices: its refresh tokens stop working at once,
its access tokens fail introspection, and a device listening on the push channel of any server process
on this database hears "revoked" (within 200 ms on SQLite, at once on PostgreSQL).
--json prints the device revoked.`,
  async run(args, config) {
    const { values, positionals } = parseCommand(args, {}, ['GRANT_ID']);
    const grantId = positionals[0]!;
    const device = await withCore(config, async (core) => {
      const found = await core.pairedDevices.find(grantId);
      if (!found || !(await core.pairedDevices.revokeAny(grantId))) throw new NotFoundError(`no paired device "${grantId}": revoked already, or never paired`);
      return found;
    });
    if (values.json) return printJson(device);
    console.log(`device ${device.grantId} (${device.deviceName ?? device.clientId} of ${device.username ?? device.userId ?? '-'}) revoked`);
  },
};

export const deviceCommands: Record<string, CliCommand> = {
  'device list': list,
  'device revoke': revoke,
};
