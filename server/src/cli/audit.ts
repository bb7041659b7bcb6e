/** `kalm audit`: the audit trail (core/audit.ts), newest first, as an operator reads it. */
import { AUDIT_EVENT_TYPES, AUDIT_MAX_LIMIT, auditFamilies, auditTypesOf } from '../core/audit.js';
import type { AuditEventRecord } from '../store/port/index.js';
import { parseCommand, printJson, printTable, time, UsageError, withCore, type CliCommand } from './kit.js';

const DEFAULT_LIMIT = 100;
const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `--since`: a duration back from now (`90s`, `15m`, `1h`, `7d`, `2w`) or a date and time
 * (`2026-01-31`, `2026-01-31T08:00:00Z`); the time from which events are listed, ms.
 */
export function parseSince(value: string, now: number): number {
  const duration = /^(\d+)([smhdw])$/.exec(value);
  if (duration) return now - Number(duration[1]) * UNITS[duration[2]!]!;
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) throw new UsageError(`--since takes a duration (30m, 1h, 7d) or a date and time (2026-01-31T08:00:00Z), got "${value}"`);
  return at;
}

/** Who acted, in one word: `alice`, `client:tv-app`, `cli:root`, `system`. */
function actorOf(e: AuditEventRecord): string {
  if (e.actorType === 'user') return e.actorName ?? e.actorId ?? 'unknown user';
  if (e.actorType === 'client') return `client:${e.actorId}`;
  if (e.actorType === 'cli') return e.actorName ? `cli:${e.actorName}` : 'cli';
  return 'system';
}

function detailsOf(e: AuditEventRecord): string {
  const parts = Object.entries(e.details).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  return parts.length > 0 ? parts.join(' ') : '-';
}

const audit: CliCommand = {
  usage: 'kalm audit [--since 1h] [--user USERNAME] [--client CLIENT_ID] [--type TYPE] [--limit N] [--json]',
  summary: 'the audit trail, newest first',
  help: `The audit trail, newest first: who did what, when, from which address. --since lists events from a
duration ago (90s, 15m, 1h, 7d, 2w) or from a date and time (2026-01-31T08:00:00Z); --user those about
or by an account (also one deleted since, by the username recorded); --client those of one client;
--type one type or a family of them; --limit at most N events (default ${DEFAULT_LIMIT}, at most ${AUDIT_MAX_LIMIT}). Several filters
must all match. --json prints the events as recorded (times in ms since the epoch).
Types: ${AUDIT_EVENT_TYPES.join(', ')}.
Families: ${auditFamilies().join(', ')}.
Events are kept AUDIT_RETENTION_DAYS days (default 90). No secret is ever recorded: no device or user
code, token, client secret or password, nor a hash of one.`,
  async run(args, config) {
    const { values } = parseCommand(args, {
      since: { type: 'string' },
      user: { type: 'string' },
      client: { type: 'string' },
      type: { type: 'string' },
      limit: { type: 'string' },
    });
    if (values.type !== undefined && !auditTypesOf(values.type)) {
      throw new UsageError(`--type "${values.type}" is none of the types or families: ${[...auditFamilies(), ...AUDIT_EVENT_TYPES].join(', ')}`);
    }
    // The trail returns at most AUDIT_MAX_LIMIT events: a larger --limit is refused, not cut short unsaid.
    if (values.limit !== undefined && !(/^[1-9]\d{0,4}$/.test(values.limit) && Number(values.limit) <= AUDIT_MAX_LIMIT)) {
      throw new UsageError(`--limit takes a whole number from 1 to ${AUDIT_MAX_LIMIT}`);
    }
    const events = await withCore(config, async (core) => {
      const since = values.since === undefined ? undefined : parseSince(values.since, core.clock.now());
      // An account that exists is matched by its id (its events whatever name was recorded);
      // one deleted since, by the username recorded with its events.
      const account = values.user === undefined ? undefined : await core.users.getByUsername(values.user);
      return core.audit.recent({
        ...(since !== undefined && { since }),
        ...(account ? { userId: account.id } : values.user !== undefined && { username: values.user }),
        ...(values.client !== undefined && { clientId: values.client }),
        ...(values.type !== undefined && { type: values.type }),
        limit: values.limit === undefined ? DEFAULT_LIMIT : Number(values.limit),
      });
    });
    if (values.json) return printJson(events);
    printTable(
      ['TIME', 'TYPE', 'ACTOR', 'USER', 'CLIENT', 'ADDRESS', 'SCOPES', 'DETAILS'],
      events.map((e) => [
        time(e.at),
        e.type,
        actorOf(e),
        e.username ?? e.userId ?? '-',
        e.clientId ?? '-',
        e.ip ?? '-',
        e.scopes?.join(' ') || '-',
        detailsOf(e),
      ]),
      'no audit events',
    );
  },
};

export const auditCommands: Record<string, CliCommand> = {
  audit,
};
