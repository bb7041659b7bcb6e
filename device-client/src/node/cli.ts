/**
 * `kalm-device`: the device flow for terminal devices (a Raspberry Pi, a set-top box
 * shell, a headless box over SSH).
 *
 *   kalm-device login --issuer URL --client-id ID [--scope "…"] [--store FILE] [--print-tokens] [--no-push]
 *   kalm-device token [--store FILE] [--force] [--client-secret S]
 *   kalm-device logout [--store FILE]
 */
import { parseArgs } from 'node:util';
import { accessTokenClaims } from '../claims.js';
import { clientSecretBasic } from '../client-secret.js';
import { startDeviceAuthorization, type DeviceAuthorization } from '../device-authorization.js';
import { AbortedError, AccessDeniedError, ExpiredTokenError, OAuthResponseError, PairingLostError } from '../errors.js';
import { getAccessToken } from '../tokens.js';
import { qrTerminal } from '../qr.js';
import { bigText } from './big-text.js';
import { defaultPairingFile, FileTokenStore } from './file-store.js';
import { nodePush } from './index.js';

/**
 * Exit codes, distinct per outcome so scripts can branch on them. Ctrl-C and SIGTERM end
 * `login` with the shell's 128 + signal number.
 */
export const EXIT = { ok: 0, error: 1, usage: 2, denied: 3, expired: 4, notPaired: 5, aborted: 130, terminated: 143 } as const;

const USAGE = `Usage:
  kalm-device login --issuer URL --client-id ID [--scope "a b"] [--client-secret S]
                    [--store FILE] [--print-tokens] [--no-push]
  kalm-device token [--store FILE] [--force] [--client-secret S]
  kalm-device logout [--store FILE]

The pairing is kept in --store, else $KALM_DEVICE_STORE, else ${defaultPairingFile()}.
Exit codes: 0 ok, 1 error, 2 usage, 3 denied, 4 expired, 5 not paired (run login),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).`;

const OPTIONS = {
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  scope: { type: 'string' },
  store: { type: 'string' },
  'print-tokens': { type: 'boolean' },
  'no-push': { type: 'boolean' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const out = (text = '') => process.stdout.write(`${text}\n`);
const err = (text: string) => process.stderr.write(`kalm-device: ${text}\n`);
const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[22m` : text);

function formatRemaining(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function showPairingScreen(auth: DeviceAuthorization): void {
  out();
  out(qrTerminal(auth));
  out();
  out(`Scan the code with your phone, or open ${bold(auth.verificationUri)} and enter:`);
  out();
  out(bigText(auth.userCode).replace(/^/gm, '  '));
  out();
  out(`Code: ${auth.userCode}`);
}

/** A countdown on one line, rewritten every second on a terminal; one line per minute otherwise. */
function startCountdown(auth: DeviceAuthorization): () => void {
  let lastMinute = -1;
  const tick = () => {
    const left = auth.expiresAt - Date.now();
    if (process.stdout.isTTY) {
      process.stdout.write(`\r\x1b[2KWaiting for approval… expires in ${formatRemaining(left)}`);
    } else if (Math.ceil(left / 60_000) !== lastMinute) {
      lastMinute = Math.ceil(left / 60_000);
      out(`Waiting for approval… expires in ${formatRemaining(left)}`);
    }
  };
  tick();
  const timer = setInterval(tick, 1000);
  return () => {
    clearInterval(timer);
    if (process.stdout.isTTY) process.stdout.write('\r\x1b[2K');
  };
}

/** The pairing file: `--store`, else `$KALM_DEVICE_STORE`, else the user's config dir. */
const storeOf = (values: Record<string, string | boolean | undefined>) => new FileTokenStore((values.store as string | undefined) ?? defaultPairingFile());

/** A confidential client's `fetch` (HTTP Basic), when `--client-secret` is given. */
function withSecret(clientId: string, values: Record<string, string | boolean | undefined>): typeof fetch | undefined {
  const secret = values['client-secret'];
  return typeof secret === 'string' ? clientSecretBasic(clientId, secret) : undefined;
}

async function login(values: Record<string, string | boolean | undefined>): Promise<number> {
  const issuer = values.issuer as string | undefined;
  const clientId = values['client-id'] as string | undefined;
  if (!issuer || !clientId) {
    err('login needs --issuer and --client-id');
    out(USAGE);
    return EXIT.usage;
  }
  const store = storeOf(values);
  // The first signal stops the wait (a pairing already being saved is saved whole, then
  // login ends 0); `once`, so a second one ends the process at once, as a shell user expects.
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => controller.abort(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let stopCountdown = () => {};
  try {
    const auth = await startDeviceAuthorization({
      issuer: issuer.replace(/\/+$/, ''),
      clientId,
      fetch: withSecret(clientId, values),
      scope: values.scope as string | undefined,
      store,
      push: values['no-push'] ? false : await nodePush(),
      signal: controller.signal,
    });
    showPairingScreen(auth);
    stopCountdown = startCountdown(auth);
    const pairing = await auth.wait({ signal: controller.signal });
    stopCountdown();
    const claims = accessTokenClaims(pairing.accessToken);
    out(`Signed in${typeof claims?.sub === 'string' ? ` as ${bold(claims.sub)}` : ''}.`);
    out(`Granted scopes: ${pairing.scope || '(none)'}`);
    out(`Pairing saved to ${store.file}`);
    if (values['print-tokens']) out(JSON.stringify(pairing, null, 2));
    return EXIT.ok;
  } catch (error) {
    stopCountdown();
    if (error instanceof AccessDeniedError) {
      err('the request was denied on the verification page');
      return EXIT.denied;
    }
    if (error instanceof ExpiredTokenError) {
      err('the code expired before anyone approved it; run login again');
      return EXIT.expired;
    }
    if (error instanceof AbortedError) {
      err(error.cause === 'SIGTERM' ? 'terminated' : 'interrupted');
      return error.cause === 'SIGTERM' ? EXIT.terminated : EXIT.aborted;
    }
    err(error instanceof OAuthResponseError ? `${error.error}: ${error.description}` : String((error as Error).message ?? error));
    return EXIT.error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function token(values: Record<string, string | boolean | undefined>): Promise<number> {
  const store = storeOf(values);
  try {
    const clientId = (await store.load())?.clientId;
    out(await getAccessToken(store, { force: Boolean(values.force), fetch: clientId ? withSecret(clientId, values) : undefined }));
    return EXIT.ok;
  } catch (error) {
    if (error instanceof PairingLostError) {
      err(`not paired (${error.description}): run kalm-device login`);
      return EXIT.notPaired;
    }
    err(error instanceof OAuthResponseError ? `${error.error}: ${error.description}` : String((error as Error).message ?? error));
    return EXIT.error;
  }
}

async function logout(values: Record<string, string | boolean | undefined>): Promise<number> {
  try {
    await storeOf(values).clear();
  } catch (error) {
    err(`could not forget the pairing: ${(error as Error).message}`);
    return EXIT.error;
  }
  out('Pairing forgotten.');
  return EXIT.ok;
}

/** Run the CLI with `argv` (without node and script); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    err((error as Error).message);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    out(USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  if (command === 'login') return login(values);
  if (command === 'token') return token(values);
  if (command === 'logout') return logout(values);
  err(`unknown command "${command}"`);
  out(USAGE);
  return EXIT.usage;
}
