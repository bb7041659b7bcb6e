// The round-robin TCP proxy of bench/lib/tcp-proxy.ts (the load balancer of the cluster runs),
// with real sockets on 127.0.0.1: the order connections go in, a refused backend skipped, the
// backend set changed under it, a backend dying mid-connection, HTTP and a WebSocket upgrade
// relayed untouched, and the route of each client connection.
import { createServer as createHttpServer, request, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { backendKey, startTcpProxy, type Backend, type TcpProxy } from '../../bench/lib/tcp-proxy.js';
import { freePort } from '../helpers/server.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A TCP server that says its name to each connection, then echoes what it gets. */
async function namedServer(name: string): Promise<{ backend: Backend; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const backend = { host: '127.0.0.1', port: (server.address() as { port: number }).port };
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { backend, server, sockets };
}

async function proxyFor(backends: Backend[]): Promise<TcpProxy> {
  const proxy = await startTcpProxy({ backends });
  closers.push(() => proxy.close());
  return proxy;
}

/** Connect through the proxy and read the first line: the name of the backend reached. */
function greeting(proxy: TcpProxy): Promise<{ name: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(proxy.port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) resolve({ name: text.slice(0, nl), socket });
    });
    socket.once('close', () => reject(new Error(`closed before a greeting (got "${text}")`)));
    socket.once('error', () => {});
    closers.push(async () => void socket.destroy());
  });
}

/** Resolve once `socket` is closed, with whatever it received. */
function closed(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.once('close', () => resolve(text));
  });
}

describe('round-robin TCP proxy', () => {
  it('deals each new connection to the next backend in turn, and counts them per backend', async () => {
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(namedServer));
    const proxy = await proxyFor([a!.backend, b!.backend, c!.backend]);
    const names: string[] = [];
    for (let i = 0; i < 7; i++) names.push((await greeting(proxy)).name);
    expect(names).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
    expect(proxy.stats().connections).toEqual({ [backendKey(a!.backend)]: 3, [backendKey(b!.backend)]: 2, [backendKey(c!.backend)]: 2 });
    expect(proxy.stats().open).toBe(7);
    expect(proxy.stats().failed).toBe(0);
  });

  it('skips a backend that refuses, for that connection, and tries the next one', async () => {
    const [a, c] = await Promise.all(['a', 'c'].map(namedServer));
    const dead = { host: '127.0.0.1', port: await freePort() };
    const proxy = await proxyFor([a!.backend, dead, c!.backend]);
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push((await greeting(proxy)).name);
    // The second connection's turn is the dead one: it goes to c, as does the third (c's own turn).
    expect(names).toEqual(['a', 'c', 'c', 'a', 'c', 'c']);
    expect(proxy.stats().refused).toEqual({ [backendKey(dead)]: 2 });
    expect(proxy.stats().connections).toEqual({ [backendKey(a!.backend)]: 2, [backendKey(c!.backend)]: 4 });
  });

  it('closes the client connection when no backend accepts it', async () => {
    const proxy = await proxyFor([{ host: '127.0.0.1', port: await freePort() }, { host: '127.0.0.1', port: await freePort() }]);
    const socket = connect(proxy.port, '127.0.0.1');
    socket.on('error', () => {});
    expect(await closed(socket)).toBe('');
    expect(proxy.stats().failed).toBe(1);
    expect(Object.values(proxy.stats().refused).reduce((x, y) => x + y, 0)).toBe(2);
  });

  it('sends new connections to the new set after setBackends and leaves the open ones where they are', async () => {
    const [a, b] = await Promise.all(['a', 'b'].map(namedServer));
    const proxy = await proxyFor([a!.backend]);
    const first = await greeting(proxy);
    expect(first.name).toBe('a');
    proxy.setBackends([b!.backend]);
    expect(proxy.backends()).toEqual([b!.backend]);
    expect((await greeting(proxy)).name).toBe('b');
    expect((await greeting(proxy)).name).toBe('b');
    // The connection opened before the change still reaches a.
    const echoed = new Promise<string>((resolve) => first.socket.on('data', (chunk: Buffer) => resolve(chunk.toString())));
    first.socket.write('still here');
    expect(await echoed).toBe('still here');
    expect(a!.sockets.size).toBe(1);
  });

  it('relays bytes the client sent before the backend accepted, in order', async () => {
    const a = await namedServer('a');
    const proxy = await proxyFor([a.backend]);
    const socket = connect(proxy.port, '127.0.0.1');
    closers.push(async () => void socket.destroy());
    const body = Array.from({ length: 2000 }, (_, i) => `line ${i}\n`).join('');
    socket.write(body);
    const text = await new Promise<string>((resolve) => {
      let got = '';
      socket.on('data', (chunk: Buffer) => {
        got += chunk.toString();
        if (got.length >= 2 + body.length) resolve(got);
      });
    });
    expect(text).toBe(`a\n${body}`);
  });

  it('cuts the client connection when its backend dies, and the next connection goes elsewhere', async () => {
    const [a, b] = await Promise.all(['a', 'b'].map(namedServer));
    const proxy = await proxyFor([a!.backend, b!.backend]);
    const onA = await greeting(proxy);
    expect(onA.name).toBe('a');
    const cut = closed(onA.socket);
    // The instance dies: its listening socket and every connection it held go at once.
    a!.server.close();
    for (const s of a!.sockets) s.destroy();
    await cut;
    expect(onA.socket.destroyed).toBe(true);
    expect((await greeting(proxy)).name).toBe('b');
    expect((await greeting(proxy)).name).toBe('b');
    expect(proxy.stats().refused).toEqual({ [backendKey(a!.backend)]: 1 });
  });

  it('passes a half-close on, so an answer written after the client finished sending still arrives', async () => {
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      let got = '';
      socket.on('data', (chunk: Buffer) => (got += chunk.toString()));
      socket.on('end', () => socket.end(`you said ${got}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const proxy = await proxyFor([{ host: '127.0.0.1', port: (server.address() as { port: number }).port }]);
    const socket = connect({ port: proxy.port, host: '127.0.0.1', allowHalfOpen: true });
    socket.end('hello');
    expect(await closed(socket)).toBe('you said hello');
  });

  it('relays HTTP keep-alive and a WebSocket upgrade untouched, and names the backend of each client port', async () => {
    const servers: HttpServer[] = [];
    const backends: Backend[] = [];
    for (const name of ['one', 'two']) {
      const http = createHttpServer((req, res) => res.end(`${name} ${req.method} ${req.url}`));
      const wss = new WebSocketServer({ server: http });
      wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`${name} heard ${String(data)}`)));
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      servers.push(http);
      backends.push({ host: '127.0.0.1', port: (http.address() as { port: number }).port });
      closers.push(async () => {
        for (const c of wss.clients) c.terminate();
        await new Promise<void>((resolve) => http.close(() => resolve()));
        http.closeAllConnections();
      });
    }
    const proxy = await proxyFor(backends);

    // Two requests on one kept-alive connection reach the same backend.
    const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 });
    closers.push(async () => agent.destroy());
    const get = (p: string) =>
      new Promise<{ body: string; localPort: number }>((resolve, reject) => {
        const req = request(`${proxy.url}${p}`, { agent }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ body, localPort: req.socket!.localPort! }));
        });
        req.on('error', reject);
        req.end();
      });
    const first = await get('/x');
    const second = await get('/y');
    expect(first.body).toBe('one GET /x');
    expect(second.body).toBe('one GET /y');
    expect(second.localPort).toBe(first.localPort);
    expect(proxy.routeOf(first.localPort)).toBe(backendKey(backends[0]!));

    // The next connection is a WebSocket: it reaches the second backend and talks both ways.
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/push`);
    closers.push(async () => ws.terminate());
    const localPort = await new Promise<number>((resolve, reject) => {
      ws.once('upgrade', (res) => resolve(res.socket.localPort!));
      ws.once('error', reject);
    });
    await new Promise<void>((resolve) => (ws.readyState === WebSocket.OPEN ? resolve() : ws.once('open', () => resolve())));
    const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
    ws.send('subscribe');
    expect(await reply).toBe('two heard subscribe');
    expect(proxy.routeOf(localPort)).toBe(backendKey(backends[1]!));
    expect(proxy.routeOf(1)).toBeUndefined();
  });

  it('close() stops listening and cuts the open connections', async () => {
    const a = await namedServer('a');
    const proxy = await startTcpProxy({ backends: [a.backend] });
    const { socket } = await greeting(proxy);
    const cut = closed(socket);
    await proxy.close();
    await cut;
    const refused = await new Promise<string>((resolve) => {
      const probe = connect(proxy.port, '127.0.0.1');
      probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      probe.once('connect', () => {
        probe.destroy();
        resolve('connected');
      });
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});
