// The TV demo's script: the browser build of @kalm/device-client driving a pairing
// screen. Configuration comes from data-* attributes on <body> (the CSP allows no inline script).
// Tokens are DPoP-bound (RFC 9449) to a non-extractable key kept, with the pairing, in
// IndexedDB: a reload stays signed in, and the key never leaves the browser.
import { accessTokenClaims } from '../../device-client/src/claims.js';
import { createDpop, type Dpop } from '../../device-client/src/dpop.js';
import {
  AccessDeniedError,
  ExpiredTokenError,
  getAccessToken,
  MemoryTokenStore,
  OAuthResponseError,
  PairingLostError,
  startDeviceAuthorization,
  type DeviceAuthorization,
  type Pairing,
} from '../../device-client/src/index.js';
import { IndexedDbTokenStore } from '../../device-client/src/indexeddb.js';
import { runtimePush, watchPairing } from '../../device-client/src/push.js';
import { qrSvg } from '../../device-client/src/qr.js';

const body = document.body;
const { issuer = location.origin, clientId = 'tv-demo', scope } = body.dataset;
const descriptions = JSON.parse(body.dataset.scopes || '{}') as Record<string, string>;
// A runtime without IndexedDB keeps the pairing (and the key) for the life of the page only.
const store = 'indexedDB' in globalThis ? new IndexedDbTokenStore() : new MemoryTokenStore();
// WebCrypto needs a secure context (https, or localhost): elsewhere the page pairs with
// Bearer tokens, and says so on the signed-in screen.
let dpop: Dpop | undefined;
// The page's WebSocket as the push channel: approval and revocation are told at once.
const push = runtimePush();
const el = (id: string) => document.getElementById(id)!;

type View = 'pairing' | 'signed-in' | 'message';
function show(view: View): void {
  for (const id of ['pairing', 'signed-in', 'message'] as const) el(id).hidden = id !== view;
  body.dataset.state = view;
}

function live(text: string): void {
  el('live-text').textContent = text;
}

function message(title: string, text: string): void {
  el('message-title').textContent = title;
  el('message-text').textContent = text;
  live(title);
  show('message');
}

let stopCountdown = () => {};
function countdown(auth: DeviceAuthorization): void {
  stopCountdown();
  const tick = () => {
    const left = Math.max(0, auth.expiresAt - Date.now());
    const s = Math.ceil(left / 1000);
    el('countdown').textContent = `Code expires in ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    el('progress').style.transform = `scaleX(${left / (auth.expiresIn * 1000)})`;
  };
  tick();
  const timer = setInterval(tick, 1000);
  stopCountdown = () => clearInterval(timer);
}

function signedIn(pairing: Pairing): void {
  const list = el('scopes');
  list.replaceChildren(
    ...pairing.scope.split(' ').filter(Boolean).map((name) => {
      const item = document.createElement('li');
      const code = document.createElement('code');
      code.textContent = name;
      item.append(code, descriptions[name] ?? '');
      return item;
    }),
  );
  el('who').textContent = 'Welcome! Your phone approved this TV.';
  // The server has no resource API for the demo to call, so the page shows what binds the
  // token instead: its type and the key thumbprint it names (cnf.jkt, RFC 9449 §6), which
  // must be this TV's own key. The push subscription below is the resource call: it sends
  // the token with a proof of that key.
  const jkt = (accessTokenClaims(pairing.accessToken)?.cnf as { jkt?: unknown } | undefined)?.jkt;
  el('token-type').textContent = `${pairing.tokenType} token`;
  el('binding-text').textContent = jkt === undefined ? 'not bound to a key' : jkt === dpop?.jkt ? 'bound to this TV’s key' : 'bound to another key';
  el('jkt').textContent = typeof jkt === 'string' ? jkt : '';
  body.dataset.tokenType = pairing.tokenType;
  live('Signed in');
  show('signed-in');
  // RFC 8628 leaves revocation to the server; Kalm pushes it, so the TV can sign out at once.
  watchPairing(store, {
    push: dpop ? dpop.push(push) : push,
    fetch: dpop?.fetch,
    onStatus: (status) => {
      body.dataset.watch = status;
      body.dataset.push = status === 'closed' ? 'closed' : 'open';
    },
    onRevoked: () => {
      message('Signed out', 'This TV was removed from your account. A new code follows in a moment.');
      setTimeout(pair, 5000);
    },
  });
}

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function pair(note?: string): Promise<void> {
  let auth: DeviceAuthorization;
  try {
    auth = await startDeviceAuthorization({ issuer, clientId, scope, store, push, fetch: dpop?.fetch });
  } catch (error) {
    message('Can’t reach the sign-in service', error instanceof OAuthResponseError ? error.description : 'Check the network; retrying…');
    await later(10_000);
    return pair();
  }
  el('user-code').textContent = auth.userCode;
  el('qr').innerHTML = qrSvg(auth, { margin: 2 });
  el('short-url').textContent = auth.verificationUri.replace(/^https?:\/\//, '');
  body.dataset.verificationUriComplete = auth.verificationUriComplete ?? auth.verificationUri;
  live(note ?? 'Waiting for your phone');
  countdown(auth);
  show('pairing');
  try {
    const pairing = await auth.wait({
      onStatus(status) {
        if (status.type === 'push') {
          body.dataset.push = status.status === 'closed' ? 'closed' : 'open';
          if (status.status === 'approved') live('Approved, signing in…');
        } else if (status.type === 'retry') {
          live('Connection lost, retrying…');
        } else {
          live('Waiting for your phone');
        }
      },
    });
    stopCountdown();
    signedIn(pairing);
  } catch (error) {
    stopCountdown();
    if (error instanceof ExpiredTokenError) return pair('The code expired, here is a new one');
    if (error instanceof AccessDeniedError) message('Sign-in declined', 'Nothing was shared. A new code follows in a moment.');
    else message('Something went wrong', error instanceof OAuthResponseError ? error.description : String(error));
    await later(10_000);
    return pair();
  }
}

// A reload: the pairing in IndexedDB is still good (refreshed, with a proof of the same key,
// when its access token is stale) unless the server refuses it.
async function resume(): Promise<void> {
  dpop = await createDpop(store).catch(() => undefined);
  const pairing = await store.load().catch(() => undefined);
  if (!pairing) return pair();
  try {
    await (dpop ? dpop.getAccessToken() : getAccessToken(store));
  } catch (error) {
    if (error instanceof PairingLostError) return pair();
  }
  signedIn((await store.load()) ?? pairing);
}

void resume();
