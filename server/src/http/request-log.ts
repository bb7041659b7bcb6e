/**
 * The request log line, the same for both HTTP stacks: method, path (never the query string,
 * which may carry a user code), status and time, at debug level.
 */
import type { Logger } from '../logger.js';

/** When a request started, or undefined when the debug level is off and no line will be written. */
export function requestStart(logger: Logger): bigint | undefined {
  return logger.isLevelEnabled('debug') ? process.hrtime.bigint() : undefined;
}

/** Write the line of a request answered with `status`, which started at `start` (see `requestStart`). */
export function logRequest(logger: Logger, method: string | undefined, path: string, status: number, start: bigint): void {
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  logger.debug({ method, path, status, ms: Math.round(ms * 10) / 10 }, 'request');
}
