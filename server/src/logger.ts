import { pino, type Logger } from 'pino';

/**
 * Every field name under which a secret could travel. pino censors them wherever
 * they appear one level deep in a log object; code never logs request bodies,
 * query strings or headers whole, so nothing else can carry one.
 */
const SECRET_FIELDS = [
  'password',
  'client_secret',
  'clientSecret',
  'device_code',
  'deviceCode',
  'user_code',
  'userCode',
  'access_token',
  'refresh_token',
  'code',
  'code_verifier',
  'token',
  'authorization',
  'cookie',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'kalm' },
      redact: { paths: [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`)], censor: '[redacted]' },
    },
    destination ?? process.stdout,
  );
}

export type { Logger };
