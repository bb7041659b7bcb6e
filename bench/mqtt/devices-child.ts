/**
 * The device side of bench/mqtt-flows.ts, in a process of its own so device crypto does not
 * share the server's event loop. `FLOWS` flows over `CONNECTIONS` MQTT 3.1.1 connections, each
 * flow with its own ephemeral P-256 key and rid, exactly as firmware would run it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, compactDecrypt, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { connect, type MqttClient } from 'mqtt';

export type ToParent =
  | { type: 'authorized'; rid: string; userCode: string }
  | { type: 'token'; rid: string; at: number }
  | { type: 'failed'; rid: string; error: string }
  | { type: 'ready' };
export type ToChild = { type: 'clock'; serverNowMs: number };

const url = process.env.BROKER_URL!;
const clientId = process.env.CLIENT_ID!;
const flows = Number(process.env.FLOWS);
const connections = Number(process.env.CONNECTIONS);
const prefix = 'kalm/v1';
const now = () => performance.timeOrigin + performance.now();
const send = (m: ToParent): void => {
  process.send!(m);
};

interface Flow {
  rid: string;
  jwk: JWK;
  sign: CryptoKey;
  decrypt: CryptoKey;
  client: MqttClient;
}

async function newFlow(client: MqttClient): Promise<Flow> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const { kty, crv, x, y } = await exportJWK(publicKey);
  const decrypt = (await importJWK({ ...(await exportJWK(privateKey)), alg: undefined }, 'ECDH-ES+A256KW')) as CryptoKey;
  return { rid: randomBytes(16).toString('base64url'), jwk: { kty, crv, x, y } as JWK, sign: privateKey, decrypt, client };
}

const byRid = new Map<string, Flow>();

async function onMessage(topic: string, payload: Buffer): Promise<void> {
  const [, , , rid, ...rest] = topic.split('/');
  const flow = byRid.get(rid!);
  if (!flow) return;
  const tail = rest.join('/');
  if (tail === 'authorize/accepted') {
    send({ type: 'authorized', rid: flow.rid, userCode: JSON.parse(payload.toString()).user_code });
  } else if (tail === 'status') {
    const { status } = JSON.parse(payload.toString());
    if (status !== 'approved') return send({ type: 'failed', rid: flow.rid, error: `status ${status}` });
    const proof = await new SignJWT({ rid: flow.rid, jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuedAt()
      .sign(flow.sign);
    flow.client.publish(`${prefix}/device/${flow.rid}/token`, proof, { qos: 1 });
  } else if (tail === 'token/accepted') {
    const { plaintext } = await compactDecrypt(payload.toString(), flow.decrypt);
    const body = JSON.parse(new TextDecoder().decode(plaintext));
    if (typeof body.access_token !== 'string') return send({ type: 'failed', rid: flow.rid, error: 'no access_token' });
    send({ type: 'token', rid: flow.rid, at: now() });
  } else if (tail.endsWith('/rejected')) {
    send({ type: 'failed', rid: flow.rid, error: `${tail}: ${payload.toString()}` });
  }
}

const clients: MqttClient[] = [];
for (let i = 0; i < connections; i++) {
  const client = connect(url, { protocolVersion: 4, clientId: `bench-device-${i}-${randomUUID()}`, reconnectPeriod: 0 });
  client.on('message', (topic, payload) => onMessage(topic, payload).catch((err) => console.error('device error', err)));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => {
      (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      resolve();
    });
    client.once('error', reject);
  });
  clients.push(client);
}
send({ type: 'ready' });

await Promise.all(
  Array.from({ length: flows }, async (_, i) => {
    const client = clients[i % connections]!;
    const flow = await newFlow(client);
    byRid.set(flow.rid, flow);
    await client.subscribeAsync(`${prefix}/device/${flow.rid}/#`, { qos: 1 });
    await client.publishAsync(`${prefix}/device/${flow.rid}/authorize`, JSON.stringify({ client_id: clientId, jwk: flow.jwk }), { qos: 1 });
  }),
);

process.on('message', (m: ToChild | { type: 'exit' }) => {
  if (m.type === 'exit') {
    for (const c of clients) c.end(true);
    process.exit(0);
  }
});
