/**
 * The server under test for bench/push-latency.ts, in its own process so that its RSS
 * is its own. Configured from the environment like `kalm serve`; approves over IPC
 * (the stand-in for a person tapping Approve on the verification page).
 */
import { configFromEnv } from '../../server/src/config.js';
import { GRANT_TYPES } from '../../server/src/core/clients.js';
import { startServer } from '../../server/src/server.js';
import type { FromServer, ToServer } from './protocol.js';

const send = (message: FromServer) => process.send!(message);

const config = configFromEnv();
const server = await startServer(config);
const { client } = await server.core.clients.create({
  name: 'Push benchmark TV',
  type: 'public',
  grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken],
  scopes: ['valuate:read'],
});
const user = await server.core.users.create({ username: 'bench', password: 'bench password, not secret' });

process.on('message', (message: ToServer) => {
  if (message.type === 'approve') {
    server.core.deviceFlow.approve(message.userCode, user.id, ['valuate:read']).then(
      () => send({ type: 'approved', seq: message.seq }),
      (err: unknown) => send({ type: 'approved', seq: message.seq, error: String(err) }),
    );
  } else if (message.type === 'measure') {
    // Started with --expose-gc: collect first, so the figure is what is held, not garbage.
    // A second collection after a pause lets V8 hand freed pages back before the figure is read.
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    setTimeout(() => {
      gc?.();
      const memory = process.memoryUsage();
      send({ type: 'measured', rssBytes: memory.rss, heapUsedBytes: memory.heapUsed });
    }, 1_000);
  } else if (message.type === 'ping') {
    send({ type: 'pong', seq: message.seq });
  }
});
process.on('disconnect', () => {
  server.close().finally(() => process.exit(0));
});
send({ type: 'ready', url: config.publicUrl, clientId: client.id, pid: process.pid });
