/**
 * A round-robin TCP proxy on node:net, the load balancer in front of several `kalm serve`
 * instances in bench/cluster.ts and the cluster crash check. Each new connection goes to the
 * next backend in turn; a backend that refuses (or does not accept within `connectTimeoutMs`)
 * is skipped for that connection and the next one tried, so a killed instance costs only the
 * connections it held. Bytes are relayed untouched: HTTP keep-alive and WebSocket upgrades
 * just work, and the servers see 127.0.0.1 as every client (no X-Forwarded-For at TCP level).
 *
 * It remembers which backend each client connection reached, by the client's port, so a
 * harness can tell a request cut by a kill of its instance from one that failed elsewhere.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface Backend {
  host: string;
  port: number;
}

/** How one backend is written in stats and routes: `host:port`. */
export const backendKey = (b: Backend): string => `${b.host}:${b.port}`;

export interface ProxyStats {
  /** Client connections relayed, per backend (`host:port`), since the start. */
  connections: Record<string, number>;
  /** Connection attempts a backend refused (or let time out) and that went to the next one instead. */
  refused: Record<string, number>;
  /** Client connections no backend would take (closed at once). */
  failed: number;
  /** Client connections open now. */
  open: number;
}

export interface TcpProxy {
  port: number;
  /** `http://127.0.0.1:{port}` */
  url: string;
  /** Replace the set of backends; connections already open stay where they are. */
  setBackends(list: readonly Backend[]): void;
  backends(): Backend[];
  stats(): ProxyStats;
  /**
   * The backend (`host:port`) that the connection from the client's local port `clientPort`
   * reached; remembered after the connection closed until the port is used again (or the
   * last 65,536 connections have pushed it out). Undefined when no backend took it.
   */
  routeOf(clientPort: number): string | undefined;
  /** Stop listening and cut every open connection. */
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  backends: readonly Backend[];
  /** Where the proxy listens; default 127.0.0.1 on a free port. */
  host?: string;
  port?: number;
  /** A backend that has not accepted within this long is skipped like a refused one (default 3 s). */
  connectTimeoutMs?: number;
}

const MAX_ROUTES = 65_536;

export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  let backends: Backend[] = [...options.backends];
  let cursor = 0;
  const connectTimeoutMs = options.connectTimeoutMs ?? 3000;
  const stats: ProxyStats = { connections: {}, refused: {}, failed: 0, open: 0 };
  const routes = new Map<number, string>();
  const open = new Set<Socket>();

  /** Connect to the first backend of `order` that accepts; undefined when none does. */
  function dial(order: Backend[], client: Socket): Promise<{ upstream: Socket; key: string } | undefined> {
    return new Promise((resolve) => {
      const attempt = (i: number) => {
        if (i >= order.length || client.destroyed) return resolve(undefined);
        const backend = order[i]!;
        const key = backendKey(backend);
        const upstream = connect({ host: backend.host, port: backend.port, allowHalfOpen: true });
        const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), connectTimeoutMs);
        const fail = () => {
          clearTimeout(timer);
          upstream.destroy();
          stats.refused[key] = (stats.refused[key] ?? 0) + 1;
          attempt(i + 1);
        };
        upstream.once('error', fail);
        upstream.once('connect', () => {
          clearTimeout(timer);
          upstream.off('error', fail);
          resolve({ upstream, key });
        });
      };
      attempt(0);
    });
  }

  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    open.add(client);
    stats.open++;
    client.once('close', () => {
      open.delete(client);
      stats.open--;
    });
    client.on('error', () => client.destroy());
    const clientPort = client.remotePort!;
    // Start at the next backend in turn, then try the others in order.
    const start = backends.length ? cursor++ % backends.length : 0;
    const order = [...backends.slice(start), ...backends.slice(0, start)];
    void dial(order, client).then((reached) => {
      if (!reached) {
        stats.failed++;
        routes.delete(clientPort);
        client.destroy();
        return;
      }
      const { upstream, key } = reached;
      if (client.destroyed) return void upstream.destroy();
      stats.connections[key] = (stats.connections[key] ?? 0) + 1;
      routes.delete(clientPort);
      routes.set(clientPort, key);
      if (routes.size > MAX_ROUTES) routes.delete(routes.keys().next().value!);
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      // A half-close is passed on (pipe ends the other side's writable); a reset or a dead
      // backend ends both at once.
      upstream.on('error', () => {
        upstream.destroy();
        client.destroy();
      });
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as { port: number };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    setBackends(list) {
      backends = [...list];
    },
    backends: () => [...backends],
    stats: () => ({ connections: { ...stats.connections }, refused: { ...stats.refused }, failed: stats.failed, open: stats.open }),
    routeOf: (clientPort) => routes.get(clientPort),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}
