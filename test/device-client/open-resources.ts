/**
 * What the device client has left open in this process, seen through async_hooks: every TCP
 * handle and every timer created while tracking is on. `process.getActiveResourcesInfo()`
 * alone misses what matters here: it lists only handles that keep the event loop alive, and
 * fetch's idle keep-alive sockets are unref'd (open to the server, yet not listed). Not a test file.
 */
import { createHook } from 'node:async_hooks';

/** The TCP handle's own accessor (the resource async_hooks reports for TCPWRAP). */
interface TcpHandle {
  getpeername?(out: { port?: number }): number;
}
/** A Node `Timeout` as async_hooks reports it. */
interface TimeoutResource {
  _destroyed?: boolean;
  hasRef?(): boolean;
}

export interface OpenResources {
  /** Sockets of this process connected to `port` and not closed yet (the peer's side does not count). */
  socketsTo(port: number): number;
  /** Pending timers created by device-client/src code (directly, or by ws/undici on its behalf), with where each was set. */
  libraryTimers(): string[];
  stop(): void;
}

/** Start tracking: resources created from now on are watched until destroyed. */
export function trackOpenResources(): OpenResources {
  const tcp = new Map<number, TcpHandle>();
  const timers = new Map<number, { timer: TimeoutResource; stack: string }>();
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (type === 'TCPWRAP') tcp.set(id, resource as TcpHandle);
      if (type !== 'Timeout') return;
      // Deep enough to reach the library frame below Node's and ws's own.
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      if (stack.includes('/device-client/src/')) timers.set(id, { timer: resource as TimeoutResource, stack });
    },
    destroy(id) {
      tcp.delete(id);
      timers.delete(id);
    },
  });
  hook.enable();
  return {
    socketsTo(port) {
      let open = 0;
      for (const handle of tcp.values()) {
        const peer: { port?: number } = {};
        // A closed handle has no descriptor: getpeername fails.
        if (handle.getpeername?.(peer) === 0 && peer.port === port) open++;
      }
      return open;
    },
    libraryTimers() {
      return [...timers.values()].filter(({ timer }) => !timer._destroyed).map(({ stack }) => stack.split('\n').find((l) => l.includes('/device-client/src/'))!.trim());
    },
    stop: () => hook.disable(),
  };
}
